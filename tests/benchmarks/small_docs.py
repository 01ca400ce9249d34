"""``make bench``: many small documents, against the raw Tesseract CLI in the same run.

Batch receipt extraction is a main use of Lector, so the per-document cost around the OCR
(queueing, workers, blob reads, record writes) must stay small beside the OCR itself.

1. a batch of receipts (default 100 from sroie-dev, read in place) through ``POST /api/batches``
   with two workers, from submission to the last item done, against the ``tesseract`` CLI run
   two at a time over the same files (the 2-core machine's best);
2. one small receipt through the sync endpoint against one CLI run on it.

Runs are interleaved so that noise on a shared machine hits both sides alike; medians.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image

from fixtures.generate import encode, receipt
from tests.benchmarks.services import WORKERS, services
from tests.benchmarks.sync import COLUMNS, request_body, tesseract_cli, tesseract_env
from tests.benchmarks.tables import Row, add_smoke_flag, publish, table, tesseract, title
from tests.helpers import API_KEY

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "sroie-dev"
#: How often the batch's status is asked, as `lector batch` does: each ask reads every item.
POLL_S = 0.5


def receipts(data: Path, count: int) -> list[Path]:
    """The first ``count`` receipt images of the data set, in name order (repeated if short)."""
    images = sorted((data / "img").glob("*.jpg"))
    if not images:
        raise SystemExit(f"no receipts in {data / 'img'}; give --data")
    return [images[index % len(images)] for index in range(count)]


def generated_receipts(folder: Path, count: int) -> list[Path]:
    """``count`` copies of the generated receipt (fixtures/generate.py): the smoke form's batch,
    which needs no data set."""
    folder.mkdir(parents=True, exist_ok=True)
    data = encode(Image.open(io.BytesIO(receipt())).convert("L"), "JPEG", quality=90)
    paths = [folder / f"{index:03d}.jpg" for index in range(count)]
    for path in paths:
        path.write_bytes(data)
    return paths


def cli_two_at_a_time(paths: list[Path]) -> float:
    """Seconds for ``tesseract FILE stdout`` over every file, two processes at a time."""
    env = tesseract_env(single_thread=True)

    def one(path: Path) -> None:
        subprocess.run(["tesseract", str(path), "stdout"], env=env, capture_output=True, check=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(one, paths))
    return time.perf_counter() - started


def batch_seconds(client: httpx.Client, paths: list[Path]) -> float:
    """Seconds from submitting the batch to its last item done; every item must succeed."""
    files = [("files", (path.name, path.read_bytes(), "image/jpeg")) for path in paths]
    started = time.perf_counter()
    answer = client.post(
        "/api/batches", files=files, data={"document_type_code": "receipt", "engine": "tesseract"}
    )
    assert answer.status_code == 202, answer.text
    status_url = answer.json()["status_url"]
    while True:
        status = client.get(status_url).json()
        if status["status"] not in ("ENQUEUED", "PROCESSING"):
            break
        time.sleep(POLL_S)
    elapsed = time.perf_counter() - started
    assert status["status"] == "SUCCESS", status
    return elapsed


def sync_seconds(client: httpx.Client, body: bytes) -> float:
    """Seconds for one sync OCR request of a receipt on Tesseract, checked."""
    started = time.perf_counter()
    answer = client.post(
        "/api/ocr/extract-text",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return elapsed


def row(measure: str, ours: list[float], reference: list[float], name: str, goal: str) -> Row:
    """A table row of the medians and their ratio."""
    ours_s, reference_s = statistics.median(ours), statistics.median(reference)
    return (measure, f"{ours_s:.2f} s", f"{reference_s:.2f} s ({name})", f"{ours_s / reference_s:.2f}", goal)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="a folder with img/*.jpg receipts")
    parser.add_argument("--count", type=int, default=100, help="receipts in the batch")
    parser.add_argument("--runs", type=int, default=3, help="batch runs per side")
    parser.add_argument("--sync-runs", type=int, default=15, help="sync runs per side")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    work = Path(tempfile.mkdtemp(prefix="lector-bench-"))
    if smoke:
        paths, runs, sync_runs = generated_receipts(work / "img", 2), 1, 1
    else:
        paths, runs, sync_runs = receipts(args.data, args.count), args.runs, args.sync_runs
    rows: list[Row] = []
    settings = {"LECTOR_MAX_BATCH_ITEMS": str(max(len(paths), 1000))}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with (
        services(smoke=smoke, workers=WORKERS, **settings) as running,
        httpx.Client(base_url=running.server.url, headers=headers, timeout=600) as client,
    ):
        if not smoke:
            batch_seconds(client, paths[:4])  # warm both sides up
            cli_two_at_a_time(paths[:4])
        ours, reference = [], []
        for _ in range(runs):
            reference.append(cli_two_at_a_time(paths))
            ours.append(batch_seconds(client, paths))
        rows.append(
            row(
                f"{len(paths)} receipts as one batch, 2 workers",
                ours,
                reference,
                "CLI, 2 at a time",
                "≤ 1.15",
            )
        )

        small = min(paths, key=lambda path: path.stat().st_size)
        body = request_body(small.read_bytes())
        sync_seconds(client, body)
        ours, reference = [], []
        for _ in range(sync_runs):
            reference.append(tesseract_cli(small))
            ours.append(sync_seconds(client, body))
        rows.append(row("1 small receipt, sync: median latency", ours, reference, "CLI", "≤ 1.10"))

    heading = title("Lector small-documents benchmark", tesseract())
    publish("small_docs", [table(heading, COLUMNS, rows)], smoke=smoke)


if __name__ == "__main__":
    main()
