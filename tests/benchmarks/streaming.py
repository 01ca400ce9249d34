"""``make bench``: large documents in and out. A 1 GB PDF uploaded to ``POST
/api/convert-async`` and a 243 MB converted file (an 81-megapixel page as BMP) downloaded: the
API's resident memory is sampled while each happens, beside its memory at rest; the upload's
speed is set against the same upload to a loopback server that only reads and discards it,
measured in the same run."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
from PIL import Image

from fixtures.generate import large_pdf
from tests.benchmarks.services import services
from tests.benchmarks.sync import memory_mb, sampled_peak
from tests.benchmarks.tables import add_smoke_flag, publish, table, title
from tests.helpers import API_KEY, serving_in_thread, streamed_size, wait_for_end

MB = 1024 * 1024
#: The upload and the page of the full run, and of the smoke form.
UPLOAD_MB, SIDE = 1024, 9000
SMOKE_UPLOAD_MB, SMOKE_SIDE = 20, 1500
RUNS = 3


class _Discard(BaseHTTPRequestHandler):
    """Reads a request's body and throws it away: the fastest a server can take an upload."""

    def do_POST(self) -> None:
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(left, MB)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _upload(client: httpx.Client, url: str, document: Path) -> float:
    """Seconds to send ``document`` as a multipart upload to ``url``."""
    started = time.perf_counter()
    with document.open("rb") as body:
        answer = client.post(
            url, files={"image": ("large.pdf", body, "application/pdf")}, data={"document_type_code": "text"}
        )
    assert answer.status_code in (202, 204), answer.text
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_flag(parser)
    smoke = parser.parse_args(argv).smoke
    upload_mb, side = (SMOKE_UPLOAD_MB, SMOKE_SIDE) if smoke else (UPLOAD_MB, SIDE)
    work = Path(tempfile.mkdtemp(prefix="lector-bench-streaming-"))
    document, page = work / "large.pdf", work / "page.png"
    large_pdf(document, upload_mb * MB, "Streamed all the way")
    Image.new("RGB", (side, side), "white").save(page)
    settings = {} if smoke else {"LECTOR_MAX_UPLOAD_MB": str(upload_mb + 64)}
    with (
        services(smoke=smoke, workers=1, **settings) as running,
        serving_in_thread(_Discard) as sink,
        httpx.Client(base_url=running.server.url, headers={"X-API-Key": API_KEY}, timeout=900) as client,
    ):
        pid = running.server.process.pid
        ours, reference, growth = [], [], []
        for _ in range(RUNS):  # interleaved, so that noise hits both sides alike
            at_rest = memory_mb(pid, "VmRSS")
            seconds, peak = sampled_peak(pid, lambda: _upload(client, "/api/convert-async", document))
            ours.append(seconds)
            growth.append(peak - at_rest)
            reference.append(_upload(client, sink, document))
        submitted = client.post(
            "/api/convert-file-async",
            files={"image": ("page.png", page.read_bytes())},
            data={"target_format": "bmp"},
        )
        file = wait_for_end(client, submitted.json()["conversion_id"], timeout=600)["file"]
        at_rest = memory_mb(pid, "VmRSS")
        started = time.perf_counter()
        received, peak = sampled_peak(pid, lambda: streamed_size(client, file["download_url"]))
        download_s = time.perf_counter() - started
        assert received == file["size"]
        download_growth = peak - at_rest

    ours_s, reference_s = statistics.median(ours), statistics.median(reference)
    rows = [
        (
            f"{upload_mb} MB PDF upload to POST /api/convert-async: median time",
            f"{ours_s:.1f} s ({upload_mb / ours_s:.0f} MB/s)",
            f"{reference_s:.1f} s (a loopback server that discards it)",
            f"{ours_s / reference_s:.2f}",
            "—",
        ),
        (
            f"{upload_mb} MB PDF upload: the API's resident memory above rest, largest of {RUNS}",
            f"{max(growth):.0f} MiB",
            "—",
            "—",
            "< 100 MiB",
        ),
        (
            f"{received / MB:.0f} MB converted file (a {side}×{side} page as BMP) downloaded: time, and "
            "the API's memory above rest",
            f"{download_s:.1f} s, {download_growth:.0f} MiB",
            "—",
            "—",
            "< 100 MiB",
        ),
    ]
    heading = title("Lector streaming benchmark")
    publish(
        "streaming",
        [table(heading, ("measure", "Lector", "reference", "ratio", "goal"), rows)],
        smoke=smoke,
    )


if __name__ == "__main__":
    main()
