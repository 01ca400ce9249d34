"""Finding 6 (a store that is down or full answers 503, and reads still work) and finding 8
(page images and Tesseract's output live in a private directory that is cleaned)."""

from __future__ import annotations

import stat
import time

import httpx
import pytest
from redis import Redis

from service.errors import StoreUnavailable
from service.jobs.intake import Intake, Submission
from service.options import Options
from service.settings import Settings
from service.storage import open_storage
from tests.helpers import API_KEY, start_redis, start_server, start_worker, stop_process, wait_until
from tests.integration.test_worker_recovery import (
    kill_tree,
    submit_long_job,
    wait_until_finished,
    wait_until_midway,
)

UNAVAILABLE = "The job store is unavailable; try again shortly."


def ours(directory):
    """What Lector left in a temporary directory (PyMuPDF keeps a small `.ses` file of its own,
    with no document content, written when it is imported)."""
    return [path for path in directory.iterdir() if path.name != ".ses"]


def test_a_full_then_dead_redis_answers_503_and_status_reads_keep_working(tmp_path, docs):
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    headers = {"Authorization": f"Bearer {API_KEY}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            files = {"image": ("page.png", docs["page.png"].read_bytes())}
            accepted = client.post("/api/convert-async", files=files, data={"document_type_code": "text"})
            status_path = f"/api/convert-async/status/{accepted.json()['conversion_id']}"
            redis = Redis.from_url(redis_url)
            redis.config_set("maxmemory-policy", "noeviction")
            redis.config_set("maxmemory", 1)  # every write is refused from now on: OOM

            full = client.post("/api/convert-async", files=files, data={"document_type_code": "text"})
            assert (full.status_code, full.json()["message"]) == (503, UNAVAILABLE)
            assert full.headers["retry-after"] == "5"
            assert client.get(status_path).json()["status"] == "ENQUEUED"  # a read needs no write
            ready = client.get("/ready")
            assert (ready.status_code, ready.json()["checks"]["redis"]) == (503, "refuses writes")

            stop_process(redis_process)
            for response in (
                client.get(status_path),
                client.post("/api/convert-async", files=files, data={"document_type_code": "text"}),
                client.get("/api/batches/0123"),
            ):
                assert (response.status_code, response.json()["message"]) == (503, UNAVAILABLE)
            assert client.get("/ready").json()["checks"]["redis"] == "unreachable"
        assert "Traceback" not in server.logs()
    finally:
        server.stop()
        stop_process(redis_process)


def test_a_store_that_fails_to_write_is_a_503_and_leaves_no_record(tmp_path, redis_url, docs):
    store_dir = tmp_path / "store"
    settings = Settings(redis_url=redis_url, storage_url=f"file://{store_dir}")
    redis = Redis.from_url(redis_url)
    storage = open_storage(settings.storage_url)
    store_dir.rmdir()
    store_dir.write_text("not a directory any more")  # every write now fails, as on a full disk
    intake = Intake(redis, storage, settings)
    submission = Submission(options=Options(), document=docs["page.png"].read_bytes())
    with pytest.raises(StoreUnavailable):
        intake.create(submission, "owner", "c0ffee")
    assert intake.jobs.get("c0ffee") is None


def test_a_killed_worker_leaves_no_readable_page_images_and_the_next_one_cleans_up(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    # A Redis of its own: the session's workers must not take this job.
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    first = start_worker(tmp_path, redis_url, TMPDIR=str(scratch))
    headers = {"Authorization": f"Bearer {API_KEY}"}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as client:
            url = submit_long_job(client, 6)
            wait_until_midway(client, url)
            kill_tree(first.pid)
            first.wait()
            left = ours(scratch)
            # Everything the dead worker wrote is inside its own directory, which nobody else can read.
            assert left and all(path.name.startswith(f"lector-{first.pid}-") for path in left)
            assert all(stat.S_IMODE(path.stat().st_mode) == 0o700 for path in left)
            second = start_worker(tmp_path, redis_url, TMPDIR=str(scratch))
            try:
                wait_until(lambda: not any(path.exists() for path in left), 30, "the stale directory to go")
                wait_until(lambda: len(ours(scratch)) == 1, 30, "the new worker's directory")
                assert wait_until_finished(client, url, 120)["status"] == "SUCCESS"
            finally:
                stop_process(second)
            time.sleep(0.2)
            assert ours(scratch) == []  # removed at a clean shutdown
    finally:
        server.stop()
        if first.poll() is None:
            stop_process(first)
        stop_process(redis_process)
