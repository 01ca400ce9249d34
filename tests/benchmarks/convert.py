"""``make bench``: file conversions against the tools a user would otherwise call, in one run.

1. An A4 colour page (300 dpi PNG) to JPEG at quality 85 through ``POST /api/convert-file``,
   against Pillow called directly in this process on the same bytes with the same options
   (open, apply EXIF orientation, save as JPEG at 85). Interleaved, median of 9.
2. A 12-page scan to a searchable PDF through the same endpoint, against
   ``ocrmypdf --output-type pdf -j <cores>`` on the same file: wall time and output size.
   Interleaved, median of 3.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image, ImageOps

from fixtures.generate import image_pdf
from tests.benchmarks.async_ocrmypdf import NO_OCRMYPDF, ocrmypdf_binary, ocrmypdf_version
from tests.benchmarks.services import services
from tests.benchmarks.sync import COLUMNS, scanned
from tests.benchmarks.tables import Row, add_smoke_flag, publish, table, title
from tests.helpers import API_KEY

SCAN_PAGES = 12
SMOKE_SCAN_PAGES = 2


def colour_page(smoke: bool = False) -> bytes:
    """An A4 page at 300 dpi in colour: the scan, tinted, with a coloured band."""
    page = scanned(7, smoke).convert("RGB")
    tint = Image.new("RGB", page.size, (255, 244, 214))
    page = Image.blend(page, tint, 0.25)
    page.paste((30, 90, 180), (0, 0, page.width, 220))
    out = io.BytesIO()
    page.save(out, format="PNG", dpi=(300, 300))
    return out.getvalue()


def pillow_jpeg(data: bytes) -> float:
    started = time.perf_counter()
    image = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85)
    return time.perf_counter() - started


def lector(client: httpx.Client, data: bytes, name: str, target: str) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.post("/api/convert-file", files={"image": (name, data)}, data={"target_format": target})
    elapsed = time.perf_counter() - started
    assert response.status_code == 200, response.text
    return elapsed, len(response.content)


def ocrmypdf(binary: str, source: Path, work: Path) -> tuple[float, int]:
    out = work / "ocrmypdf.pdf"
    command = [binary, "--output-type", "pdf", "-j", str(os.cpu_count()), "-q", str(source), str(out)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, out.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-runs", type=int, default=9)
    parser.add_argument("--pdf-runs", type=int, default=3)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    image_runs, pdf_runs = (1, 1) if smoke else (args.image_runs, args.pdf_runs)
    scan_pages = SMOKE_SCAN_PAGES if smoke else SCAN_PAGES
    binary = ocrmypdf_binary(smoke=smoke)
    work = Path(tempfile.mkdtemp(prefix="lector-bench-convert-"))
    page = colour_page(smoke)
    scan_path = work / "scan.pdf"
    scan_path.write_bytes(image_pdf([scanned(seed, smoke) for seed in range(500, 500 + scan_pages)]))
    scan = scan_path.read_bytes()

    ours, pillow, our_pdf, their_pdf = [], [], [], []
    with (
        services(smoke=smoke) as running,
        httpx.Client(base_url=running.server.url, headers={"X-API-Key": API_KEY}, timeout=600) as client,
    ):
        lector(client, page, "page.png", "jpg")  # warm-up
        for _ in range(image_runs):
            pillow.append(pillow_jpeg(page))
            ours.append(lector(client, page, "page.png", "jpg")[0])
        for _ in range(pdf_runs):
            if binary:
                their_pdf.append(ocrmypdf(binary, scan_path, work))
            our_pdf.append(lector(client, scan, "scan.pdf", "pdf"))

    image_ours, image_theirs = statistics.median(ours), statistics.median(pillow)
    pdf_ours = statistics.median(seconds for seconds, _ in our_pdf)
    size_ours = our_pdf[-1][1]
    rows: list[Row] = [
        (
            f"{'small' if smoke else 'A4'} colour PNG to JPEG q85, `POST /api/convert-file`: median latency",
            f"{image_ours:.3f} s",
            f"{image_theirs:.3f} s (Pillow in-process)",
            f"{image_ours / image_theirs:.2f}",
            "≤ 1.2",
        )
    ]
    time_cells, size_cells = [NO_OCRMYPDF, "—"], [NO_OCRMYPDF, "—"]
    if their_pdf:
        pdf_theirs = statistics.median(seconds for seconds, _ in their_pdf)
        size_theirs = their_pdf[-1][1]
        time_cells = [
            f"{pdf_theirs:.2f} s (ocrmypdf --output-type pdf -j {os.cpu_count()})",
            f"{pdf_ours / pdf_theirs:.2f}",
        ]
        size_cells = [f"{size_theirs / 1e6:.2f} MB (the same ocrmypdf)", f"{size_ours / size_theirs:.2f}"]
    measure = f"{scan_pages}-page scan to a searchable PDF"
    rows.append((f"{measure}: median wall time", f"{pdf_ours:.2f} s", *time_cells, "≤ 0.7"))
    rows.append((f"{measure}: output size", f"{size_ours / 1e6:.2f} MB", *size_cells, "≤ 1.2"))
    heading = title("Lector conversion benchmark", ocrmypdf_version(binary))
    publish("convert", [table(heading, COLUMNS, rows)], smoke=smoke)


if __name__ == "__main__":
    main()
