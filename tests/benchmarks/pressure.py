"""``make bench``: backpressure. Forty concurrent uploads of an 81-megapixel scan to the sync
endpoint: every answer must be 200 or 503, and the API's peak memory is printed beside its
memory at rest, measured in the same run. Then the same scan converted at once to the
costly encoders' formats (WebP, AVIF, HEIC), two at a time: every answer must be 200 or 413,
and the API's resident memory is sampled while they run."""

from __future__ import annotations

import argparse
import io
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from PIL import Image, ImageDraw

from tests.benchmarks.services import services
from tests.benchmarks.sync import memory_mb, sampled_peak
from tests.benchmarks.tables import add_smoke_flag, publish, table, title
from tests.helpers import API_KEY

UPLOADS = 40
SIDE = 9000  # 81 megapixels
#: The targets whose encoders hold many times a page's pixels (service.convert.formats).
COSTLY_TARGETS = ("webp", "avif", "heic")
#: The smoke form's uploads and side: a few small scans.
SMOKE_UPLOADS, SMOKE_SIDE = 4, 1200


def large_scan(side: int = SIDE) -> bytes:
    """A ``side`` × ``side`` grayscale PNG with lines of text."""
    image = Image.new("L", (side, side), 255)
    draw = ImageDraw.Draw(image)
    for top in range(200, side - 200, 400):
        draw.text((300, top), "Invoice total 123.45 due date 2026-11-23 " * 5, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_flag(parser)
    smoke = parser.parse_args(argv).smoke
    uploads, side = (SMOKE_UPLOADS, SMOKE_SIDE) if smoke else (UPLOADS, SIDE)
    scan = large_scan(side)
    with services(smoke=smoke) as running:
        pid = running.server.process.pid
        at_rest = memory_mb(pid)
        with (
            httpx.Client(base_url=running.server.url, headers={"X-API-Key": API_KEY}, timeout=600) as client,
            ThreadPoolExecutor(uploads) as pool,
        ):
            started = time.perf_counter()
            answers = list(
                pool.map(
                    lambda _: client.post(
                        "/api/ocr/extract-text-from-file", files={"file": ("scan.png", scan)}
                    ),
                    range(uploads),
                )
            )
            seconds = time.perf_counter() - started
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {200, 503}, statuses
        peak, after = memory_mb(pid), memory_mb(pid, "VmRSS")
        encoded, encode_seconds, encode_peak = _costly_encodes(running.server.url, scan, pid)

    megapixels = side * side / 1e6
    rows = [
        (
            f"{uploads} concurrent {megapixels:.0f}-megapixel PNG uploads: answers",
            f"{statuses.count(200)} × 200, {statuses.count(503)} × 503 in {seconds:.0f} s",
            "only 200 or 503",
        ),
        (
            "API memory: at rest / peak / after",
            f"{at_rest:.0f} / {peak:.0f} / {after:.0f} MiB",
            "peak < 800 MiB",
        ),
        (
            f"the scan to {', '.join(COSTLY_TARGETS)} at once, two at a time: answers",
            ", ".join(f"{count} × {status}" for status, count in sorted(encoded.items()))
            + f" in {encode_seconds:.1f} s",
            "only 200 or 413",
        ),
        (
            "API memory during those conversions: before / peak",
            f"{after:.0f} / {encode_peak:.0f} MiB",
            "peak < 800 MiB",
        ),
    ]
    heading = title("Lector backpressure benchmark")
    publish("pressure", [table(heading, ("measure", "Lector", "goal"), rows)], smoke=smoke)


def _costly_encodes(url: str, scan: bytes, pid: int) -> tuple[dict[int, int], float, float]:
    """Convert ``scan`` to each costly target twice, two requests at a time; the answers by
    status, the seconds they took, and the API's largest resident set sampled meanwhile."""
    with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=600) as client:

        def convert(target: str) -> int:
            files = {"image": ("scan.png", scan)}
            return client.post("/api/convert-file", files=files, data={"target_format": target}).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            statuses, peak = sampled_peak(pid, lambda: list(pool.map(convert, COSTLY_TARGETS * 2)))
    seconds = time.perf_counter() - started
    assert set(statuses) <= {200, 413}, statuses
    return {status: statuses.count(status) for status in set(statuses)}, seconds, peak


if __name__ == "__main__":
    main()
