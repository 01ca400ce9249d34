"""Lector's store (``service.storage``) on a real S3 server (SeaweedFS, authentication on),
and an API and a worker that keep everything there: nothing on a local disk, nothing in
Redis but records, and presigned downloads."""

from __future__ import annotations

import os
import uuid
from datetime import timedelta

import httpx
import pytest
from redis import Redis

from service.errors import StoreUnavailable
from service.storage import Space, new_key, open_storage
from tests.helpers import (
    API_KEY,
    SECRET,
    TEST_STORE,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_for_end,
    wait_until,
)

MB = 1024 * 1024


def _env_with_own_prefix(s3_env: dict[str, str]) -> dict[str, str]:
    """The session's S3 store under a prefix of this test's own."""
    return {**s3_env, "LECTOR_STORAGE_URL": f"{s3_env['LECTOR_STORAGE_URL']}/{uuid.uuid4().hex}"}


def test_the_store_on_s3_keeps_ranges_signs_sweeps_and_deletes(s3_env, tmp_path):
    env = _env_with_own_prefix(s3_env)
    storage = open_storage(env["LECTOR_STORAGE_URL"], env)
    assert storage.where == f"{env['LECTOR_STORAGE_URL']} at {env['AWS_ENDPOINT_URL']}"
    assert storage.check() is None
    large = tmp_path / "large.bin"
    large.write_bytes(os.urandom(20 * MB))  # sent in parts
    key = new_key(Space.FILES)
    storage.put(key, large)
    assert storage.size(key) == 20 * MB
    content = large.read_bytes()
    assert b"".join(storage.chunks(key, 5 * MB, 5 * MB + 10)) == content[5 * MB : 5 * MB + 10]
    assert b"".join(storage.chunks(key)) == content

    signed = storage.signed_url(key, timedelta(minutes=5))
    assert signed is not None and signed.startswith(env["AWS_ENDPOINT_URL"])
    fetched = httpx.get(signed, headers={"Range": "bytes=0-99"})  # no credentials: the URL is signed
    assert fetched.status_code == 206 and fetched.content == content[:100]
    assert httpx.get(signed.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403

    storage.put("documents/kept", b"another space")
    assert storage.sweep(Space.FILES, timedelta(0)) == 1  # everything in FILES is older than now
    assert storage.size(key) is None and storage.read("documents/kept") == b"another space"
    storage.delete("documents/kept", "documents/never-there")
    assert storage.read("documents/kept") is None and storage.chunks("documents/kept") is None


def test_a_wrong_secret_or_a_missing_bucket_is_said_and_is_a_503(s3_env):
    wrong = {**s3_env, "AWS_SECRET_ACCESS_KEY": "not-the-secret-0123456789"}
    storage = open_storage(s3_env["LECTOR_STORAGE_URL"], wrong)
    failed = storage.check()
    assert failed is not None and failed.startswith(
        f"The store ({storage.where}) failed to write a test object"
    )
    assert wrong["AWS_SECRET_ACCESS_KEY"] not in failed
    with pytest.raises(StoreUnavailable, match="The document store is unavailable"):
        storage.put("documents/x", b"x")
    nowhere = open_storage("s3://no-such-bucket/lector", s3_env)
    assert nowhere.check() is not None


def test_an_api_and_a_worker_keep_everything_in_s3_and_presign_downloads(s3_env, tmp_path, docs):
    env = _env_with_own_prefix(s3_env)
    redis_process, redis_url = start_redis(tmp_path)
    settings = {**env, "LECTOR_SECRET": SECRET}
    server = start_server(tmp_path, **settings, LECTOR_REDIS_URL=redis_url, LECTOR_STORAGE_PRESIGN="on")
    worker = start_worker(tmp_path, redis_url, **settings)
    local = {path for path in TEST_STORE.rglob("*") if path.is_file()}
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            assert client.get("/ready").json()["checks"]["store"] == "ok"
            png = docs["page.png"].read_bytes()
            submitted = client.post(
                "/api/convert-file-async", files={"image": ("page.png", png)}, data={"target_format": "bmp"}
            )
            conversion_id = submitted.json()["conversion_id"]
            file = wait_for_end(client, conversion_id)["file"]
            streamed = client.get(file["download_url"])  # with the key: streamed by the API
            assert streamed.status_code == 200 and len(streamed.content) == file["size"]
            redirected = httpx.get(file["signed_url"])  # signed: a redirect to the store itself
            assert redirected.status_code == 307
            assert redirected.headers["location"].startswith(env["AWS_ENDPOINT_URL"])
            from_store = httpx.get(file["signed_url"], follow_redirects=True)
            assert from_store.status_code == 200 and from_store.content == streamed.content
        storage = open_storage(env["LECTOR_STORAGE_URL"], env)
        # The document is deleted a moment after the job ends; the file stays.
        wait_until(lambda: len(_keys(storage)) == 1, 10, "the document to be deleted")
        assert _keys(storage)[0].startswith("files/")
        assert {path for path in TEST_STORE.rglob("*") if path.is_file()} == local  # no local copy
        assert not Redis.from_url(redis_url).keys("lector:blob:*")
    finally:
        stop_process(worker)
        server.stop()
        stop_process(redis_process)


def _keys(storage) -> list[str]:
    import obstore

    return [meta["path"] for page in obstore.list(storage._store, prefix="") for meta in page]
