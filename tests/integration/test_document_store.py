"""Documents, converted files and large results in the store, not in Redis: what is kept,
for how long, how it is downloaded (Range) and deleted, and what the store's failure looks
like. The session's server and workers share the directory store TEST_STORE."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import msgspec
from redis import Redis

from service.jobs.store import SMALL_RESULT_BYTES
from tests.helpers import (
    API_KEY,
    ROOT,
    TEST_STORE,
    clean_env,
    deleted_soon,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    stored_objects,
    wait_for_end,
    wait_until,
)


def _record(redis_url: str, conversion_id: str) -> dict[str, object]:
    raw = Redis.from_url(redis_url).hgetall(f"lector:conversion:{conversion_id}")
    return {name.decode(): msgspec.json.decode(value) for name, value in raw.items()}


def _largest_value(redis_url: str) -> int:
    """The size of the largest value Redis holds, in bytes."""
    redis = Redis.from_url(redis_url)
    return max((redis.memory_usage(key) or 0) for key in redis.scan_iter(count=1000))


def test_documents_results_and_files_live_in_the_store_and_redis_holds_only_records(
    client, workers, docs, redis_url
):
    scan = docs["scanned.pdf"].read_bytes()
    extraction = client.post(
        "/api/convert-async",
        files={"image": ("scanned.pdf", scan)},
        data={"document_type_code": "text", "include_words": "true"},
    ).json()["conversion_id"]
    conversion = client.post(
        "/api/convert-file-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"target_format": "jpg"},
    ).json()["conversion_id"]
    waiting = _record(redis_url, extraction)["document_key"]
    assert isinstance(waiting, str) and (TEST_STORE / waiting).read_bytes() == scan

    words = wait_for_end(client, extraction)
    converted = wait_for_end(client, conversion)
    assert words["status"] == converted["status"] == "SUCCESS"
    # A page's words are too large for the record: the record names them in the store.
    record = _record(redis_url, extraction)
    assert record["data"] is None and record["result_key"] == f"results/{extraction}"
    stored = msgspec.json.decode((TEST_STORE / "results" / extraction).read_bytes())
    assert len(msgspec.json.encode(stored)) > SMALL_RESULT_BYTES
    assert words["result"] == stored and words["result"]["pages"][0]["words"]
    # The converted file is in the store, and its documents are gone now that the jobs ended.
    file_key = _record(redis_url, conversion)["output"]["key"]
    download = client.get(converted["file"]["download_url"])
    assert download.content == (TEST_STORE / file_key).read_bytes()
    assert _record(redis_url, extraction)["document_key"] is None
    deleted_soon(TEST_STORE / waiting)
    assert not Redis.from_url(redis_url).keys("lector:blob:*")
    assert _largest_value(redis_url) < 64 * 1024  # records and queues, never a document


def test_a_download_honours_one_range_and_refuses_one_past_the_end(client, workers, docs):
    conversion = client.post(
        "/api/convert-file-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"target_format": "bmp"},
    ).json()["conversion_id"]
    file = wait_for_end(client, conversion)["file"]
    whole = client.get(file["download_url"])
    assert whole.status_code == 200 and whole.headers["accept-ranges"] == "bytes"
    assert len(whole.content) == file["size"] == int(whole.headers["content-length"])

    middle = client.get(file["download_url"], headers={"Range": "bytes=100-1099"})
    assert middle.status_code == 206
    assert middle.content == whole.content[100:1100]
    assert middle.headers["content-range"] == f"bytes 100-1099/{file['size']}"
    resumed = httpx.get(file["signed_url"], headers={"Range": "bytes=5000-"})  # a resumed download
    assert resumed.status_code == 206 and resumed.content == whole.content[5000:]
    tail = client.get(file["download_url"], headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == whole.content[-10:]

    past = client.get(file["download_url"], headers={"Range": f"bytes={file['size']}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{file['size']}"
    assert (
        past.json()["message"] == f"The Range asked starts past the end of the file ({file['size']} bytes)."
    )
    for ignored in ("bytes=0-1,5-9", "lines=1-2", "bytes=9-3", "nonsense"):  # RFC 9110: the whole file
        answer = client.get(file["download_url"], headers={"Range": ignored})
        assert answer.status_code == 200 and answer.content == whole.content, ignored


def test_delete_removes_a_conversion_its_result_and_its_file_at_once(client, workers, docs, redis_url):
    conversion = client.post(
        "/api/convert-file-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"target_format": "jpg"},
    ).json()["conversion_id"]
    queued = client.delete(f"/api/convert-async/{conversion}")
    status = wait_for_end(client, conversion)
    if queued.status_code != 204:  # a worker may have been quicker than this request
        assert queued.status_code == 409 and "delete it once it has ended" in queued.json()["message"]
    file_key = _record(redis_url, conversion)["output"]["key"]
    assert (TEST_STORE / file_key).exists()
    other = httpx.delete(
        f"{client.base_url}/api/convert-async/{conversion}", headers={"X-API-Key": "other-key-9876543210"}
    )
    assert other.status_code == 404 and (TEST_STORE / file_key).exists()  # not another key's to delete

    assert client.delete(f"/api/convert-async/{conversion}").status_code == 204
    assert not (TEST_STORE / file_key).exists()
    assert not Redis.from_url(redis_url).exists(f"lector:conversion:{conversion}")
    assert client.get(f"/api/convert-async/status/{conversion}").status_code == 404
    assert client.get(status["file"]["download_url"]).status_code == 404
    assert client.delete(f"/api/convert-async/{conversion}").status_code == 404


def test_a_worker_sweeps_what_outlived_its_retention(tmp_path):
    store = tmp_path / "store"
    for key in ("files/expired", "results/expired", "documents/abandoned", "files/fresh"):
        (store / key).parent.mkdir(parents=True, exist_ok=True)
        (store / key).write_bytes(b"x")
    long_ago = time.time() - 3 * 3600  # past the retention (an hour) and its hour of slack
    for key in ("files/expired", "results/expired", "documents/abandoned"):
        os.utime(store / key, (long_ago, long_ago))
    redis_process, redis_url = start_redis(tmp_path)
    worker = start_worker(
        tmp_path, redis_url, LECTOR_STORAGE_URL=f"file://{store}", LECTOR_RESULT_TTL_HOURS="1"
    )
    try:
        wait_until(lambda: not (store / "files" / "expired").exists(), 60, "the sweep")
        assert stored_objects("files", store) == [store / "files" / "fresh"]
        assert not stored_objects("results", store) and not stored_objects("documents", store)
    finally:
        stop_process(worker)
        stop_process(redis_process)


def test_ready_says_which_step_of_the_store_failed(tmp_path, redis_url):
    store = tmp_path / "store"
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url, LECTOR_STORAGE_URL=f"file://{store}")
    try:
        assert httpx.get(f"{server.url}/ready").json()["checks"]["store"] == "ok"
        store.rename(tmp_path / "gone")
        (tmp_path / "store").write_text("a file where the directory was")
        answer = httpx.get(f"{server.url}/ready")
        assert answer.status_code == 503
        assert answer.json()["checks"]["store"].startswith(f"The store (file://{store}) failed to write")
        submitted = httpx.post(
            f"{server.url}/api/convert-async",
            headers={"X-API-Key": API_KEY},
            json={"image": "iVBORw0KGgo=", "document_type_code": "text"},
        )
        assert submitted.status_code in (400, 503)  # never a 500
        assert "Traceback" not in server.logs()
    finally:
        server.stop()


def test_a_worker_whose_store_fails_says_so_and_stops(tmp_path, redis_url):
    (tmp_path / "file").write_text("not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "worker"],
        env=clean_env(LECTOR_REDIS_URL=redis_url, LECTOR_STORAGE_URL=f"file://{tmp_path}/file/store"),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"lector: The store's directory {tmp_path}/file/store cannot be made: Not a directory." in (
        result.stderr
    )


def test_the_old_blob_directory_setting_is_refused_with_what_replaces_it(tmp_path, redis_url):
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "serve"],
        env=clean_env(LECTOR_REDIS_URL=redis_url, LECTOR_BLOB_DIR=str(tmp_path)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "LECTOR_BLOB_DIR is no longer read: set LECTOR_STORAGE_URL=file:///that/directory" in result.stderr
