"""Workers on other machines: three hosts on a private network made here (``tests.hosts``).

The "api" host runs Redis with a password, SeaweedFS (a real S3 server) and the API; two worker
hosts run only ``lector worker``, installed from the wheel into their own environment, with
their own env file and nothing shared but the network (``tests.fleet``). Which host ran a job
is what Redis saw: RQ records the worker on the job and the address each worker connects from;
each host's own log says the same.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import urlsplit

import httpx
from rq.job import Job

from fixtures.generate import PAGES, encode, image_pdf, page_image
from tests.fleet import ADMIN_KEY, Fleet, HostWorker, fleet

JOBS = 60
LONG_PAGES = 12
QUOTA = 100


def small_document(number: int) -> tuple[str, dict]:
    """A strip of one line naming job ``number``: the line and the request body."""
    line = f"Parcel {number:02d} left the depot"
    image = page_image([line], size=(300, 100))
    body = {"image_base64": base64.b64encode(encode(image, "PNG")).decode(), "document_type_code": "text"}
    return line, body


def finished(client: httpx.Client, conversion_id: str, timeout: float) -> dict:
    """The conversion's status once it ends (SUCCESS or ERROR); fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 5}).json()
        if status["status"] in ("SUCCESS", "ERROR"):
            return status
    raise AssertionError(f"{conversion_id} did not end in {timeout} s: {status}")


def events(worker: HostWorker) -> list[dict]:
    """What a worker logged, one JSON event a line."""
    return [json.loads(line) for line in worker.logs().splitlines() if line.startswith("{")]


def done_in_log(worker: HostWorker) -> set[str]:
    """The conversions a worker's log says it finished."""
    return {event["conversion_id"] for event in events(worker) if event["event"] == "work done"}


def ran_on(running: Fleet, conversion_id: str, workers: dict[str, str]) -> str:
    """The host whose worker RQ says ran (or runs) the conversion's job."""
    name = Job.fetch(conversion_id, connection=running.redis).worker_name
    return workers.get(name or "", f"no host ({name!r})")


def test_two_worker_hosts_share_the_jobs_and_one_dying_loses_nothing(tmp_path, wheel):
    started = time.monotonic()
    with fleet(tmp_path, wheel, ("one", "two"), start=("one", "two")) as running:
        workers = running.wait_for_workers("one", "two")
        assert sorted(workers.values()) == ["one", "two"], workers
        # Each worker read its env file: it names the api host's Redis and store, never a secret.
        redis = urlsplit(running.shared["LECTOR_REDIS_URL"])
        for worker in running.workers.values():
            said = {event["event"]: event for event in events(worker)}
            assert said["redis"]["at"] == f"{running.api.address}:{redis.port} db 0", said["redis"]
            assert said["store"]["at"].endswith(running.shared["AWS_ENDPOINT_URL"]), said["store"]
            assert redis.password and redis.password not in worker.logs()
        assert redis.password not in running.server.logs()
        with httpx.Client(base_url=running.url, headers={"X-API-Key": ADMIN_KEY}, timeout=60) as admin:
            made = admin.post("/admin/keys", json={"name": "multi-host", "quota": QUOTA})
            assert made.status_code == 201, made.text
        key = made.json()["key"]
        ready = time.monotonic()

        as_key = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=running.url, headers=as_key, timeout=60) as client:
            # Sixty small jobs, all at once: both hosts take some, and every one succeeds.
            lines = {}
            for number in range(JOBS):
                line, body = small_document(number)
                answer = client.post("/api/convert-async", json=body)
                assert answer.status_code == 202, answer.text
                lines[answer.json()["conversion_id"]] = line
            for conversion_id, line in lines.items():
                status = finished(client, conversion_id, timeout=120)
                assert status["status"] == "SUCCESS", status
                assert line in " ".join(status["data"]["text"].split()), (line, status["data"])
            hosts = {conversion_id: ran_on(running, conversion_id, workers) for conversion_id in lines}
            shares = {name: sorted(hosts.values()).count(name) for name in ("one", "two")}
            assert sum(shares.values()) == JOBS and all(shares.values()), shares
            for name, worker in running.workers.items():
                assert done_in_log(worker) == {job for job, host in hosts.items() if host == name}
            small_done = time.monotonic()

            # A long job; once a host is midway through it, that host dies (every process on it
            # SIGKILLed). The other host finds the job abandoned and runs it again.
            pdf = image_pdf([page_image(PAGES[index % len(PAGES)]) for index in range(LONG_PAGES)])
            answer = client.post(
                "/api/convert-async", files={"image": ("long.pdf", pdf)}, data={"document_type_code": "text"}
            )
            assert answer.status_code == 202, answer.text
            long_id = answer.json()["conversion_id"]
            deadline = time.monotonic() + 60
            while (status := client.get(f"/api/convert-async/status/{long_id}").json())["progress"] == 0:
                assert status["status"] in ("ENQUEUED", "PROCESSING") and time.monotonic() < deadline, status
                time.sleep(0.05)
            victim = ran_on(running, long_id, workers)
            survivor = {"one": "two", "two": "one"}[victim]
            killed = running.hosts[victim].crash()
            assert running.workers[victim].process.pid in killed
            assert running.workers[victim].process.wait(timeout=10) < 0
            crashed = time.monotonic()

            status = finished(client, long_id, timeout=120)
            assert status["status"] == "SUCCESS", status
            assert len(status["result"]["pages"]) == LONG_PAGES
            assert ran_on(running, long_id, workers) == survivor
            assert long_id in done_in_log(running.workers[survivor])
            assert long_id not in done_in_log(running.workers[victim])
            recovered = time.monotonic()

            # Nothing lost: every job ended in SUCCESS. Nothing booked twice: the key was charged
            # once per document, and the pages of the long job count once.
            for conversion_id in [*lines, long_id]:
                assert client.get(f"/api/convert-async/status/{conversion_id}").json()["status"] == "SUCCESS"
            account = client.get("/api/account").json()
            documents = JOBS + 1
            assert account["quota_remaining"] == QUOTA - documents, account
            totals = account["totals"]
            assert (totals["requests"], totals["documents"]) == (documents, documents), totals
            assert totals["pages_ocr"] == JOBS + LONG_PAGES, totals
            assert totals["failures"] == 0, totals
    print(
        f"\nmulti-host: ready {ready - started:.1f} s, {JOBS} jobs {small_done - ready:.1f} s "
        f"({shares}), killed mid-job after {crashed - small_done:.1f} s, finished on the other host "
        f"{recovered - crashed:.1f} s later, stopped {time.monotonic() - recovered:.1f} s later"
    )
