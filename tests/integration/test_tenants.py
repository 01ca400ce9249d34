"""Managed keys, limits and usage, through two real API processes on one real Redis.

No worker runs here: submissions stay queued, which is all a charge needs. Refunds and the
token budget, which need jobs to end, are in ``test_tenant_billing.py``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from redis import Redis

from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    OTHER_KEY,
    ROOT,
    clean_env,
    start_redis,
    start_server,
    stop_process,
)

KEY_SHAPE = re.compile(r"^lec_[a-z0-9]{12}_[0-9A-Za-z]{28}$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A Redis and two API processes sharing it."""
    work = tmp_path_factory.mktemp("tenants")
    redis_process, redis_url = start_redis(work)
    servers = [start_server(work, LECTOR_REDIS_URL=redis_url, LECTOR_ADMIN_KEY=ADMIN_KEY) for _ in range(2)]
    yield redis_url, servers
    for server in servers:
        server.stop()
    stop_process(redis_process)


@pytest.fixture(scope="module")
def redis(stack):
    client = Redis.from_url(stack[0])
    yield client
    client.close()


@pytest.fixture(scope="module")
def admin(stack):
    with httpx.Client(base_url=stack[1][0].url, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as client:
        yield client


def lector_keys(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``lector keys ...`` as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "keys", *args],
        env=clean_env(LECTOR_REDIS_URL=redis_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def new_key(admin: httpx.Client, **spec) -> tuple[str, str]:
    """A managed key made through the admin API: (key, key id)."""
    response = admin.post("/admin/keys", json={"name": "test", **spec})
    assert response.status_code == 201, response.text
    return response.json()["key"], response.json()["key_id"]


def as_key(server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)


def tiny_document(docs) -> dict:
    return {
        "image_base64": base64.b64encode(docs["page.png"].read_bytes()).decode(),
        "document_type_code": "text",
    }


def test_the_cli_prints_a_key_once_and_stores_only_its_hash(stack, redis):
    redis_url, _ = stack
    made = lector_keys(redis_url, "create", "--name", "acme", "--quota", "5", "--types", "receipt,text")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert KEY_SHAPE.match(key), key
    key_id = key.split("_")[1]
    assert key_id in made.stderr and key not in made.stderr
    stored = b"".join(
        value
        for name in redis.keys("lector:*")
        if redis.type(name) == b"string"
        for value in [redis.get(name) or b""]
    )
    assert key.encode() not in stored and key.split("_")[2].encode() not in stored
    record = json.loads(redis.get(f"lector:key:{key_id}"))
    assert record["secrets"][0]["hash"] == hashlib.sha256(key.encode()).hexdigest()

    listed = lector_keys(redis_url, "list")
    assert listed.returncode == 0 and key not in listed.stdout
    shown = json.loads(lector_keys(redis_url, "show", key_id).stdout)
    assert (shown["name"], shown["quota"], shown["quota_remaining"], shown["types"]) == (
        "acme",
        5,
        5,
        ["receipt", "text"],
    )
    assert "key" not in shown
    updated = lector_keys(redis_url, "update", key_id, "--quota", "7", "--per-minute", "30")
    assert json.loads(updated.stdout)["quota_remaining"] == 7, updated.stderr

    refused = lector_keys(redis_url, "create", "--name", "x", "--types", "bogus")
    assert refused.returncode == 1
    assert "Unknown document type 'bogus' in types" in refused.stderr
    bad_pair = lector_keys(redis_url, "create", "--name", "x", "--pairs", "png")
    assert bad_pair.returncode == 1 and "`pairs`: write each pair as two format names" in bad_pair.stderr
    missing = lector_keys(redis_url, "show", "abcdefabcdef")
    assert (missing.returncode, missing.stderr.splitlines()[-1]) == (
        1,
        "lector: No API key with id 'abcdefabcdef'.",
    )


def test_a_mistyped_key_is_refused_and_a_missing_one_named(stack, admin):
    key, _ = new_key(admin)
    server = stack[1][0]
    typo = key[:-1] + ("a" if key[-1] != "a" else "b")
    for presented, message in [
        (typo, "The API key is not valid."),
        (key[:20], "The API key is not valid."),
        ("lec_" + "x" * 40, "The API key is not valid."),
    ]:
        with as_key(server, presented) as client:
            response = client.get("/api/account")
        assert (response.status_code, response.json()["message"]) == (401, message)
    assert "ratelimit" not in response.headers


def test_revocation_holds_on_every_api_process_within_a_second(stack, admin):
    redis_url, servers = stack
    key, key_id = new_key(admin)
    clients = [as_key(server, key) for server in servers]
    assert [client.get("/api/account").status_code for client in clients] == [200, 200]
    assert lector_keys(redis_url, "revoke", key_id).returncode == 0
    revoked_at = time.monotonic()
    for client in clients:
        while (response := client.get("/api/account")).status_code == 200:
            assert time.monotonic() - revoked_at < 1, "a revoked key still worked after a second"
        assert (response.status_code, response.json()["message"]) == (401, "API key revoked.")
        client.close()
    shown = admin.get(f"/admin/keys/{key_id}").json()
    assert shown["state"] == "revoked" and shown["revoked_at"]


def test_an_expired_key_is_refused(stack, admin):
    key, _ = new_key(admin, expires_days=0)
    with as_key(stack[1][1], key) as client:
        response = client.get("/api/account")
    assert (response.status_code, response.json()["message"]) == (401, "API key expired.")
    later, _ = new_key(admin, expires_days=180)
    with as_key(stack[1][1], later) as client:
        expires = datetime.fromisoformat(client.get("/api/account").json()["expires_at"])
    assert abs((expires - datetime.now(UTC)).total_seconds() - 180 * 86400) < 60


def test_rotation_keeps_the_id_and_gives_the_old_key_its_grace(stack, admin):
    first, key_id = new_key(admin, quota=4)
    server = stack[1][0]
    rotated = admin.post(f"/admin/keys/{key_id}/rotate", params={"grace": "1h"}).json()
    second = rotated["key"]
    assert second != first and rotated["key_id"] == key_id and rotated["previous_key_expires_at"]
    for key in (first, second):  # within the grace, both work, on the same account
        with as_key(server, key) as client:
            assert client.get("/api/account").json()["key_id"] == key_id
    third = admin.post(f"/admin/keys/{key_id}/rotate", params={"grace": "0"}).json()["key"]
    refusals = {}
    for key in (first, second, third):
        with as_key(server, key) as client:
            response = client.get("/api/account")
            refusals[key] = (response.status_code, response.json().get("message"))
    # the one-active-token rule: the second key ended at once; the first, two rotations old, is gone
    assert refusals[second] == (401, "API key expired.")
    assert refusals[first] == (401, "The API key is not valid.")
    assert refusals[third][0] == 200
    bad = admin.post(f"/admin/keys/{key_id}/rotate", params={"grace": "forever"})
    assert (bad.status_code, bad.json()["message"]) == (
        422,
        "The grace must be a duration such as 0, 90s, 30m, 24h or 7d, at most 90 days.",
    )


def test_the_quota_holds_under_a_hundred_concurrent_requests_through_two_processes(stack, admin, redis, docs):
    key, key_id = new_key(admin, quota=10)
    servers = stack[1]
    body = tiny_document(docs)
    clients = [as_key(server, key) for server in servers]

    def submit(index: int) -> httpx.Response:
        return clients[index % 2].post("/api/convert-async", json=body)

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(submit, range(100)))
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(202) == 10 and statuses.count(429) == 90, statuses
    refusal = next(answer for answer in answers if answer.status_code == 429)
    assert refusal.json() == {
        "success": False,
        "message": "Quota exhausted: this API key has no documents left.",
        "error": "Quota exceeded",
        "limitType": "quota",
        "limit": 10,
        "remaining": 0,
        "resetTime": None,
        "retryAfter": None,
    }
    assert "retry-after" not in refusal.headers  # waiting will not refill a quota
    account = clients[0].get("/api/account").json()
    assert (account["quota"], account["quota_remaining"]) == (10, 0)
    assert (account["today"]["requests"], account["today"]["documents"]) == (10, 10)
    assert int(redis.get(f"lector:quota:{key_id}")) == 0
    for client in clients:
        client.close()


def wait_for_a_fresh_minute() -> None:
    """Leave room for a test to finish inside one fixed minute window."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.1)


def test_the_per_minute_limit_answers_429_with_retry_after_and_ratelimit_headers(stack, admin, docs):
    key, _ = new_key(admin, per_minute=3, per_day=100)
    wait_for_a_fresh_minute()
    servers = stack[1]
    body = tiny_document(docs)
    answers = []
    for index in range(4):
        with as_key(servers[index % 2], key) as client:
            answers.append(client.post("/api/convert-async", json=body))
    assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
    policy = '"minute";q=3;w=60, "day";q=100;w=86400'
    assert all(answer.headers["ratelimit-policy"] == policy for answer in answers)
    remaining = [re.findall(r'"(\w+)";r=(\d+);t=(\d+)', a.headers["ratelimit"]) for a in answers]
    assert [[(name, int(r)) for name, r, _ in each] for each in remaining] == [
        [("minute", 2), ("day", 99)],
        [("minute", 1), ("day", 98)],
        [("minute", 0), ("day", 97)],
        [("minute", 0), ("day", 97)],
    ]
    refusal = answers[3]
    body = refusal.json()
    now = time.time()
    assert body["message"] == "Rate limit exceeded: 3 requests per minute."
    assert (body["success"], body["error"], body["limitType"], body["limit"], body["remaining"]) == (
        False,
        "Rate limit exceeded",
        "minute",
        3,
        0,
    )
    assert body["resetTime"] % 60 == 0 and 0 < body["resetTime"] - now <= 61
    assert int(refusal.headers["retry-after"]) == body["retryAfter"]
    assert 1 <= body["retryAfter"] <= 60
    assert 0 <= int(remaining[3][0][2]) <= 60  # the minute window's t


def test_the_per_day_limit_names_the_day(stack, admin, docs):
    key, _ = new_key(admin, per_day=2)
    body = tiny_document(docs)
    with as_key(stack[1][1], key) as client:
        answers = [client.post("/api/convert-async", json=body) for _ in range(3)]
        reads = client.get("/api/account")  # reading the account is not charged
    assert [answer.status_code for answer in answers] == [202, 202, 429]
    refused = answers[2].json()
    assert (refused["limitType"], refused["message"]) == ("day", "Rate limit exceeded: 2 requests per day.")
    assert refused["resetTime"] % 86400 == 0 and 0 < refused["retryAfter"] <= 86400
    assert answers[2].headers["retry-after"] == str(refused["retryAfter"])
    assert reads.status_code == 200 and reads.headers["ratelimit"].startswith('"day";r=0;t=')


def test_a_batch_costs_its_items_and_is_refused_whole(stack, admin, docs):
    key, _ = new_key(admin, quota=3)
    item = {"image_base64": base64.b64encode(docs["page.png"].read_bytes()).decode(), "filename": "p.png"}
    with as_key(stack[1][0], key) as client:
        refused = client.post("/api/batches/", json={"document_type_code": "text", "items": [item] * 4})
        assert refused.status_code == 429
        assert refused.json()["message"] == (
            "Quota exceeded: the request needs 4 documents and this API key has 3 left."
        )
        assert (refused.json()["limitType"], refused.json()["remaining"]) == ("quota", 3)
        assert client.get("/api/account").json()["quota_remaining"] == 3
        accepted = client.post("/api/batches/", json={"document_type_code": "text", "items": [item] * 3})
        assert accepted.status_code == 202, accepted.text
        account = client.get("/api/account").json()
    assert (account["quota_remaining"], account["today"]["requests"], account["today"]["documents"]) == (
        0,
        1,
        3,
    )


def test_a_repeated_idempotency_key_is_charged_once_and_refusals_before_queueing_are_free(stack, admin, docs):
    key, _ = new_key(admin, quota=5)
    body = tiny_document(docs)
    with as_key(stack[1][0], key) as client:
        headers = {"Idempotency-Key": "order-42"}
        first = client.post("/api/convert-async", json=body, headers=headers).json()
        again = client.post("/api/convert-async", json=body, headers=headers).json()
        assert first["conversion_id"] == again["conversion_id"]
        other_body = client.post("/api/convert-async", json={**body, "lang": "eng"}, headers=headers)
        private_url = client.post(
            "/api/convert-async", json={"image_url": "http://127.0.0.1:1/a.png", "document_type_code": "text"}
        )
        account = client.get("/api/account").json()
    assert (other_body.status_code, private_url.status_code) == (422, 400)
    assert account["quota_remaining"] == 4
    # Every request taken in counts in the rate windows; one refused before its charge (a URL
    # that cannot be fetched, an option the worker would refuse) takes nothing.
    assert account["today"]["requests"] == 3


def test_scopes_refuse_other_document_types_and_list_only_the_keys_own(stack, admin, docs):
    key, _ = new_key(admin, types=["receipt"])
    body = {**tiny_document(docs), "document_type_code": "invoice"}
    with as_key(stack[1][0], key) as client:
        refused = client.post("/api/convert-async", json=body)
        sync = client.post("/api/ocr/extract-text", json={"image": body["image_base64"]})
        listed = client.get("/api/document-types").json()
        account = client.get("/api/account").json()
    assert (refused.status_code, refused.json()) == (
        403,
        {"success": False, "message": "This API key is not authorized for invoice documents."},
    )
    assert (sync.status_code, sync.json()["message"]) == (
        403,
        "This API key is not authorized for text documents.",
    )
    assert [kind["codeType"] for kind in listed["data"]] == ["receipt"]
    assert account["today"]["requests"] == 0  # a refused scope takes nothing


def test_auto_identifies_only_among_the_types_of_the_key(stack, admin, docs):
    body = {
        "image": base64.b64encode(docs["receipt.png"].read_bytes()).decode(),
        "document_type_code": "auto",
    }
    answers = []
    for server, types in ((stack[1][0], ["text", "auto"]), (stack[1][1], ["*"]), (stack[1][0], ["receipt"])):
        key, _ = new_key(admin, types=types)
        with as_key(server, key) as client:
            answers.append(client.post("/api/ocr/extract-text", json=body))
            if types[0] == "text":  # a file conversion to JSON identifies within the scope too
                converted = client.post("/api/convert-file", json={**body, "target_format": "json"})
    narrow, wide, refused = answers
    assert (narrow.status_code, narrow.json()["data"]["document_type"]) == (200, "text")
    assert (converted.status_code, converted.json()["document_type"]) == (200, "text")
    assert (wide.status_code, wide.json()["data"]["document_type"]) == (200, "receipt")
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "This API key is not authorized for auto documents.",
    )


def test_static_keys_keep_working_without_limits(stack):
    with httpx.Client(base_url=stack[1][0].url, headers={"X-API-Key": API_KEY}) as client:
        response = client.get("/api/account")
    assert response.status_code == 200
    assert "ratelimit" not in response.headers and "ratelimit-policy" not in response.headers
    account = response.json()
    assert (account["name"], account["quota"]) == ("static key", -1)


def test_a_static_key_has_a_stable_hashed_id_that_its_usage_is_booked_under(stack, admin, docs):
    ids = []
    for server, key in ((stack[1][0], API_KEY), (stack[1][1], API_KEY), (stack[1][0], OTHER_KEY)):
        with httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60) as client:
            if key == OTHER_KEY:
                assert client.post("/api/convert-async", json=tiny_document(docs)).status_code == 202
                today = client.get("/api/usage").json()["days"][-1]
            ids.append(client.get("/api/account").json()["key_id"])
    same, on_the_other_process, other = ids
    assert re.fullmatch(r"[0-9a-f]{16}", same) and same == on_the_other_process and other != same
    assert API_KEY not in same and today["key_id"] == other and today["requests"] >= 1
    booked = admin.get("/admin/usage").json()["days"]
    assert any(row["key_id"] == other and row["requests"] >= 1 for row in booked)


def test_the_admin_routes_take_only_the_admin_key(stack, admin):
    server = stack[1][0]
    key, key_id = new_key(admin, quota=2)
    cases = [
        ({}, 401, "Missing API key"),
        ({"X-API-Key": "wrong-wrong-wrong"}, 401, "The API key is not valid."),
        ({"X-API-Key": API_KEY}, 403, "This route needs the admin key (LECTOR_ADMIN_KEY)."),
        ({"X-API-Key": key}, 403, "This route needs the admin key (LECTOR_ADMIN_KEY)."),
    ]
    for headers, status, message in cases:
        response = httpx.get(f"{server.url}/admin/keys", headers=headers)
        assert response.status_code == status and response.json()["message"].startswith(message)

    listed = admin.get("/admin/keys").json()["keys"]
    assert key_id in [entry["key_id"] for entry in listed] and key not in json.dumps(listed)
    changed = admin.patch(f"/admin/keys/{key_id}", json={"quota": 9, "per_day": 50, "name": "renamed"})
    assert changed.status_code == 200
    assert (changed.json()["quota_remaining"], changed.json()["per_day"], changed.json()["name"]) == (
        9,
        50,
        "renamed",
    )
    for body, message in [
        ({"quota": "many"}, "Invalid field `quota`: expected `int`, got `str`."),
        ({"colour": "red"}, "Unknown field `colour`; see /schema for the accepted fields."),
        ({"quota": -2}, "Invalid field `quota`: expected `int` >= -1."),
        ({"types": ["passport"]}, "Unknown document type 'passport' in types; choose from:"),
    ]:
        refused = admin.patch(f"/admin/keys/{key_id}", json=body)
        assert refused.status_code == 422 and refused.json()["message"].startswith(message), refused.text
    assert admin.get("/admin/keys/zzzzzzzzzzzz").status_code == 404
    assert admin.post(f"/admin/keys/{key_id}/revoke").json()["state"] == "revoked"
    paths = httpx.get(f"{server.url}/schema/openapi.json").json()["paths"]
    assert {
        "/admin/keys",
        "/admin/keys/{key_id}/rotate",
        "/admin/usage",
        "/api/account",
        "/api/usage",
    } <= set(paths)


def test_usage_per_day_as_json_and_csv_for_the_key_and_the_admin(stack, admin, docs):
    key, key_id = new_key(admin)
    with as_key(stack[1][0], key) as client:
        assert client.post("/api/convert-async", json=tiny_document(docs)).status_code == 202
        report = client.get("/api/usage").json()
        as_csv = client.get("/api/usage", params={"format": "csv", "from": "2026-01-01", "to": "2026-01-03"})
        bad = client.get("/api/usage", params={"from": "2026-13-01"})
        reversed_range = client.get("/api/usage", params={"from": "2026-02-02", "to": "2026-02-01"})
        too_long = client.get("/api/usage", params={"from": "2020-01-01"})
    assert len(report["days"]) == 30 and report["end"] == time.strftime("%Y-%m-%d", time.gmtime())
    today = report["days"][-1]
    assert (today["key_id"], today["requests"], today["documents"]) == (key_id, 1, 1)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["date"] for row in rows] == ["2026-01-01", "2026-01-02", "2026-01-03"]
    assert set(rows[0]) >= {"requests", "documents", "pages_ocr", "prompt_tokens", "cost"}
    assert (bad.status_code, bad.json()["message"]) == (422, "`from` must be a date written YYYY-MM-DD.")
    assert reversed_range.json()["message"] == "`from` must not be after `to`."
    assert too_long.json()["message"] == "Ask for at most 400 days (LECTOR_USAGE_DAYS) at once."
    everyone = admin.get("/admin/usage").json()["days"]
    assert any(row["key_id"] == key_id and row["requests"] == 1 for row in everyone)
    one = admin.get(f"/admin/keys/{key_id}/usage", params={"format": "csv"})
    assert one.status_code == 200 and one.text.splitlines()[-1].startswith(
        time.strftime("%Y-%m-%d", time.gmtime())
    )


def test_last_used_is_written_at_most_once_a_minute(stack, admin, redis):
    key, key_id = new_key(admin)
    with as_key(stack[1][0], key) as client:
        client.get("/api/account")
        first = admin.get(f"/admin/keys/{key_id}").json()["last_used_at"]
        time.sleep(1.1)
        client.get("/api/account")
    with as_key(stack[1][1], key) as other:  # another process: the shared marker holds it too
        other.get("/api/account")
    assert first is not None
    assert admin.get(f"/admin/keys/{key_id}").json()["last_used_at"] == first
    assert 0 < redis.ttl(f"lector:key:{key_id}:touched") <= 60


def test_no_key_reaches_the_logs(stack, admin):
    key, _ = new_key(admin)
    with as_key(stack[1][0], key) as client:
        client.get("/api/account")
    logs = "".join(server.logs() for server in stack[1])
    assert key not in logs and ADMIN_KEY not in logs and key.split("_")[2] not in logs


def test_a_queued_file_is_409_until_a_worker_has_made_it(stack, admin, docs):
    key, _ = new_key(admin)  # no worker runs on this stack: the job stays queued
    with as_key(stack[1][0], key) as client:
        body = {**tiny_document(docs), "target_format": "png"}
        conversion_id = client.post("/api/convert-file-async", json=body).json()["conversion_id"]
        waiting = client.get(f"/api/convert-async/{conversion_id}/download")
    assert (waiting.status_code, waiting.json()["message"]) == (
        409,
        "The conversion is ENQUEUED; download it once it is SUCCESS.",
    )
