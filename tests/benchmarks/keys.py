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
import statistics
import time
from collections.abc import Callable

import httpx

from fixtures.generate import PAGES, encode, page_image
from tests.benchmarks.services import ADMIN_KEY, services
from tests.benchmarks.tables import add_smoke_flag, publish, table, title
from tests.helpers import API_KEY

BIG = 10**9
COLUMNS = ("request", "static key (median)", "managed key (median)", "added by the managed key", "goal")


def timed(call: Callable[[], httpx.Response]) -> float:
    started = time.perf_counter()
    response = call()
    elapsed = time.perf_counter() - started
    assert response.status_code < 300, response.text
    return elapsed


def compare(
    static: Callable[[], httpx.Response], managed: Callable[[], httpx.Response], runs: int, warm_up: int
) -> tuple[float, float]:
    """Median seconds of each, interleaved so that noise hits both alike (after a warm-up)."""
    for _ in range(warm_up):
        static(), managed()
    static_times, managed_times = [], []
    for _ in range(runs):
        static_times.append(timed(static))
        managed_times.append(timed(managed))
    return statistics.median(static_times), statistics.median(managed_times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    runs, warm_up = (2, 1) if smoke else (args.runs, 20)
    rows = []
    with services(smoke=smoke, LECTOR_ADMIN_KEY=ADMIN_KEY) as running:
        url = running.server.url
        made = httpx.post(
            f"{url}/admin/keys",
            json={"name": "bench", "quota": BIG, "per_minute": BIG, "per_day": BIG},
            headers={"X-API-Key": ADMIN_KEY},
        ).json()
        body = {
            "image_base64": base64.b64encode(encode(page_image(PAGES[0][:2]), "PNG")).decode(),
            "document_type_code": "text",
        }
        with (
            httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}) as static,
            httpx.Client(base_url=url, headers={"X-API-Key": made["key"]}) as managed,
        ):
            requests = [
                ("GET /api/document-types (lookup)", lambda client: client.get("/api/document-types"), runs),
                (
                    "POST /api/convert-async, small PNG (lookup + limit check)",
                    lambda client: client.post("/api/convert-async", json=body),
                    max(runs // 2, 1),
                ),
            ]
            for label, send, count in requests:
                static_s, managed_s = compare(lambda: send(static), lambda: send(managed), count, warm_up)  # noqa: B023
                added = (managed_s - static_s) * 1000
                rows.append(
                    (
                        label,
                        f"{static_s * 1000:.2f} ms",
                        f"{managed_s * 1000:.2f} ms",
                        f"{added:+.2f} ms ({managed_s / static_s:.2f}×)",
                        "≤ 1 ms",
                    )
                )

    publish("keys", [table(title("Lector key-lookup benchmark"), COLUMNS, rows)], smoke=smoke)


if __name__ == "__main__":
    main()
