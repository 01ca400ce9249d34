"""Documents built to hurt, through the real API and workers: a PDF whose page tree lies, a
TIFF of 60,000 tiny pages.

Each is refused with a 4xx that says what is wrong, on the sync routes and on a queued job,
which ends at once with the same sentence and is never retried.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime

import pytest
from redis import Redis

from fixtures.generate import cyclic_pdf, lying_count_pdf, many_page_tiff
from tests.helpers import wait_for_end

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
    assert queued.status_code == 202, queued.text
    conversion_id = queued.json()["conversion_id"]
    status = wait_for_end(client, conversion_id, timeout=90)
    assert (status["status"], status["error"]) == (
        "ERROR",
        "The request asks for more than 501 pages; the limit is 500.",
    )
    # The worker's own time, from taking the job to ending it (its start-up aside).
    record = Redis.from_url(redis_url).hmget(
        f"lector:conversion:{conversion_id}", "started_at", "completed_at"
    )
    began, ended = (datetime.fromisoformat(json.loads(value)) for value in record)
    assert (ended - began).total_seconds() < 10
