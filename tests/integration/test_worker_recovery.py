"""Nothing is lost when a worker dies mid-job: RQ finds the job abandoned and runs it again."""

from __future__ import annotations

import base64
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from redis import Redis
from rq import Queue

from fixtures.generate import PAGES, image_pdf, page_image
from service.resident import ResidentHorseWorker
from tests.helpers import (
    API_KEY,
    descendants,
    kill_tree,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_until,
)


def submit_long_job(client: httpx.Client, pages: int) -> str:
    """Queue a scan long enough to be caught mid-way; returns its status URL."""
    document = image_pdf([page_image(PAGES[index % len(PAGES)]) for index in range(pages)])
    files, fields = {"image": ("long.pdf", document)}, {"document_type_code": "text"}
    conversion_id = client.post("/api/convert-async", files=files, data=fields).json()["conversion_id"]
    return f"/api/convert-async/status/{conversion_id}"


def wait_until_midway(client: httpx.Client, url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = client.get(url).json()
        if status["status"] == "PROCESSING" and status["progress"] > 0:
            return
        time.sleep(0.1)
    raise AssertionError(f"never caught mid-way: {status}")


def wait_until_finished(client: httpx.Client, url: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(url, params={"wait": 5}).json()
        if status["status"] in ("SUCCESS", "ERROR"):
            return status
    return status


def test_a_crashed_work_horse_does_not_take_the_worker_down(tmp_path):
    """What an engine crash or the OOM killer does: the job's process dies, the worker lives."""
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    worker = start_worker(tmp_path, redis_url)
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            url = submit_long_job(client, pages=12)
            wait_until_midway(client, url)
            horse = work_horse(worker.pid)
            kill_tree(horse)
            status = wait_until_finished(client, url, timeout=60)
            assert status["status"] == "SUCCESS", status
            assert worker.poll() is None  # the same worker ran the retry
    finally:
        stop_process(worker)
        server.stop()
        redis_process.terminate()


def test_jobs_share_one_horse_and_a_horse_dead_between_jobs_is_replaced(tmp_path, docs):
    """The horse stays for job after job (no fork each); one that dies idle is forked anew."""
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    worker = start_worker(tmp_path, redis_url)
    body = {
        "image_base64": base64.b64encode(docs["page.png"].read_bytes()).decode(),
        "document_type_code": "text",
    }
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:

            def run_one() -> None:
                url = client.post("/api/convert-async", json=body).json()["status_url"]
                assert wait_until_finished(client, url, timeout=60)["status"] == "SUCCESS"

            run_one()
            horse = work_horse(worker.pid)
            run_one()
            run_one()
            assert work_horse(worker.pid) == horse  # the same process ran all three
            kill_tree(horse)
            run_one()
            assert work_horse(worker.pid) != horse and worker.poll() is None
    finally:
        stop_process(worker)
        server.stop()
        redis_process.terminate()


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (field 3 onwards)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def work_horse(worker_pid: int) -> int:
    """The worker's work horse: its newest child (the other is RQ's scheduler, forked at start)."""
    children = [pid for pid in descendants(worker_pid) if int(_stat(pid)[1]) == worker_pid]
    return max(children, key=lambda pid: int(_stat(pid)[19]))  # field 22: start time


def test_a_job_survives_its_worker_being_killed(tmp_path):
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    first = start_worker(tmp_path, redis_url)
    second = None
    pages = 24
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            url = submit_long_job(client, pages)
            wait_until_midway(client, url)
            kill_tree(first.pid)
            first.wait(timeout=10)
            killed_at = time.monotonic()
            time.sleep(2)
            assert client.get(url).json()["status"] in ("PROCESSING", "ENQUEUED")  # not ERROR, not lost

            second = start_worker(tmp_path, redis_url)
            status = wait_until_finished(client, url, timeout=120)
            assert status["status"] == "SUCCESS", status
            assert len(status["result"]["pages"]) == pages
            # Found abandoned, requeued and run again, all within a minute of the kill.
            assert time.monotonic() - killed_at < 60
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                stop_process(process)
        server.stop()
        redis_process.terminate()


def running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def test_a_killed_worker_leaves_no_process_behind(tmp_path):
    """A worker SIGKILLed mid-job takes its work horse (and the horse's programs) and RQ's
    scheduler with it: nothing it started keeps running, orphaned, holding memory."""
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    worker = start_worker(tmp_path, redis_url)
    below: list[int] = []
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            url = submit_long_job(client, pages=12)
            wait_until_midway(client, url)
            below = descendants(worker.pid)
            assert work_horse(worker.pid) in below and len(below) >= 2  # the horse and the scheduler
            worker.kill()
            worker.wait(timeout=10)
            wait_until(lambda: not any(running(pid) for pid in below), 5, "the worker's children to end")
    finally:
        if worker.poll() is None:
            stop_process(worker)
        for pid in below:  # what a failing run left behind
            if running(pid):
                os.kill(pid, signal.SIGKILL)
        server.stop()
        redis_process.terminate()


class MonitorWoke(Exception):
    """What RQ's monitor raises from its SIGALRM handler to send heartbeats mid-job."""


def monitor_woke(_signum, _frame):
    raise MonitorWoke


class AlarmAsTheAnswerIsRead(ResidentHorseWorker):
    """The monitor's alarm coming at the worst moment: just as the horse's answer is read."""

    def _read_answer(self):
        answer = super()._read_answer()
        signal.raise_signal(signal.SIGALRM)
        return answer


def test_the_monitors_alarm_as_the_horses_answer_is_read_loses_no_answer(tmp_path):
    """RQ's monitor wakes every few seconds (SIGALRM) to keep the heartbeats while the horse
    works. Coming just as the horse's answer is read, its exception must not lose the answer:
    the worker would then wait for the job's timeout (minutes) before taking the next job."""
    redis_process, redis_url = start_redis(tmp_path)
    answers, horse_end = os.pipe()
    previous = signal.signal(signal.SIGALRM, monitor_woke)
    try:
        connection = Redis.from_url(redis_url)
        worker = AlarmAsTheAnswerIsRead([Queue("lector", connection=connection)], connection=connection)
        worker._from_horse, worker._resident = answers, 4242  # a horse that has answered "done"
        os.write(horse_end, b"d")
        with pytest.raises(MonitorWoke):
            worker.wait_for_horse()
        signal.setitimer(signal.ITIMER_REAL, 5)  # an answer lost would leave the next call waiting
        assert worker.wait_for_horse() == (4242, 0, None)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        os.close(answers)
        os.close(horse_end)
        stop_process(redis_process)
