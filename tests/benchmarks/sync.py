"""``make bench``: the sync endpoint against raw Tesseract, measured in one run.

Every row compares Lector with a reference measured in the same run on the same inputs,
with runs interleaved so that noise on a shared machine hits both sides alike. Medians,
not single runs. The table goes into docs/benchmarks.md (``tests.benchmarks.tables``).

1. one A4 page scanned at 300 dpi: the sync endpoint against ``tesseract page.png stdout``;
2. a 12-page image-only PDF: the sync endpoint against 12 sequential CLI runs of its pages;
3. a 200-page PDF with a text layer: pages per second, and the server's peak memory;
4. why Tesseract runs single-threaded: two pages at once, with and without its own threads.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx
import msgspec
import pymupdf
from PIL import Image, ImageFilter

from fixtures.generate import A4, DPI, image_pdf, render, text_pdf
from tests.benchmarks.services import services
from tests.benchmarks.tables import Row, add_smoke_flag, publish, table, tesseract, title
from tests.helpers import API_KEY

T = TypeVar("T")

#: The columns of a table that compares Lector with a reference.
COLUMNS = ("measure", "Lector", "reference", "ratio", "goal")
#: The smoke form's page: three lines on a strip of paper, not 52 lines on A4.
SMOKE_PAGE = {"lines": 3, "size": (480, 140)}

WORDS = (
    "the invoice total amount payment due date customer account number order quantity price "
    "description shipping address tax subtotal balance reference service delivery product item "
    "unit credit bank transfer of for and with from to on at by please remit within days thank you"
).split()


def dense_lines(seed: int, count: int = 52) -> list[str]:
    """Lines of business prose that fill an A4 page, the same for the same seed."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 11))]
        if rng.random() < 0.4:
            words.append(f"{rng.randint(1, 9999)}.{rng.randint(0, 99):02d}")
        lines.append(" ".join(words).capitalize())
    return lines


def scanned(seed: int, smoke: bool = False) -> Image.Image:
    """An A4 page of text as a scanner would give it: slightly skewed, soft, a little noisy
    (in the smoke form, a strip of three lines)."""
    lines, size = (SMOKE_PAGE["lines"], SMOKE_PAGE["size"]) if smoke else (52, A4)
    page = render(text_pdf([dense_lines(seed, lines)], size=size, fontsize=10.5)[0], DPI)
    rng = random.Random(seed)
    page = page.rotate(rng.uniform(-0.6, 0.6), resample=Image.Resampling.BICUBIC, fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(0.6))
    noise = Image.effect_noise(page.size, 12).point(lambda v: v - 128)
    page = Image.blend(page, noise.convert("L"), 0.04)
    page.info["dpi"] = (DPI, DPI)
    return page


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(DPI, DPI))
    return buffer.getvalue()


def tesseract_env(*, single_thread: bool) -> dict[str, str]:
    """The environment for a CLI run, with or without Tesseract's own threads."""
    env = {name: value for name, value in os.environ.items() if name != "OMP_THREAD_LIMIT"}
    if single_thread:
        env["OMP_THREAD_LIMIT"] = "1"
    return env


def tesseract_cli(path: Path, *, single_thread: bool = True) -> float:
    """Seconds for one ``tesseract FILE stdout`` run."""
    env = tesseract_env(single_thread=single_thread)
    started = time.perf_counter()
    subprocess.run(["tesseract", str(path), "stdout"], env=env, capture_output=True, check=True)
    return time.perf_counter() - started


