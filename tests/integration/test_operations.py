"""Running Lector in production: metrics after real traffic, backpressure on the sync
endpoints, and shutdown on SIGTERM, with real API and worker processes."""

from __future__ import annotations

import base64
import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from fixtures.generate import PAGES, page_image, text_pdf
from tests.helpers import API_KEY, start_redis, start_server, start_worker, stop_process, wait_for_end
from tests.integration.test_worker_recovery import descendants, submit_long_job, wait_until_midway

METRICS_KEY = "metrics-key-0123456789"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when it is absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        metric, _, label_text = series.partition("{")
        got = ",".join(sorted(label_text.rstrip("}").split(","))) if label_text else ""
        if metric == name and got == wanted:
            return float(value)
    return 0.0


def png_of(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def stack(tmp_path: Path):
    """Redis, an API and one worker sharing a metrics directory."""
    redis_process, redis_url = start_redis(tmp_path)
    shared = {"LECTOR_METRICS_DIR": str(tmp_path / "metrics")}
    worker = start_worker(tmp_path, redis_url, **shared)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url, LECTOR_METRICS_KEY=METRICS_KEY, **shared)
    try:
        yield server, worker, redis_url
    finally:
        server.stop()
        stop_process(worker)
        redis_process.terminate()


def test_metrics_count_the_traffic_of_the_api_and_the_workers(stack):
    server, _worker, _redis_url = stack
    headers = {"Authorization": f"Bearer {API_KEY}"}
    page = png_of(page_image(PAGES[0]))
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        for _ in range(2):
            answer = client.post("/api/ocr/extract-text", json={"image": base64.b64encode(page).decode()})
            assert answer.status_code == 200, answer.text
        own_text = base64.b64encode(text_pdf(PAGES[:1]).tobytes()).decode()
        assert client.post("/api/ocr/extract-text", json={"image": own_text}).status_code == 200
        queued = client.post(
            "/api/convert-async", files={"image": ("page.png", page)}, data={"document_type_code": "text"}
        )
        conversion_id = queued.json()["conversion_id"]
        assert wait_for_end(client, conversion_id)["status"] == "SUCCESS"
        assert client.post("/api/ocr/extract-text", json={"image": "not base64!"}).status_code == 422

        assert httpx.get(f"{server.url}/metrics").status_code == 401
        assert httpx.get(f"{server.url}/metrics", headers=headers).status_code == 401
        # The worker counts its job once the horse has ended, a moment after the status says so.
        deadline = time.monotonic() + 10
        while True:
            text = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_KEY}"}).text
            if (
                sample(text, "lector_jobs_total", status="SUCCESS", engine="tesseract")
                or time.monotonic() > deadline
            ):
                break
            time.sleep(0.2)

    route = "/api/ocr/extract-text"
    assert sample(text, "lector_http_requests_total", route=route, method="POST", status="200") == 3
    assert sample(text, "lector_http_requests_total", route=route, method="POST", status="422") == 1
    assert sample(text, "lector_http_request_duration_seconds_count", route=route, method="POST") == 4
    assert sample(text, "lector_jobs_total", status="SUCCESS", engine="tesseract") == 1
    # Two sync pages in the API process, one in the worker: summed over both.
    assert sample(text, "lector_pages_total", engine="tesseract", source="ocr") == 3
    assert sample(text, "lector_engine_page_seconds_count", engine="tesseract") == 3
    # The PDF's page gave its own text: no engine read it.
    assert sample(text, "lector_pages_total", engine="text-layer", source="text-layer") == 1
    assert sample(text, "lector_pages_total", engine="tesseract", source="text-layer") == 0
    # Each queue, by the name `lector worker --queues` takes.
    assert '\nlector_queue_depth{queue="ocr"} 0.0\n' in text
    assert '\nlector_queue_depth{queue="media"} 0.0\n' in text
    assert sample(text, "lector_workers_alive") == 1
    # No key, job id or document content is ever a label value.
    assert API_KEY not in text and conversion_id not in text
    for line in text.splitlines():
        if not line.startswith("#") and "{" in line:
            for value in re.findall(r'="([^"]*)"', line):
                assert len(value) < 64 and conversion_id not in value


