"""Large documents stream: a 1 GB upload is spooled to disk as it arrives, checked, hashed and
stored piece by piece, and a worker reads it from a file; a large converted file streams back
to the client. The API's resident memory is watched while it happens."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.helpers import API_KEY, TEST_STORE, Server, start_server, wait_for_end

MB = 1024 * 1024
#: What the API's resident memory may grow by while it takes or serves a large file.
MEMORY_BOUND = 100 * MB


def large_pdf(path: Path, size: int, text: str) -> None:
    """A one-page PDF of about ``size`` bytes: the page's text in its text layer, and the bulk
    in an object nothing refers to (a reader never loads it)."""
    content = f"BT /F1 24 Tf 72 700 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    with path.open("wb") as pdf:
        pdf.write(b"%PDF-1.7\n")
        offsets = []
        for number, body in enumerate(objects, 1):
            offsets.append(pdf.tell())
            pdf.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))
        offsets.append(pdf.tell())
        bulk = size - 1024
        pdf.write(b"%d 0 obj\n<< /Length %d >>\nstream\n" % (len(objects) + 1, bulk))
        block = b"\0" * MB
        for _ in range(bulk // MB):
            pdf.write(block)
        pdf.write(b"\0" * (bulk % MB))
        pdf.write(b"\nendstream\nendobj\n")
        xref = pdf.tell()
        pdf.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
        for offset in offsets:
            pdf.write(b"%010d 00000 n \n" % offset)
        pdf.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(offsets) + 1, xref))


def resident(pid: int) -> int:
    """The process's resident memory, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@contextmanager
def peak_growth(pid: int) -> Iterator[list[int]]:
    """How far above its resident memory at the start the process went, sampled every 20 ms
    while inside (the one value in the list, once out)."""
    start, peak, done = resident(pid), [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], resident(pid) - start)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        yield peak
    finally:
        done.set()
        watcher.join()


@pytest.fixture(scope="module")
def large_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An API that takes documents of up to 1.1 GB."""
    running = start_server(
        tmp_path_factory.mktemp("large"), LECTOR_REDIS_URL=redis_url, LECTOR_MAX_UPLOAD_MB="1100"
    )
    yield running
    running.stop()


def test_a_1_gb_upload_is_stored_and_read_without_the_api_holding_it(large_server, workers, tmp_path):
    document = tmp_path / "large.pdf"
    large_pdf(document, 1024 * MB, "Streamed all the way")
    with httpx.Client(base_url=large_server.url, headers={"X-API-Key": API_KEY}, timeout=300) as client:
        client.get("/health")
        with peak_growth(large_server.process.pid) as growth, document.open("rb") as body:
            submitted = client.post(
                "/api/convert-async",
                files={"image": ("large.pdf", body, "application/pdf")},
                data={"document_type_code": "text"},
            )
        assert submitted.status_code == 202, submitted.text
        assert growth[0] < MEMORY_BOUND, f"the API grew by {growth[0] // MB} MB"
        status = wait_for_end(client, submitted.json()["conversion_id"], timeout=180)
    assert status["status"] == "SUCCESS", status
    assert "Streamed all the way" in status["data"]["text"]
    assert not list((TEST_STORE / "documents").glob("*"))  # deleted once read


def test_a_large_converted_file_streams_back_without_the_api_holding_it(large_server, workers, tmp_path):
    # The largest page Lector takes, as a small PNG: as a BMP it is over 200 MB.
    page = tmp_path / "page.png"
    Image.new("RGB", (9000, 9000), "white").save(page)
    with httpx.Client(base_url=large_server.url, headers={"X-API-Key": API_KEY}, timeout=300) as client:
        submitted = client.post(
            "/api/convert-file-async",
            files={"image": ("page.png", page.read_bytes())},
            data={"target_format": "bmp"},
        )
        file = wait_for_end(client, submitted.json()["conversion_id"], timeout=180)["file"]
        assert file["size"] > 200 * MB
        received = 0
        with (
            peak_growth(large_server.process.pid) as growth,
            client.stream("GET", file["download_url"]) as download,
        ):
            assert download.status_code == 200
            for piece in download.iter_bytes():
                received += len(piece)
    assert received == file["size"]
    assert growth[0] < MEMORY_BOUND, f"the API grew by {growth[0] // MB} MB"
