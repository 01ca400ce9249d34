"""``make bench``: throughput with two worker hosts against one, each host's worker on one core.

The hosts of the multi-host test (``tests.fleet``): an api host with Redis (with a password),
SeaweedFS and the API, and worker hosts on their own network namespaces, each running the
wheel's ``lector worker`` pinned to one core (``taskset``). A set of multi-page scans goes
through ``POST /api/convert-async`` at once, timed from the first submission to the last
SUCCESS, with the workers of hosts one (core 0) and two (core 1), then with host one's alone.
Runs are interleaved (host two's worker stops after each two-host run and starts again before
the next); the table shows medians. The API, Redis and the store run unpinned beside the workers, as their
work per job is small.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from fixtures.generate import PAGES, image_pdf, page_image
from tests.benchmarks.sync import COLUMNS
from tests.benchmarks.tables import add_smoke_flag, publish, table, tesseract, title
from tests.fleet import Fleet, fleet
from tests.helpers import API_KEY
from tests.installs import build_wheel

#: Documents per run and pages per document; the smoke form's are one-line strips.
DOCUMENTS, PAGES_EACH = 8, 3
SMOKE_DOCUMENTS, SMOKE_PAGES_EACH = 2, 1
#: The core each worker host's worker is pinned to.
CPUS = {"one": 0, "two": 1}


def documents(count: int, pages: int, smoke: bool) -> list[bytes]:
    """``count`` image-only PDFs of ``pages`` clean scanned pages (in the smoke form, strips)."""
    size = {"size": (300, 100)} if smoke else {}
    images = [page_image(PAGES[index % len(PAGES)][:1] if smoke else PAGES[index % len(PAGES)], **size)
              for index in range(pages)]  # fmt: skip
    return [image_pdf(images) for _ in range(count)]


def run_all(client: httpx.Client, pdfs: list[bytes], pages: int) -> float:
    """Seconds from submitting every document to seeing the last one SUCCESS, all pages read."""
    started = time.perf_counter()
    ids = []
    for pdf in pdfs:
        answer = client.post(
            "/api/convert-async", files={"image": ("scan.pdf", pdf)}, data={"document_type_code": "text"}
        )
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["conversion_id"])
    for conversion_id in ids:
        while True:
            status = client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 30}).json()
            if status["status"] not in ("ENQUEUED", "PROCESSING"):
                break
        assert status["status"] == "SUCCESS" and len(status["result"]["pages"]) == pages, status
    return time.perf_counter() - started


def two_hosts(running: Fleet, client: httpx.Client, pdfs: list[bytes], pages: int) -> float:
    """run_all with host two's worker beside host one's (started for it when it is not running),
    then stops host two's worker."""
    try:
        if "two" not in running.workers:
            running.start_worker("two")
        running.wait_for_workers("one", "two")
        return run_all(client, pdfs, pages)
    finally:
        running.stop_worker("two")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    runs = 1 if smoke else args.runs
    count, pages = (SMOKE_DOCUMENTS, SMOKE_PAGES_EACH) if smoke else (DOCUMENTS, PAGES_EACH)
    pdfs = documents(count, pages, smoke)

    # Short: the store's unix sockets live under it, and their paths may not exceed 107 bytes.
    work = Path(tempfile.mkdtemp(prefix="lector-hosts-"))
    one, two = [], []
    hosts = ("one", "two")
    try:
        wheel = build_wheel(work / "dist")
        with fleet(work, wheel, hosts, start=hosts, cpus=CPUS, LECTOR_LOG_LEVEL="warning") as running:
            running.wait_for_workers(*hosts)
            with httpx.Client(base_url=running.url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
                if not smoke:
                    run_all(client, pdfs[:2], pages)  # warm both up
                for _ in range(runs):
                    two.append(two_hosts(running, client, pdfs, pages))
                    one.append(run_all(client, pdfs, pages))
    finally:
        shutil.rmtree(work, ignore_errors=True)  # two environments and a store: not worth keeping

    total = count * pages
    one_pps, two_pps = total / statistics.median(one), total / statistics.median(two)
    row = (
        f"{count} scans of {pages} page{'s' if pages > 1 else ''}, async: pages/s with 2 worker hosts "
        f"of 1 core each (median of {runs})",
        f"{two_pps:.2f} pages/s (2 hosts)",
        f"{one_pps:.2f} pages/s (1 host of 1 core)",
        f"{two_pps / one_pps:.2f}",
        "≥ 1.8",
    )
    heading = title(
        "Lector multi-host benchmark", "worker hosts on network namespaces, 1 core each", tesseract()
    )
    publish("multi_host", [table(heading, COLUMNS, [row])], smoke=smoke)


if __name__ == "__main__":
    main()
