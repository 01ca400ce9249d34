"""Documents built to hurt, through the real API and workers: a PDF whose page tree lies, a
TIFF of 60,000 tiny pages, an 80-megapixel PNG of 100 KB to convert to a costly format.

Each is refused with a 4xx that says what is wrong, on the sync routes and on a queued job,
which ends at once with the same sentence and is never retried.
"""

from __future__ import annotations

import base64
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from redis import Redis

from fixtures.generate import blank_greyscale_png, cyclic_pdf, lying_count_pdf, many_page_tiff
from tests.helpers import wait_for_end
from tests.integration.test_operations import _anonymous_kb

LYING_PDFS = {
    "count-10000": (
        lying_count_pdf(10_000),
        "The PDF is malformed: its page tree declares a page count the file cannot hold.",
    ),
    "count-2e9": (
        lying_count_pdf(2_000_000_000),
        "The PDF is malformed: its page tree declares a page count the file cannot hold.",
    ),
    "cycle": (cyclic_pdf(), "The PDF is malformed: its page tree loops on itself."),
}


@pytest.mark.parametrize("name", LYING_PDFS)
def test_a_pdf_whose_page_tree_lies_is_a_422_on_a_sync_route(client, name):
    data, message = LYING_PDFS[name]
    response = client.post("/api/ocr/extract-text", json={"image": base64.b64encode(data).decode()})
    assert response.status_code == 422, response.text
    assert response.json()["message"] == message


@pytest.mark.parametrize("name", LYING_PDFS)
def test_a_queued_pdf_whose_page_tree_lies_fails_once_with_the_sentence(client, workers, redis_url, name):
    data, message = LYING_PDFS[name]
    response = client.post(
        "/api/convert-async", files={"image": ("lies.pdf", data)}, data={"document_type_code": "text"}
    )
    assert response.status_code == 202, response.text
    conversion_id = response.json()["conversion_id"]
    status = wait_for_end(client, conversion_id, timeout=30)
    assert (status["status"], status["error"]) == ("ERROR", message)
    # The task ended the job itself: RQ saw it finish, with no retry spent.
    job = Redis.from_url(redis_url).hmget(f"rq:job:{conversion_id}", "status", "retries_left")
    assert job == [b"finished", b"2"]


def test_a_tiff_of_60000_tiny_pages_is_refused_quickly(client, workers, redis_url):
    data = many_page_tiff(60_000)  # 6 MB; Pillow took 37-45 s to count its pages
    started = time.monotonic()
    sync = client.post("/api/ocr/extract-text", json={"image": base64.b64encode(data).decode()})
    assert time.monotonic() - started < 10
    assert sync.status_code == 413, sync.text
    assert sync.json()["message"].startswith("The request asks for more than 501 pages; the limit is 20.")

    started = time.monotonic()
    queued = client.post(
        "/api/convert-async", files={"image": ("fax.tif", data)}, data={"document_type_code": "text"}
    )
    assert time.monotonic() - started < 10
    # Queued work is checked as sync work is, before it is taken in: nothing reaches a worker.
    assert queued.status_code == 413, queued.text
    assert queued.json()["message"] == "The request asks for more than 501 pages; the limit is 500."


@pytest.mark.parametrize(("target", "cap"), [("avif", 16), ("webp", 25), ("heic", 16)])
def test_an_80_megapixel_png_to_a_costly_format_is_refused_before_its_encoder_runs(
    server, client, target, cap
):
    """The probe saw the API grow by 0.8 to 1 GB, and HEIC take 10 to 50 s, for this upload."""
    data = blank_greyscale_png(8944)
    pid = server.process.pid
    at_rest = peak = _anonymous_kb(pid)
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(
            client.post,
            "/api/convert-file",
            files={"image": ("huge.png", data)},
            data={"target_format": target},
        )
        while not answer.done():
            peak = max(peak, _anonymous_kb(pid))
            time.sleep(0.005)
    response, seconds = answer.result(), time.monotonic() - started
    grown_mb = (peak - at_rest) / 1024
    print(f"{target}: {response.status_code} in {seconds:.1f} s, the API grew by {grown_mb:.0f} MB")
    assert grown_mb < 250, f"the API grew by {grown_mb:.0f} MB"  # the page's own pixels are 80 MB
    assert seconds < 20
    assert response.status_code == 413, response.text[:200]
    assert response.json()["message"] == (
        f"A {target.upper()} page may have at most {cap} megapixels and this one would have 80 "
        "(8944x8944): set resize_width or resize_height, or choose another format."
    )


def test_a_costly_format_converts_a_page_resized_under_its_cap(client):
    response = client.post(
        "/api/convert-file",
        files={"image": ("huge.png", blank_greyscale_png(8944))},
        data={"target_format": "avif", "resize_width": "1000"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/avif"
