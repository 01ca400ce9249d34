"""``lector worker --metrics-port``: a worker serves its own metrics, for Prometheus to scrape
each worker host; the API's /metrics then no longer counts that worker's jobs."""

from __future__ import annotations

import subprocess
import sys

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import (
    API_KEY,
    ROOT,
    clean_env,
    free_port,
    port_open,
    start_redis,
    start_server,
    stop_process,
    wait_for_end,
    wait_until,
)

METRICS_KEY = "metrics-key-0123456789"


def jobs_counted(text: str) -> dict[tuple[str, str], float]:
    """``lector_jobs_total`` by (status, engine), from a Prometheus text answer."""
    return {
        (sample.labels["status"], sample.labels["engine"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "lector_jobs_total"
    }


def test_a_worker_serves_its_own_metrics_and_counts_the_job_it_ran(tmp_path, docs):
    redis_process, redis_url = start_redis(tmp_path)
    # One directory for both, as on a host where they share one: the worker leaves it.
    shared = {"LECTOR_METRICS_DIR": str(tmp_path / "metrics"), "LECTOR_METRICS_KEY": METRICS_KEY}
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url, **shared)
    port = free_port()
    command = [sys.executable, "-m", "service.cli", "worker", "--metrics-port", str(port)]
    env = clean_env(LECTOR_REDIS_URL=redis_url, PYTHONPATH=str(ROOT), **shared)
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        [*command, "--metrics-host", "127.0.0.1"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    scrape_url = f"http://127.0.0.1:{port}/metrics"
    key = {"Authorization": f"Bearer {METRICS_KEY}"}
    try:
        wait_until(lambda: port_open(port) or worker.poll() is not None, 60, "the worker's metrics port")
        assert worker.poll() is None, (tmp_path / "worker.log").read_text()
        before = httpx.get(scrape_url, headers=key)
        assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
        assert jobs_counted(before.text) == {}

        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            answer = client.post(
                "/api/convert-async",
                files={"image": ("page.png", docs["page.png"].read_bytes())},
                data={"document_type_code": "text"},
            )
            assert answer.status_code == 202, answer.text
            assert wait_for_end(client, answer.json()["conversion_id"])["status"] == "SUCCESS"

        def counted() -> bool:
            return jobs_counted(httpx.get(scrape_url, headers=key).text) == {("SUCCESS", "tesseract"): 1.0}

        wait_until(counted, 10, "the job counted on the worker's port")
        pages = [
            sample
            for family in text_string_to_metric_families(httpx.get(scrape_url, headers=key).text)
            for sample in family.samples
            if sample.name == "lector_pages_total"
        ]
        assert [(sample.labels["source"], sample.value) for sample in pages] == [("ocr", 1.0)]
        # Counted once: the API's /metrics, which sums the shared directory, does not have it.
        api = httpx.get(f"{server.url}/metrics", headers=key)
        assert api.status_code == 200 and jobs_counted(api.text) == {}
        # The port is guarded as the API's /metrics is, and serves nothing else.
        assert httpx.get(scrape_url).status_code == 401
        assert (
            httpx.get(scrape_url, headers={"Authorization": "Bearer wrong-key-0123456789"}).status_code == 401
        )
        assert httpx.get(f"http://127.0.0.1:{port}/", headers=key).status_code == 404

        # A second worker cannot take the port: it says so and exits.
        second = subprocess.run(
            [*command, "--metrics-host", "127.0.0.1"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert f"lector: cannot serve metrics on 127.0.0.1:{port}: Address already in use." in second.stderr
    finally:
        stop_process(worker)
        server.stop()
        stop_process(redis_process)
    assert not port_open(port)


def test_a_metrics_port_out_of_range_is_refused():
    result = subprocess.run(
        [sys.executable, "-m", "service.cli", "worker", "--metrics-port", "70000"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "'70000' is not a port (1 to 65535)" in result.stderr
