"""``make bench``: backpressure. Forty concurrent uploads of an 81-megapixel scan to the sync
endpoint: every answer must be 200 or 503, and the API's peak memory is printed beside its
memory at rest, measured in the same run."""

from __future__ import annotations

import io
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

from tests.benchmarks.sync import memory_mb
from tests.helpers import API_KEY, start_redis, start_server

UPLOADS = 40
SIDE = 9000  # 81 megapixels


def large_scan() -> bytes:
    """A 9000 × 9000 grayscale PNG with lines of text."""
    image = Image.new("L", (SIDE, SIDE), 255)
    draw = ImageDraw.Draw(image)
    for top in range(200, SIDE - 200, 400):
        draw.text((300, top), "Invoice total 123.45 due date 2026-11-23 " * 5, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def main() -> None:
    scan = large_scan()
    work = Path(tempfile.mkdtemp(prefix="lector-bench-"))
    redis_process, redis_url = start_redis(work)
    try:
        server = start_server(work, LECTOR_REDIS_URL=redis_url, LECTOR_LOG_LEVEL="warning")
        at_rest = memory_mb(server.process.pid)
        with (
            httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=600) as client,
            ThreadPoolExecutor(UPLOADS) as pool,
        ):
            started = time.perf_counter()
            answers = list(
                pool.map(
                    lambda _: client.post(
                        "/api/ocr/extract-text-from-file", files={"file": ("scan.png", scan)}
                    ),
                    range(UPLOADS),
                )
            )
            seconds = time.perf_counter() - started
        statuses = [answer.status_code for answer in answers]
        assert set(statuses) <= {200, 503}, statuses
        peak, after = memory_mb(server.process.pid), memory_mb(server.process.pid, "VmRSS")
        server.stop()
    finally:
        redis_process.terminate()

    print(f"\nLector backpressure benchmark — {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    print("| measure | Lector | goal |")
    print("|---|---|---|")
    print(
        f"| {UPLOADS} concurrent 81-megapixel PNG uploads: answers | {statuses.count(200)} × 200, "
        f"{statuses.count(503)} × 503 in {seconds:.0f} s | only 200 or 503 |"
    )
    print(
        f"| API memory: at rest / peak / after | {at_rest:.0f} / {peak:.0f} / {after:.0f} MiB "
        "| peak < 800 MiB |"
    )


if __name__ == "__main__":
    main()
