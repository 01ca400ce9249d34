"""Asynchronous conversions with a real Redis, real worker processes and real HTTP."""

from __future__ import annotations

import base64
import re
import time

import anyio
import httpx
import msgspec
import pytest
from redis import Redis

from fixtures.generate import PAGES
from service.downloads import fetch_document, is_public
from service.errors import UrlError
from service.settings import load_settings
from tests.doc_server import serving
from tests.helpers import (
    API_KEY,
    OTHER_KEY,
    TEST_STORE,
    character_error_rate,
    deleted_soon,
    page_text,
    start_server,
    wait_for_end,
)

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


@pytest.fixture(scope="module")
def doc_url(docs):
    """Base URL of a loopback server holding the test documents under /files/."""
    with serving(next(iter(docs.values())).parent) as url:
        yield url


@pytest.fixture(scope="module")
def url_server(redis_url, tmp_path_factory):
    """An API that may fetch from loopback (LECTOR_URL_ALLOW_PRIVATE) and takes 1 MB at most."""
    running = start_server(
        tmp_path_factory.mktemp("url-server"),
        LECTOR_REDIS_URL=redis_url,
        LECTOR_URL_ALLOW_PRIVATE="1",
        LECTOR_MAX_UPLOAD_MB="1",
    )
    yield running
    running.stop()


def submit_file(client: httpx.Client, path, field: str = "image", **fields: str) -> httpx.Response:
    return client.post(
        "/api/convert-async",
        files={field: (path.name, path.read_bytes())},
        data={"document_type_code": "text", **fields},
    )


def test_multipart_submission_is_queued_and_succeeds(client, workers, docs):
    response = submit_file(client, docs["scanned.pdf"], include_words="true")
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "ENQUEUED"
    assert response.headers["location"] == body["status_url"]
    assert body["status_url"].endswith(f"/api/convert-async/status/{body['conversion_id']}")
    status = wait_for_end(client, body["conversion_id"])
    assert status["status"] == "SUCCESS", status
    assert status["progress"] == 1.0 and status["error"] is None
    assert all(
        ISO_UTC.match(status[name]) for name in ("request_timestamp", "started_at", "response_timestamp")
    )
    data = status["result"]
    assert set(data) == {"document_type_code", "document_type_confidence", "text", "fields",
                         "field_confidence", "field_evidence", "checks", "pages", "tokens", "tokens_used",
                         "engine", "model", "llm_calls", "processing_time_ms", "warnings"}  # fmt: skip
    assert (data["document_type_code"], data["fields"], data["engine"]) == ("text", None, "tesseract")
    assert data["tokens"] == {"prompt": 0, "completion": 0, "total": 0} and data["tokens_used"] == 0
    assert (data["model"], data["llm_calls"]) == (None, 0)
    assert data["processing_time_ms"] > 0
    assert [page["page"] for page in data["pages"]] == [1, 2, 3]
    assert data["pages"][0]["words"]
    for page, lines in zip(data["pages"], PAGES, strict=True):
        assert character_error_rate(page_text(lines), page["text"]) <= 0.02


def test_the_file_field_may_be_called_file(client, workers, docs):
    response = submit_file(client, docs["page.png"], field="file")
    assert wait_for_end(client, response.json()["conversion_id"])["status"] == "SUCCESS"


def test_json_base64_submission_succeeds(client, workers, docs):
    encoded = base64.b64encode(docs["mixed.pdf"].read_bytes()).decode()
    response = client.post(
        "/api/convert-async",
        json={"document_type_code": "text", "image_base64": f"data:application/pdf;base64,{encoded}",
              "document_metadata": {"customer": "ACME"}, "ocr_instructions": "Keep line breaks."},
    )  # fmt: skip
    assert response.status_code == 202, response.text
    status = wait_for_end(client, response.json()["conversion_id"])
    assert [page["source"] for page in status["result"]["pages"]] == ["text-layer", "ocr"]


