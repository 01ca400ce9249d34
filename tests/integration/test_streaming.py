"""Large documents stream: a 1 GB upload is spooled to disk as it arrives, checked, hashed and
stored piece by piece, and a worker reads it from a file; a large converted file streams back
to the client. The API's resident memory is watched while it happens."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import msgspec
import pytest
from PIL import Image
from redis import Redis

from fixtures.generate import large_pdf
from tests.benchmarks.sync import memory_mb, sampled_peak
from tests.helpers import API_KEY, TEST_STORE, Server, deleted_soon, start_server, streamed_size, wait_for_end

MB = 1024 * 1024
#: What the API's resident memory may grow by while it takes or serves a large file, in MiB.
MEMORY_BOUND = 100


@pytest.fixture(scope="module")
def large_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An API that takes documents of up to 1.1 GB."""
    running = start_server(
        tmp_path_factory.mktemp("large"), LECTOR_REDIS_URL=redis_url, LECTOR_MAX_UPLOAD_MB="1100"
    )
    yield running
    running.stop()


def test_a_1_gb_upload_is_stored_and_read_without_the_api_holding_it(
    large_server, workers, tmp_path, redis_url
):
    document = tmp_path / "large.pdf"
    large_pdf(document, 1024 * MB, "Streamed all the way")
    with httpx.Client(base_url=large_server.url, headers={"X-API-Key": API_KEY}, timeout=300) as client:
        pid = large_server.process.pid
        at_rest = memory_mb(pid, "VmRSS")
        with document.open("rb") as body:
            submitted, peak = sampled_peak(
                pid,
                lambda: client.post(
                    "/api/convert-async",
                    files={"image": ("large.pdf", body, "application/pdf")},
                    data={"document_type_code": "text"},
                ),
            )
        assert submitted.status_code == 202, submitted.text
        assert peak - at_rest < MEMORY_BOUND, f"the API grew by {peak - at_rest:.0f} MiB"
        conversion_id = submitted.json()["conversion_id"]
        stored = msgspec.json.decode(
            Redis.from_url(redis_url).hget(f"lector:conversion:{conversion_id}", "document_key")
        )
        assert (TEST_STORE / stored).stat().st_size == document.stat().st_size
        status = wait_for_end(client, conversion_id, timeout=180)
    assert status["status"] == "SUCCESS", status
    assert "Streamed all the way" in status["data"]["text"]
    deleted_soon(TEST_STORE / stored)  # deleted once read


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
        pid = large_server.process.pid
        at_rest = memory_mb(pid, "VmRSS")
        received, peak = sampled_peak(pid, lambda: streamed_size(client, file["download_url"]))
    assert received == file["size"]
    assert peak - at_rest < MEMORY_BOUND, f"the API grew by {peak - at_rest:.0f} MiB"
