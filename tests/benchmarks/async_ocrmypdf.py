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
from tests.benchmarks.services import WORKERS, services
from tests.benchmarks.sync import COLUMNS, scanned
from tests.benchmarks.tables import add_smoke_flag, publish, table, title
from tests.helpers import API_KEY, ROOT

PAGES = 40
SMOKE_PAGES = 2
#: What a smoke run's reference cell says when OCRmyPDF is not installed (``make bench-tools``).
NO_OCRMYPDF = "not run: ocrmypdf is not installed (make bench-tools)"


def ocrmypdf_binary(*, smoke: bool = False) -> str | None:
    """OCRmyPDF from the benchmark's own environment (make bench installs it), or from PATH.
    Without it a full run stops; a smoke run goes on without the reference (None)."""
    local = ROOT / ".bench-venv" / "bin" / "ocrmypdf"
    found = str(local) if local.exists() else shutil.which("ocrmypdf")
    if not found and not smoke:
        raise SystemExit("ocrmypdf is not installed: run `make bench`, which installs it into .bench-venv")
    return found


def ocrmypdf_version(binary: str | None) -> str:
    """OCRmyPDF's version, for a title line."""
    if binary is None:
        return "OCRmyPDF not installed"
    return "OCRmyPDF " + subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()


def run_ocrmypdf(binary: str, pdf: Path, work: Path) -> float:
    """Seconds for OCRmyPDF to write the text of ``pdf`` to a sidecar file."""
    sidecar = work / "sidecar.txt"
    command = [binary, "--output-type", "none", "--sidecar", str(sidecar), "-j", str(os.cpu_count()), "-q",
               str(pdf), "-"]  # fmt: skip
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    assert sidecar.stat().st_size > 0, "OCRmyPDF wrote no text"
    return elapsed


def run_lector(client: httpx.Client, pdf: bytes, pages: int) -> float:
    """Seconds from submitting ``pdf`` to seeing it SUCCESS, with every page read."""
    started = time.perf_counter()
    response = client.post(
        "/api/convert-async", files={"image": ("scan.pdf", pdf)}, data={"document_type_code": "text"}
    )
    assert response.status_code == 202, response.text
    url = f"/api/convert-async/status/{response.json()['conversion_id']}"
    while True:
        status = client.get(url, params={"wait": 30}).json()
        if status["status"] not in ("ENQUEUED", "PROCESSING"):
            break
    elapsed = time.perf_counter() - started
    # `data` is the document type's fields; Lector's whole result, with the pages, is `result`.
    assert status["status"] == "SUCCESS" and len(status["result"]["pages"]) == pages, status
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    runs, pages = (1, SMOKE_PAGES) if smoke else (args.runs, PAGES)
    binary = ocrmypdf_binary(smoke=smoke)

    work = Path(tempfile.mkdtemp(prefix="lector-bench-async-"))
    pdf_path = work / "scan.pdf"
    pdf_path.write_bytes(image_pdf([scanned(seed, smoke) for seed in range(300, 300 + pages)]))
    pdf = pdf_path.read_bytes()

    ours, theirs = [], []
    with (
        services(smoke=smoke, workers=WORKERS) as running,
        httpx.Client(base_url=running.server.url, headers={"X-API-Key": API_KEY}, timeout=120) as client,
    ):
        for _ in range(runs):
            if binary:
                theirs.append(run_ocrmypdf(binary, pdf_path, work))
            ours.append(run_lector(client, pdf, pages))

    lector_pps = pages / statistics.median(ours)
    reference, ratio = NO_OCRMYPDF, "—"
    if theirs:
        ocrmypdf_pps = pages / statistics.median(theirs)
        reference = f"{ocrmypdf_pps:.2f} pages/s (ocrmypdf --output-type none --sidecar -j {os.cpu_count()})"
        ratio = f"{lector_pps / ocrmypdf_pps:.2f}"
    row = (
        f"{pages}-page image-only PDF, async endpoint: pages/s (median of {runs})",
        f"{lector_pps:.2f} pages/s",
        reference,
        ratio,
        "≥ 1.2",
    )
    heading = title("Lector async benchmark", f"{WORKERS} workers", ocrmypdf_version(binary))
    publish("async_ocrmypdf", [table(heading, COLUMNS, [row])], smoke=smoke)


if __name__ == "__main__":
    main()
