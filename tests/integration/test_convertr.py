"""The Convertr dialect over real HTTP, as its documents describe it (Convertr publishes no SDK):
anonymous conversion by client label within limits that hold across processes, client
registration with a real password hash, the pair rollups, and the raw label kept nowhere."""

from __future__ import annotations

import hashlib
import hmac
from concurrent.futures import ProcessPoolExecutor

import httpx
import pytest
from redis import Redis

from fixtures.generate import PAGES
from tests.helpers import API_KEY, SECRET, start_redis, start_server

LABEL = "Acme   Mobile PRODUCTION"  # headers carry no leading or trailing spaces
PER_MINUTE, PER_DAY = 2, 8


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A server with anonymous access and registration on, and its own Redis."""
    work = tmp_path_factory.mktemp("convertr")
    redis_process, redis_url = start_redis(work)
    server = start_server(
        work,
        LECTOR_REDIS_URL=redis_url,
        LECTOR_SECRET=SECRET,
        LECTOR_ANONYMOUS="on",
        LECTOR_REGISTRATION="on",
        LECTOR_ANONYMOUS_PER_MINUTE=str(PER_MINUTE),
        LECTOR_ANONYMOUS_PER_DAY=str(PER_DAY),
    )
    yield server, redis_url
    server.stop()
    redis_process.terminate()


def cohort(label: str) -> str:
    normalized = " ".join(label.split()).lower()[:80]
    return "cohort_" + hmac.new(SECRET.encode(), normalized.encode(), hashlib.sha256).hexdigest()[:16]


def convert(
    url: str, data: bytes, label: str | None = None, key: str | None = None, **form: str
) -> httpx.Response:
    headers = {"X-Convertr-Client-Label": label} if label is not None else {}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    fields = {"input_format": "png", "output_format": "jpg", **form}
    return httpx.post(
        f"{url}/convertr/api/convert", data=fields, files={"file": ("a.png", data)}, headers=headers
    )


def _anonymous(args: tuple[str, bytes, str]) -> int:
    url, data, label = args
    return convert(url, data, label).status_code


@pytest.fixture(scope="module")
def registered(stack) -> dict:
    """One registration (it counts as one anonymous request of the day)."""
    server, _ = stack
    made = httpx.post(
        f"{server.url}/convertr/api/client-registrations",
        data={**REGISTRATION, "password_confirmation": REGISTRATION["password"]},
        headers={"X-Convertr-Client-Label": LABEL, "Accept": "application/json"},
    )
    assert made.status_code == 201, made.text
    return made.json()


REGISTRATION = {"name": "Acme Mobile", "email": "dev@acme.example", "password": "correct horse battery"}


def test_registration_gives_a_key_bound_to_the_cohort_and_hashes_the_password(stack, registered, docs):
    server, redis_url = stack
    assert registered["user"]["anonymous_api_client_cohort"] == cohort(LABEL)
    assert registered["token"]["type"] == "Bearer" and registered["anonymous_access"]["available"] is True
    token = registered["token"]["plain_text_token"]
    keyed = convert(server.url, docs["page.png"].read_bytes(), key=token)  # the key has no minute limit
    assert keyed.status_code == 200
    account = httpx.get(f"{server.url}/api/account", headers={"Authorization": f"Bearer {token}"}).json()
    assert account["name"] == "Acme Mobile"

    taken = httpx.post(
        f"{server.url}/convertr/api/client-registrations",
        json={
            **REGISTRATION,
            "email": "DEV@acme.example ",
            "password_confirmation": REGISTRATION["password"],
        },
    )
    assert taken.status_code == 422 and taken.json()["errors"] == {
        "email": ["The email has already been taken."]
    }
    differs = httpx.post(
        f"{server.url}/convertr/api/client-registrations",
        data={**REGISTRATION, "email": "other@acme.example", "password_confirmation": "something else"},
    )
    assert differs.status_code == 422 and "password" in differs.json()["errors"]

    redis = Redis.from_url(redis_url)
    (key,) = redis.keys("lector:registration:*")
    stored = redis.get(key).decode()
    assert '"password_hash":"$argon2id$' in stored and REGISTRATION["password"] not in stored


def test_anonymous_conversion_within_limits_that_hold_across_processes(stack, registered, docs):
    server, _ = stack
    png = docs["page.png"].read_bytes()
    first = convert(server.url, png, LABEL)
    assert first.status_code == 200 and first.content[:3] == b"\xff\xd8\xff"
    assert convert(server.url, png, LABEL).status_code == 200
    over = convert(server.url, png, LABEL)  # the third of the minute for this label
    assert over.status_code == 429 and over.json()["limitType"] == "minute"
    assert int(over.headers["Retry-After"]) >= 1
    # Eight labels at once from four processes: of the day, one registration and two
    # conversions are spent, so PER_DAY - 3 succeed.
    with ProcessPoolExecutor(4) as pool:
        codes = list(pool.map(_anonymous, [(server.url, png, f"client {index}") for index in range(8)]))
    assert sorted(codes) == [200] * (PER_DAY - 3) + [429] * (8 - PER_DAY + 3)
    refused = convert(server.url, png, "yet another client")
    assert refused.status_code == 429 and "anonymous requests per day" in refused.json()["message"]
    late = httpx.post(
        f"{server.url}/convertr/api/client-registrations",
        data={
            **REGISTRATION,
            "email": "late@acme.example",
            "password_confirmation": REGISTRATION["password"],
        },
    )
    assert late.status_code == 429  # registrations count against the same day


def test_the_raw_label_is_kept_nowhere(stack, docs):
    server, redis_url = stack
    convert(server.url, docs["page.png"].read_bytes(), LABEL)
    redis = Redis.from_url(redis_url)
    needles = [LABEL.encode().lower(), b"acme mobile production"]
    for key in redis.scan_iter("*"):
        kind = redis.type(key).decode()
        values: list[bytes] = [key]
        if kind == "string":
            values.append(redis.get(key) or b"")
        elif kind == "hash":
            values.extend(part for pair in redis.hgetall(key).items() for part in pair)
        elif kind == "set":
            values.extend(redis.smembers(key))
        elif kind == "zset":
            values.extend(redis.zrange(key, 0, -1))
        for value in values:
            assert not any(needle in value.lower() for needle in needles), (key, value)
    logs = server.logs().lower()
    assert "acme mobile production" not in logs and "acme   mobile" not in logs


def test_pair_rollups(stack, registered, docs):
    server, _ = stack
    token = registered["token"]["plain_text_token"]
    broken = convert(server.url, docs["truncated.png"].read_bytes(), key=token)
    assert broken.status_code == 422
    report = httpx.get(
        f"{server.url}/convertr/api/stats/pairs",
        params={"days": 14},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    (png_jpg,) = [rollup for rollup in report["pairs"] if rollup["pair"] == "PNG -> JPG"]
    # The keyed one, and the anonymous ones the day let through (one registration took one).
    succeeded = 1 + (PER_DAY - 1)
    assert png_jpg["requests"] == succeeded + 1
    assert png_jpg["error_rate"] == pytest.approx(1 / (succeeded + 1), abs=1e-4)
    assert png_jpg["success_rate"] + png_jpg["error_rate"] == pytest.approx(1)
    assert png_jpg["average_runtime_ms"] > 0 and png_jpg["window_days"] == 1
    assert report["totals"]["most_used_pair"] == "PNG -> JPG"
    assert report["totals"]["cohorts"] == 1 + (PER_DAY - 3)  # the label's, and each client's that passed
    assert httpx.get(f"{server.url}/convertr/api/stats/pairs", params={"days": 0}).status_code == 422


def test_without_anonymous_access_a_key_is_needed(server, docs):
    refused = convert(server.url, docs["page.png"].read_bytes(), LABEL)
    assert refused.status_code == 401
    closed = httpx.post(f"{server.url}/convertr/api/client-registrations", data={"name": "x"})
    assert closed.status_code == 404


def test_output_format_text_is_txt_for_images_and_pdfs(server, docs):
    for fixture, source in (("page.png", "png"), ("text-layer.pdf", "pdf")):
        converted = httpx.post(
            f"{server.url}/convertr/api/convert",
            data={"input_format": source, "output_format": "text"},
            files={"file": (fixture, docs[fixture].read_bytes())},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=60,
        )
        assert converted.status_code == 200, converted.text
        assert converted.headers["content-type"].startswith("text/plain")
        assert PAGES[0][0] in converted.text
