"""``make bench``: what a managed key costs a request, against a static key, in one run.

Two API requests, each sent alternately with a static key (LECTOR_API_KEYS: no lookup, no
limits) and with a managed key whose per-minute, per-day and quota limits are all set (so
the charge checks every one of them):

1. ``GET /api/document-types``: authentication only; the managed key adds its lookup
   (one MGET of the record and the rate windows);
2. ``POST /api/convert-async`` with a small PNG: the lookup plus the limit check. Both keys
   run the charge script, which books usage for every key; a managed key's also checks and
   takes from its limits.

Medians over interleaved requests on one keep-alive connection per key; the difference of
the medians is what the managed key adds.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from fixtures.generate import PAGES, encode, page_image
from tests.helpers import API_KEY, start_redis, start_server

ADMIN_KEY = "bench-admin-key-0123456789"
BIG = 10**9


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code < 300, response.text
    return elapsed


def compare(
    static: Callable[[], httpx.Response], managed: Callable[[], httpx.Response], runs: int
) -> tuple[float, float]:
    """Median seconds of each, interleaved so that noise hits both alike (after a warm-up)."""
    for _ in range(20):
        static(), managed()
    static_times, managed_times = [], []
    for _ in range(runs):
        static_times.append(timed(static))
        managed_times.append(timed(managed))
    return statistics.median(static_times), statistics.median(managed_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        work = Path(directory)
        redis_process, redis_url = start_redis(work)
        server = start_server(
            work, LECTOR_REDIS_URL=redis_url, LECTOR_ADMIN_KEY=ADMIN_KEY, LECTOR_LOG_LEVEL="warning"
        )
        try:
            made = httpx.post(
                f"{server.url}/admin/keys",
                json={"name": "bench", "quota": BIG, "per_minute": BIG, "per_day": BIG},
                headers={"X-API-Key": ADMIN_KEY},
            ).json()
            body = {
                "image_base64": base64.b64encode(encode(page_image(PAGES[0][:2]), "PNG")).decode(),
                "document_type_code": "text",
            }
            rows = []
            with (
                httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}) as static,
                httpx.Client(base_url=server.url, headers={"X-API-Key": made["key"]}) as managed,
            ):
                requests = [
                    (
                        "GET /api/document-types (lookup)",
                        lambda client: client.get("/api/document-types"),
                        args.runs,
                    ),
                    (
                        "POST /api/convert-async, small PNG (lookup + limit check)",
                        lambda client: client.post("/api/convert-async", json=body),
                        args.runs // 2,
                    ),
                ]
                for label, send, runs in requests:
                    pair = compare(lambda: send(static), lambda: send(managed), runs)  # noqa: B023
                    rows.append((label, *pair))
        finally:
            server.stop()
            redis_process.terminate()

    print(f"\nLector key-lookup benchmark — {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}\n")
    print("| request | static key (median) | managed key (median) | added by the managed key | goal |")
    print("|---|---|---|---|---|")
    for label, static_s, managed_s in rows:
        added = (managed_s - static_s) * 1000
        print(
            f"| {label} | {static_s * 1000:.2f} ms | {managed_s * 1000:.2f} ms | "
            f"{added:+.2f} ms ({managed_s / static_s:.2f}×) | ≤ 1 ms |"
        )


if __name__ == "__main__":
    main()
