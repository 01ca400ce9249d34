"""A PDF's password for a queued job: encrypted with the server secret before it reaches Redis,
and refused for a queued job by a server without a secret."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from fixtures.generate import encrypted_pdf
from tests.helpers import (
    API_KEY,
    SECRET,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_for_end,
)


def everything_in(redis: Redis) -> bytes:
    """Every key and every value Redis holds, as plain bytes (not DUMP's compressed form)."""
    readers = {
        b"string": lambda key: [redis.get(key)],
        b"hash": lambda key: [item for pair in redis.hgetall(key).items() for item in pair],
        b"list": lambda key: redis.lrange(key, 0, -1),
        b"set": lambda key: list(redis.smembers(key)),
        b"zset": lambda key: redis.zrange(key, 0, -1),
        b"stream": lambda key: [str(entry).encode() for entry in redis.xrange(key)],
    }
    found = []
    for key in redis.scan_iter(count=1000):
        read = readers.get(redis.type(key), lambda key: [])  # b"none": gone since the scan
        found += [key, *(value or b"" for value in read(key))]
    return b"\n".join(found)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of the test's own, with its append-only file in ``tmp_path``."""
    process, url = start_redis(tmp_path, appendonly=True)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_a_queued_pdf_password_reaches_redis_only_encrypted(tmp_path, redis_url):
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url, LECTOR_SECRET=SECRET)
    worker = None
    password = f"pw-{secrets.token_hex(8)}"
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            response = client.post(
                "/api/convert-async",
                files={"image": ("locked.pdf", encrypted_pdf(password))},
                data={"document_type_code": "text", "password": password},
            )
            assert response.status_code == 202, response.text
            conversion_id = response.json()["conversion_id"]
            redis = Redis.from_url(redis_url)
            assert redis.exists(f"lector:password:{conversion_id}")  # kept, for the worker to come
            assert password.encode() not in everything_in(redis)

            worker = start_worker(tmp_path, redis_url, LECTOR_SECRET=SECRET)
            status = wait_for_end(client, conversion_id)
            assert status["status"] == "SUCCESS", status  # the worker read the password
            assert password.encode() not in everything_in(redis)
        append_only = Path(redis.config_get("dir")["dir"]) / "appendonlydir"
        written = b"".join(path.read_bytes() for path in append_only.iterdir())
        assert conversion_id.encode() in written  # the file does hold what the job wrote
        assert password.encode() not in written
    finally:
        if worker is not None:
            stop_process(worker)
        server.stop()


def test_a_server_without_a_secret_refuses_a_password_for_a_queued_job(tmp_path, redis_url):
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            locked = ("locked.pdf", encrypted_pdf("s3cret"))
            response = client.post(
                "/api/convert-async",
                files={"image": locked},
                data={"document_type_code": "text", "password": "s3cret"},
            )
            assert response.status_code == 422
            assert "LECTOR_SECRET" in response.json()["message"]
            redis = Redis.from_url(redis_url)
            assert not redis.keys("lector:password:*") and not redis.keys("rq:job:*")  # nothing kept
            # The synchronous routes keep no password, and need no secret.
            sync = client.post(
                "/api/ocr/extract-text-from-file", files={"file": locked}, data={"password": "s3cret"}
            )
            assert sync.status_code == 200, sync.text
    finally:
        server.stop()