def test_image_url_submission_succeeds(url_server, workers, doc_url):
    with httpx.Client(base_url=url_server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
        response = client.post(
            "/api/convert-async",
            json={"document_type_code": "text", "image_url": f"{doc_url}/files/page.png"},
        )
        assert response.status_code == 202, response.text
        status = wait_for_end(client, response.json()["conversion_id"])
    assert character_error_rate(page_text(PAGES[0]), status["result"]["text"]) <= 0.02


def test_a_corrupt_file_fails_with_its_message(client, workers, docs):
    response = submit_file(client, docs["truncated.png"])
    status = wait_for_end(client, response.json()["conversion_id"])
    assert status["status"] == "ERROR"
    assert status["error"] == "The PNG image is corrupt or truncated."
    assert status["data"] is None
    listed = client.get("/api/jobs", params={"limit": 200}).json()["jobs"]
    entry = next(job for job in listed if job["job_id"] == response.json()["conversion_id"])
    assert (entry["status"], entry["error"]) == ("ERROR", status["error"])  # the status route's words


def test_an_unsupported_content_type_is_415(client):
    response = client.post("/api/convert-async", content=b"hello", headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert (
        response.json()["message"] == "Unsupported Content-Type. Use multipart/form-data or application/json."
    )


@pytest.mark.parametrize(
    ("body", "problems"),
    [
        ({}, ["image_base64 (or image) or image_url is required", "document_type_code is required"]),
        ({"image_url": "http://x", "image_base64": "aGk="}, ["send only one of image_base64 and image_url",
                                                              "document_type_code is required"]),
        ({"document_type_code": "text", "image_url": "http://x", "psm": "seven"},
         ["psm: expected `int | null`, got `str`"]),
        ({"document_type_code": "text", "image_url": "http://x", "colour": "red"},
         ["unknown field `colour`"]),
    ],
)  # fmt: skip
def test_validation_errors_are_listed(client, body, problems):
    response = client.post("/api/convert-async", json=body)
    assert response.status_code == 422
    assert response.json() == {"success": False, "message": "Validation error", "errors": problems}


def test_a_multipart_submission_without_a_file_is_listed(client):
    response = client.post("/api/convert-async", files={"document_type_code": (None, "text")})
    assert response.status_code == 422
    assert response.json()["errors"] == [
        "image is required: send the file in the multipart field `image` (or `file`)"
    ]


def test_an_unknown_document_type_lists_the_valid_ones(client, docs):
    response = submit_file(client, docs["page.png"], document_type_code="passport")
    assert response.status_code == 422
    body = response.json()
    assert body["message"].startswith("Unknown document_type_code 'passport'; valid codes: ")
    assert "text" in body["errors"]["valid_codes"]


def test_document_types_are_listed(client):
    types = client.get("/api/document-types").json()["data"]
    text = next(kind for kind in types if kind["codeType"] == "text")
    assert (text["id"], text["name"], text["jsonSchema"]) == ("text", "Plain text", None)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1/doc.png", "127.0.0.1"),
        ("http://10.0.0.1/doc.png", "10.0.0.1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://[::ffff:127.0.0.1]/doc.png", "::ffff:127.0.0.1"),
        ("http://2130706433/doc.png", "2130706433"),  # 127.0.0.1 as one decimal number
        ("http://localhost/doc.png", "localhost"),
        ("http://100.64.0.1/doc.png", "100.64.0.1"),  # carrier-grade NAT
        ("http://[64:ff9b::a00:1]/doc.png", "64:ff9b::a00:1"),  # NAT64 form of 10.0.0.1
    ],
)
def test_urls_to_non_public_addresses_are_refused(client, url, host):
    response = client.post("/api/convert-async", json={"document_type_code": "text", "image_url": url})
    assert response.status_code == 400
    assert response.json()["message"] == f"URL not allowed: {host} resolves to a non-public address"


def test_only_http_and_https_urls_are_fetched(client):
    response = client.post(
        "/api/convert-async", json={"document_type_code": "text", "image_url": "file:///etc/passwd"}
    )
    assert response.status_code == 400 and "only http and https" in response.json()["message"]


def test_a_redirect_to_a_private_address_is_refused_at_that_hop(doc_url):
    # Loopback stands in for the public internet here; 10.0.0.1 stays private.
    def loopback_is_public(address):
        return address.is_loopback or is_public(address)

    settings = load_settings({})
    with pytest.raises(UrlError) as caught:
        anyio.run(
            lambda: fetch_document(
                f"{doc_url}/redirect?to=http://10.0.0.1/doc.png", settings, allowed=loopback_is_public
            )
        )
    assert caught.value.message == "URL not allowed: 10.0.0.1 resolves to a non-public address"
    fetched = anyio.run(
        lambda: fetch_document(
            f"{doc_url}/redirect?to={doc_url}/files/page.png", settings, allowed=loopback_is_public
        )
    )
    assert fetched.startswith(b"\x89PNG")