def two_at_once(path: Path, *, single_thread: bool) -> float:
    """Seconds for two concurrent CLI runs on ``path`` (a busy 2-core machine)."""
    env = tesseract_env(single_thread=single_thread)
    started = time.perf_counter()
    runs = [
        subprocess.Popen(
            ["tesseract", str(path), "stdout"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        for _ in range(2)
    ]
    for run in runs:
        run.wait()
    return time.perf_counter() - started


def request_body(document: bytes) -> bytes:
    """The JSON body for ``document``, encoded once: the client's encoding is not Lector's time."""
    return msgspec.json.encode({"image": base64.b64encode(document).decode()})


def post(client: httpx.Client, body: bytes) -> float:
    """Seconds for one sync OCR request (the HTTP exchange and the server's work), checked."""
    started = time.perf_counter()
    headers = {"Content-Type": "application/json"}
    response = client.post("/api/ocr/extract-text", content=body, headers=headers)
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed


def compare(
    measure: str, ours: Callable[[], float], reference: Callable[[], float], name: str, runs: int, goal: str
) -> Row:
    """Time both sides ``runs`` times, interleaved, and make a table row of their medians."""
    ours_times, reference_times = [], []
    for _ in range(runs):
        reference_times.append(reference())
        ours_times.append(ours())
    ours_s, reference_s = statistics.median(ours_times), statistics.median(reference_times)
    return (measure, f"{ours_s:.2f} s", f"{reference_s:.2f} s ({name})", f"{ours_s / reference_s:.2f}", goal)


def memory_mb(pid: int, field: str = "VmHWM") -> float:
    """A memory figure of process ``pid`` from /proc, in MiB: by default its resident-set
    high-water mark (``VmRSS`` for the resident set now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def sampled_peak(pid: int, work: Callable[[], T]) -> tuple[T, float]:
    """Run ``work`` while sampling the resident set of process ``pid`` every 10 ms; its
    result and the largest sample, in MiB (the high-water mark would carry the uploads')."""
    peak = memory_mb(pid, "VmRSS")
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, memory_mb(pid, "VmRSS"))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        return work(), peak
    finally:
        done.set()
        sampler.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per side for the one-page row")
    parser.add_argument("--pdf-runs", type=int, default=3, help="runs per side for the 12-page row")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    runs, pdf_runs = (1, 1) if smoke else (args.runs, args.pdf_runs)
    scan_pages, text_pages = (2, 5) if smoke else (12, 200)

    work = Path(tempfile.mkdtemp(prefix="lector-bench-"))
    rows: list[Row] = []
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with (
        services(smoke=smoke, LECTOR_SYNC_MAX_PAGES="200") as running,
        httpx.Client(base_url=running.server.url, headers=headers, timeout=600) as client,
    ):
        # 1. One A4 page (a small one in the smoke form).
        page_path = work / "page.png"
        page_path.write_bytes(png(scanned(1, smoke)))
        document = request_body(page_path.read_bytes())
        post(client, document)  # warm both sides up
        tesseract_cli(page_path)
        rows.append(
            compare(
                f"1 {'small' if smoke else 'A4'} page, 300 dpi scan: median latency",
                lambda: post(client, document),
                lambda: tesseract_cli(page_path),
                "tesseract CLI",
                runs,
                "≤ 1.10",
            )
        )

        # 2. A scanned PDF.
        images = [scanned(seed, smoke) for seed in range(100, 100 + scan_pages)]
        page_paths = []
        for index, image in enumerate(images):
            path = work / f"scan-{index:02d}.png"
            path.write_bytes(png(image))
            page_paths.append(path)
        pdf = request_body(image_pdf(images))
        rows.append(
            compare(
                f"{scan_pages}-page image-only PDF: median wall time",
                lambda: post(client, pdf),
                lambda: sum(tesseract_cli(path) for path in page_paths),
                f"{scan_pages} sequential CLI runs",
                pdf_runs,
                "≤ 0.60",
            )
        )

    # 3. A text-layer PDF, on a fresh server so its peak memory is this run's.
    text_pdf_bytes = text_pdf([dense_lines(seed) for seed in range(text_pages)], fontsize=10.5).tobytes(
        deflate=True
    )
    assert pymupdf.open(stream=text_pdf_bytes).page_count == text_pages
    text_doc = request_body(text_pdf_bytes)
    with (
        services(smoke=smoke, LECTOR_SYNC_MAX_PAGES="200") as running,
        httpx.Client(base_url=running.server.url, headers=headers, timeout=600) as client,
    ):
        post(client, text_doc)
        seconds = statistics.median(post(client, text_doc) for _ in range(1 if smoke else 5))
        peak = memory_mb(running.server.process.pid)
    rows.append(
        (
            f"{text_pages}-page text-layer PDF: throughput",
            f"{text_pages / seconds:.0f} pages/s",
            "—",
            "—",
            "≥ 100 pages/s",
        )
    )
    rows.append((f"{text_pages}-page text-layer PDF: server peak memory", f"{peak:.0f} MiB", "—", "—", "—"))

    # 4. Tesseract's own threads on a busy machine.
    single = statistics.median(
        two_at_once(page_path, single_thread=True) for _ in range(runs if smoke else 3)
    )
    threaded = two_at_once(page_path, single_thread=False)
    rows.append(
        (
            "2 pages at once, OMP_THREAD_LIMIT=1 vs Tesseract's threads",
            f"{single:.2f} s",
            f"{threaded:.2f} s",
            f"{single / threaded:.2f}",
            "—",
        )
    )

    publish("sync", [table(title("Lector sync benchmark", tesseract()), COLUMNS, rows)], smoke=smoke)


if __name__ == "__main__":
    main()