def test_a_busy_server_answers_503_with_retry_after_and_never_fails(tmp_path):
    """One slot and one waiting place: of six concurrent requests some wait and some are
    told at once that the server is busy; none gets another answer."""
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(
        tmp_path, LECTOR_REDIS_URL=redis_url, LECTOR_SYNC_CONCURRENCY="1", LECTOR_SYNC_QUEUE="1"
    )
    page = png_of(page_image(PAGES[1]))
    body = {"image": base64.b64encode(page).decode()}
    try:
        with (
            httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as client,
            ThreadPoolExecutor(6) as pool,
        ):
            answers = list(pool.map(lambda _: client.post("/api/ocr/extract-text", json=body), range(6)))
            statuses = sorted(answer.status_code for answer in answers)
            assert set(statuses) == {200, 503}, statuses
            assert statuses.count(200) >= 2  # the one running and the one waiting
            busy = next(answer for answer in answers if answer.status_code == 503)
            assert busy.headers["Retry-After"] == "2"
            assert "busy" in busy.json()["message"]
            text = httpx.get(f"{server.url}/metrics").text
            assert sample(text, "lector_refusals_total", limit="busy") == statuses.count(503)
            # Free again: the next request runs.
            assert client.post("/api/ocr/extract-text", json=body).status_code == 200
    finally:
        server.stop()
        redis_process.terminate()


def test_sigterm_lets_a_running_sync_request_finish(tmp_path):
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    pages = [png_of(page_image(PAGES[index])) for index in range(3)]
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
            with ThreadPoolExecutor(1) as pool:
                running = pool.submit(
                    client.post,
                    "/api/ocr/extract-text-from-file",
                    files={"file": ("page.png", pages[0])},
                )
                time.sleep(0.3)  # the request is in; the server is told to stop
                server.process.send_signal(signal.SIGTERM)
                answer = running.result()
            assert answer.status_code == 200, answer.text
            assert answer.json()["data"]["text"].strip()
        # uvicorn ends by raising the signal it caught again, so the parent sees "killed by SIGTERM".
        assert server.process.wait(timeout=30) in (0, -signal.SIGTERM)
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{server.url}/health", timeout=2)
    finally:
        server.stop()
        redis_process.terminate()


def test_sigterm_on_a_worker_past_its_timeout_puts_the_job_back_for_another(tmp_path):
    """The job is neither lost nor run twice: another worker finishes it, and the key is
    charged once."""
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    first = start_worker(tmp_path, redis_url, LECTOR_SHUTDOWN_TIMEOUT_S="1")
    second = None
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            url = submit_long_job(client, pages=12)
            wait_until_midway(client, url)
            stopped_at = time.monotonic()
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=30) == 0
            assert time.monotonic() - stopped_at < 15
            assert not descendants(first.pid)
            status = client.get(url).json()
            assert status["status"] == "ENQUEUED", status
            second = start_worker(tmp_path, redis_url)
            deadline = time.monotonic() + 90
            while status["status"] not in ("SUCCESS", "ERROR") and time.monotonic() < deadline:
                status = client.get(url, params={"wait": 5}).json()
            assert status["status"] == "SUCCESS", status
            assert len(status["result"]["pages"]) == 12
            usage = client.get("/api/usage").json()
            today = usage["days"][-1]
            assert (today["documents"], today["pages_ocr"]) == (1, 12), today  # booked once
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
        server.stop()
        redis_process.terminate()


def test_sigterm_on_a_worker_lets_a_short_job_finish(tmp_path):
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    worker = start_worker(tmp_path, redis_url, LECTOR_SHUTDOWN_TIMEOUT_S="60")
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            url = submit_long_job(client, pages=3)
            wait_until_midway(client, url)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=60) == 0
            status = client.get(url).json()
            assert status["status"] == "SUCCESS", status
    finally:
        stop_process(worker)
        server.stop()
        redis_process.terminate()


def _anonymous_kb(pid: int) -> int:
    """The process's anonymous memory (heap, not file-backed pages such as a mapped spool)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^RssAnon:\s+(\d+)", status, re.MULTILINE).group(1))


#: The first bytes of every PNG: what the sniffer knows a PNG by.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("route", "status"), [("/api/ocr/extract-text", 422), ("/api/convert-async", 202)])
def test_a_large_json_body_waits_on_disk_not_in_memory(server, route, status):
    """A 48 MB JSON body (36 MB of base64: a PNG signature, then bytes that do not decode): the
    API's own memory grows by the decoded document, not by the body beside it as well."""
    payload = base64.b64encode(PNG_SIGNATURE + bytes(range(256)) * (36 * 1024 * 1024 // 256)).decode()
    body = {"image_base64": payload, "document_type_code": "text"}
    pid = server.process.pid
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
        client.post(route, json={**body, "image_base64": payload[:4000]})  # warm the route up
        at_rest = _anonymous_kb(pid)
        peak = at_rest
        with ThreadPoolExecutor(1) as pool:
            answer = pool.submit(client.post, route, json=body)
            while not answer.done():
                peak = max(peak, _anonymous_kb(pid))
                time.sleep(0.005)
        # Sync: refused as a corrupt PNG; queued: taken, and its job will fail.
        assert answer.result().status_code == status
    grown_mb = (peak - at_rest) / 1024
    assert grown_mb < 48 * 0.9, f"the API grew by {grown_mb:.0f} MB for a 48 MB body"
