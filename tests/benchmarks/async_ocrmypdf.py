"""``make bench`` (second table): the asynchronous endpoint against OCRmyPDF.

A 40-page image-only PDF through ``POST /api/convert-async`` with ``make run``'s default two
workers, timed from submission to SUCCESS, against ``ocrmypdf --output-type none --sidecar``
(its cheapest output: text only) with ``-j`` set to the core count, on the same file in the
same run. Runs are interleaved; the table shows medians.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from fixtures.generate import image_pdf
from tests.benchmarks.sync import scanned
from tests.helpers import API_KEY, ROOT, start_redis, start_server, start_worker, stop_process

PAGES = 40
WORKERS = 2  # make run's default (LECTOR_WORKERS)


def ocrmypdf_binary() -> str:
    """OCRmyPDF from the benchmark's own environment (make bench installs it), or from PATH."""
    local = ROOT / ".bench-venv" / "bin" / "ocrmypdf"
    found = str(local) if local.exists() else shutil.which("ocrmypdf")
    if not found:
        raise SystemExit("ocrmypdf is not installed: run `make bench`, which installs it into .bench-venv")
    return found


def run_ocrmypdf(binary: str, pdf: Path, work: Path) -> float:
    """Seconds for OCRmyPDF to write the text of ``pdf`` to a sidecar file."""
    sidecar = work / "sidecar.txt"
    command = [binary, "--output-type", "none", "--sidecar", str(sidecar), "-j", str(os.cpu_count()), "-q",
               str(pdf), "-"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    assert sidecar.stat().st_size > 1000, "OCRmyPDF wrote no text"
    return elapsed


def run_lector(client: httpx.Client, pdf: bytes) -> float:
    """Seconds from submitting ``pdf`` to seeing it SUCCESS."""
    started = time.perf_counter()
    response = client.post(
        "/api/convert-async", files={"image": ("scan.pdf", pdf)}, data={"document_type_code": "text"}
    )
    assert response.status_code == 202, response.text
    url = f"/api/convert-async/status/{response.json()['conversion_id']}"
    while True:
        status = client.get(url, params={"wait": 30}).json()
        if status["status"] in ("SUCCESS", "FAILED"):
            break
    elapsed = time.perf_counter() - started
    assert status["status"] == "SUCCESS" and len(status["data"]["pages"]) == PAGES, status
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    binary = ocrmypdf_binary()
    version = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()

    work = Path(tempfile.mkdtemp(prefix="lector-bench-async-"))
    pdf_path = work / "scan.pdf"
    pdf_path.write_bytes(image_pdf([scanned(seed) for seed in range(300, 300 + PAGES)]))
    pdf = pdf_path.read_bytes()

    redis_process, redis_url = start_redis(work)
    server = start_server(work, LECTOR_REDIS_URL=redis_url, LECTOR_LOG_LEVEL="warning")
    workers = [start_worker(work, redis_url, LECTOR_LOG_LEVEL="warning") for _ in range(WORKERS)]
    ours, theirs = [], []
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
            for _ in range(args.runs):
                theirs.append(run_ocrmypdf(binary, pdf_path, work))
                ours.append(run_lector(client, pdf))
    finally:
        for worker in workers:
            stop_process(worker)
        server.stop()
        redis_process.terminate()

    lector_pps, ocrmypdf_pps = PAGES / statistics.median(ours), PAGES / statistics.median(theirs)
    print(f"\nLector async benchmark — {os.cpu_count()} cores, {WORKERS} workers, OCRmyPDF {version}, "
          f"{time.strftime('%Y-%m-%d')}\n")  # fmt: skip
    print("| measure | Lector | reference | ratio | goal |")
    print("|---|---|---|---|---|")
    print(
        f"| {PAGES}-page image-only PDF, async endpoint: pages/s (median of {args.runs}) "
        f"| {lector_pps:.2f} pages/s | {ocrmypdf_pps:.2f} pages/s (ocrmypdf --output-type none --sidecar "
        f"-j {os.cpu_count()}) | {lector_pps / ocrmypdf_pps:.2f} | ≥ 1.2 |"
    )


if __name__ == "__main__":
    main()