def test_url_errors_name_the_problem(url_server, doc_url):
    headers = {"X-API-Key": API_KEY}
    missing = httpx.post(
        f"{url_server.url}/api/convert-async", headers=headers,
        json={"document_type_code": "text", "image_url": f"{doc_url}/files/nothing.png"},
    )  # fmt: skip
    assert (missing.status_code, missing.json()["message"]) == (400, "Error accessing URL: 404 Not Found")
    big = httpx.post(
        f"{url_server.url}/api/convert-async", headers=headers,
        json={"document_type_code": "text", "image_url": f"{doc_url}/big"}, timeout=60,
    )  # fmt: skip
    assert (big.status_code, big.json()["message"]) == (413, "File exceeds maximum allowed size (1MB)")


def test_a_slow_server_hits_the_30_second_deadline(url_server, doc_url):
    started = time.monotonic()
    response = httpx.post(
        f"{url_server.url}/api/convert-async", headers={"X-API-Key": API_KEY}, timeout=60,
        json={"document_type_code": "text", "image_url": f"{doc_url}/slow"},
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert (response.status_code, response.json()["message"]) == (400, "URL download timeout (30000ms)")
    assert 29 < elapsed < 35


def test_another_key_gets_404_exactly_as_for_a_missing_id(server, client, workers, docs):
    conversion_id = submit_file(client, docs["page.png"]).json()["conversion_id"]
    other = httpx.get(
        f"{server.url}/api/convert-async/status/{conversion_id}", headers={"X-API-Key": OTHER_KEY}
    )
    missing = client.get("/api/convert-async/status/0123456789abcdef0123456789abcdef")
    assert other.status_code == missing.status_code == 404
    assert other.json()["message"].replace(conversion_id, "ID") == missing.json()["message"].replace(
        "0123456789abcdef0123456789abcdef", "ID"
    )


def test_idempotency_key_returns_the_same_conversion(client, workers, docs, redis_url):
    redis = Redis.from_url(redis_url)
    before = len(redis.keys("lector:conversion:*"))
    headers = {"Idempotency-Key": f"order-{time.monotonic_ns()}"}
    files = {"image": ("page.png", docs["page.png"].read_bytes())}
    first = client.post(
        "/api/convert-async", files=files, data={"document_type_code": "text"}, headers=headers
    )
    again = client.post(
        "/api/convert-async", files=files, data={"document_type_code": "text"}, headers=headers
    )
    assert first.status_code == again.status_code == 202
    assert first.json()["conversion_id"] == again.json()["conversion_id"]
    assert len(redis.keys("lector:conversion:*")) == before + 1
    changed = client.post(
        "/api/convert-async",
        files=files,
        data={"document_type_code": "text", "lang": "eng+eng"},
        headers=headers,
    )
    assert changed.status_code == 422
    assert changed.json()["message"] == "This Idempotency-Key was already used with a different request."
    # The same key from another API key is another client's key: no conflict.
    other = httpx.post(
        f"{client.base_url}/api/convert-async", files=files, headers={**headers, "X-API-Key": OTHER_KEY},
        data={"document_type_code": "text", "lang": "eng+eng"},
    )  # fmt: skip
    assert other.status_code == 202 and other.json()["conversion_id"] != first.json()["conversion_id"]


def test_wait_holds_until_the_status_changes(client, workers, docs):
    conversion_id = submit_file(client, docs["page.png"]).json()["conversion_id"]
    started = time.monotonic()
    status = client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 20}).json()
    assert status["status"] != "ENQUEUED" and time.monotonic() - started < 20
    finished = wait_for_end(client, conversion_id)
    started = time.monotonic()
    again = client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 10}).json()
    assert (
        again["status"] == finished["status"] and time.monotonic() - started < 2
    )  # nothing left to wait for
    assert client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 31}).status_code == 422


def test_a_finished_record_expires_after_the_result_ttl_and_its_document_is_gone(
    client, workers, docs, redis_url
):
    conversion_id = submit_file(client, docs["page.png"]).json()["conversion_id"]
    redis = Redis.from_url(redis_url)
    document_key = msgspec.json.decode(redis.hget(f"lector:conversion:{conversion_id}", "document_key"))
    wait_for_end(client, conversion_id)
    week = 168 * 3600
    assert week - 60 < redis.ttl(f"lector:conversion:{conversion_id}") <= week
    deleted_soon(TEST_STORE / document_key)  # deleted when its job ended
