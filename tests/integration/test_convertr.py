"""The Convertr dialect over real HTTP, as its documents describe it (Convertr publishes no SDK):
anonymous conversion by client label within limits that hold across processes, client
registration with a real password hash, the pair rollups, and the raw label kept nowhere."""

from __future__ import annotations

import hashlib
import hmac
import select
import socket
import struct
import zlib
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
        LECTOR_ANONYMOUS_MAX_UPLOAD_MB="1024",
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
    assert registered["token"]["type"] == "Bearer"
    assert registered["anonymous_access"] == {"available": True, "upload_limit": "1 GB"}
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


def padded_png(png: bytes, size: int) -> bytes:
    """``png`` grown to exactly ``size`` bytes by a private ancillary chunk before IEND."""
    filler = size - len(png) - 12
    data = b"\0" * filler
    chunk = struct.pack(">I", filler) + b"prVt" + data + struct.pack(">I", zlib.crc32(b"prVt" + data))
    end = png.rindex(b"IEND") - 4
    return png[:end] + chunk + png[end:]


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory):
    """A server whose anonymous uploads may be larger than keyed ones: 3 MB against 1 MB."""
    work = tmp_path_factory.mktemp("convertr-limits")
    redis_process, redis_url = start_redis(work)
    server = start_server(
        work,
        LECTOR_REDIS_URL=redis_url,
        LECTOR_SECRET=SECRET,
        LECTOR_ANONYMOUS="on",
        LECTOR_REGISTRATION="on",
        LECTOR_MAX_UPLOAD_MB="1",
        LECTOR_ANONYMOUS_MAX_UPLOAD_MB="3",
    )
    yield server
    server.stop()
    redis_process.terminate()


def test_the_anonymous_upload_limit_is_its_own_and_exact(small_limits, docs):
    url, limit = small_limits.url, 3 * 1024 * 1024
    png = docs["page.png"].read_bytes()
    registered = httpx.post(
        f"{url}/convertr/api/client-registrations",
        data={**REGISTRATION, "password_confirmation": REGISTRATION["password"]},
    ).json()
    assert registered["anonymous_access"] == {"available": True, "upload_limit": "3 MB"}

    at_limit = convert(url, padded_png(png, limit), "big uploads")
    assert at_limit.status_code == 200 and at_limit.content[:3] == b"\xff\xd8\xff"
    past = convert(url, padded_png(png, limit + 1), "big uploads")
    assert past.status_code == 413
    assert past.json()["message"] == "The document is 3145729 bytes, 1 over; the limit is 3 MB."
    keyed = convert(url, padded_png(png, 1024 * 1024 + 1), key=API_KEY)  # a key keeps LECTOR_MAX_UPLOAD_MB
    assert keyed.status_code == 413 and keyed.json()["message"].endswith("1 over; the limit is 1 MB.")
    # A body far past the limit is refused from its Content-Length, before it is read.
    huge = convert(url, padded_png(png, 2 * limit), "big uploads")
    assert huge.status_code == 413
    assert huge.json()["message"] == "The request body is too large; documents may be at most 3 MB here."


def test_a_chunked_body_is_cut_off_once_it_passes_the_limit(small_limits, docs):
    """Without a Content-Length the body is counted as it arrives and refused once past the
    limit and a megabyte for the form's other parts: the answer comes while the client is
    still sending, not after 64 MB."""
    boundary = "lector-boundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=input_format\r\n\r\npng\r\n"
        f"--{boundary}\r\nContent-Disposition: form-data; name=output_format\r\n\r\njpg\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name=file; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode() + docs["page.png"].read_bytes()
    address = httpx.URL(small_limits.url)
    with socket.create_connection((address.host, address.port), timeout=30) as connection:
        connection.sendall(
            b"POST /convertr/api/convert HTTP/1.1\r\nHost: lector\r\nTransfer-Encoding: chunked\r\n"
            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n".encode()
        )
        megabytes = 0
        answered: list[object] = []
        while megabytes < 64 and not answered:
            part = head if megabytes == 0 else b"\0" * (1024 * 1024)
            connection.sendall(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            megabytes += 1
            answered, _, _ = select.select([connection], [], [], 0.05)
        answer = connection.recv(65536)
        while b"}" not in answer and (more := connection.recv(65536)):
            answer += more
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"The request body is too large; documents may be at most 3 MB here." in answer
    assert megabytes < 16
