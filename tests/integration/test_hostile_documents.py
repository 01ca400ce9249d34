"""Documents built to hurt: a PDF whose page tree lies, through the real API and workers.

Each is bad input, refused with a 422 that says what is wrong, on the sync routes and on a
queued job, which ends at once with the same sentence and is never retried.
"""

from __future__ import annotations

import base64

import pytest
from redis import Redis

from fixtures.generate import cyclic_pdf, lying_count_pdf
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
