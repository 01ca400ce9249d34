"""The HTTP API over real HTTP on loopback, with the real Tesseract and a real Redis."""

import base64
import json
import time

import httpx
import pytest

from fixtures.generate import PAGES
from tests.helpers import API_KEY, OCR_DATA_KEYS, character_error_rate, free_port, page_text, start_server

FIRST = page_text(PAGES[0])


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def post_json(client: httpx.Client, body: dict) -> httpx.Response:
    return client.post("/api/ocr/extract-text", json=body)


def assert_error(response: httpx.Response, status: int, message_part: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert message_part in body["message"]
    assert body["message"].endswith("."), "one sentence"
    return body


def test_base64_image_gives_the_documented_answer(client, docs):
    response = post_json(client, {"image": f"data:image/png;base64,{b64(docs['page.png'])}"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert set(data) == OCR_DATA_KEYS
    assert character_error_rate(FIRST, data["text"]) <= 0.02
    assert data["fields"] is None and data["field_confidence"] is None  # plain text has no fields
    assert data["language"] == "eng" and 80 <= data["confidence"] <= 100 and data["processing_time"] > 0
    raw = data["raw_response"]
    assert raw["engine"] == "tesseract" and raw["page_count"] == 1
    assert raw["tokens"] == {"prompt": 0, "completion": 0, "total": 0}
    (page,) = raw["pages"]
    assert (page["page"], page["source"], page["words"]) == (1, "ocr", [])
    assert (page["width"], page["height"]) == (2480, 3509)  # A4 at 300 dpi


def test_a_pdf_in_base64_joins_pages_with_form_feeds(client, docs):
    response = post_json(client, {"image": b64(docs["mixed.pdf"]), "include_words": True})
    data = response.json()["data"]
    first, second = data["text"].split("\f")
    assert first == FIRST
    assert character_error_rate(page_text(PAGES[1]), second) <= 0.02
    pages = data["raw_response"]["pages"]
    assert [page["source"] for page in pages] == ["text-layer", "ocr"]
    assert pages[0]["words"][0]["text"] == "Invoice" and len(pages[1]["words"]) > 10


def test_file_upload_takes_options_as_form_fields(client, docs):
    response = client.post(
        "/api/ocr/extract-text-from-file",
        files={"file": ("ignored-name.bin", docs["text-layer.pdf"].read_bytes(), "application/octet-stream")},
        data={"pages": "2-3", "force_ocr": "true", "lang": "eng"},
    )
    assert response.status_code == 200, response.text
    pages = response.json()["data"]["raw_response"]["pages"]
    assert [(page["page"], page["source"]) for page in pages] == [(2, "ocr"), (3, "ocr")]


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({}, 401, "Missing API key"),
        ({"Authorization": "Bearer wrong-key-000000"}, 401, "The API key is not valid."),
        ({"X-API-Key": "wrong-key-000000"}, 401, "The API key is not valid."),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "Missing API key"),
        ({"Authorization": f"Bearer {API_KEY}"}, 422, "Unsupported format"),
        ({"X-API-Key": API_KEY}, 422, "Unsupported format"),
    ],
)
def test_authentication(server, headers, status, message):
    response = httpx.post(f"{server.url}/api/ocr/extract-text", json={"image": "aGVsbG8="}, headers=headers)
    assert_error(response, status, message)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("random.bin", "Unsupported format: the document looks like unrecognised binary data."),
        ("truncated.png", "The PNG image is corrupt or truncated."),
        ("bomb.png", "decompression bomb"),
        ("encrypted.pdf", "The PDF is encrypted; send its password in the `password` field."),
    ],
)
def test_bad_documents_get_422_with_a_clear_message(client, docs, name, message):
    started = time.perf_counter()
    assert_error(post_json(client, {"image": b64(docs[name])}), 422, message)
    assert time.perf_counter() - started < 5
    upload = client.post("/api/ocr/extract-text-from-file", files={"file": (name, docs[name].read_bytes())})
    assert_error(upload, 422, message)


@pytest.mark.parametrize(
    ("name", "kind", "engine", "sources"),
    [
        ("invoice.pdf", "invoice", "text-layer", ["text-layer"]),  # ppocr stood by for invoices
        ("text-layer.pdf", "text", "text-layer", ["text-layer"] * 3),
        ("mixed.pdf", "text", "tesseract", ["text-layer", "ocr"]),  # tesseract read page 2
    ],
)
def test_the_engine_named_is_the_one_that_read_the_pages(client, docs, name, kind, engine, sources):
    response = post_json(client, {"image": b64(docs[name]), "document_type_code": kind})
    assert response.status_code == 200, response.text
    raw = response.json()["data"]["raw_response"]
    assert (raw["engine"], [page["source"] for page in raw["pages"]]) == (engine, sources)


def test_an_encrypted_pdf_opens_with_its_password(client, docs):
    response = post_json(client, {"image": b64(docs["encrypted.pdf"]), "password": "s3cret"})
    assert response.json()["data"]["text"] == FIRST


@pytest.mark.parametrize("password", ["s3cret\x00", "s3cret\x00junk", "s3\x1bcret"])
def test_a_password_with_a_control_character_is_refused_not_cut(client, docs, password):
    message = "Invalid field `password`: a password may not contain control characters such as NUL."
    sync = post_json(client, {"image": b64(docs["encrypted.pdf"]), "password": password})
    assert_error(sync, 422, message)
    queued = client.post(
        "/api/convert-async",
        files={"image": ("locked.pdf", docs["encrypted.pdf"].read_bytes())},
        data={"document_type_code": "text", "password": password},
    )
    assert queued.status_code == 422, queued.text
    assert queued.json()["errors"] == ["password: a password may not contain control characters such as NUL"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image": "@@not-base64@@"}, "The `image` field is not valid base64."),
        ({"image": ""}, "The `image` field is empty."),
        ({}, "The field `image` is required."),
        ({"image": "aGVsbG8=", "langg": "eng"}, "Unknown field `langg`"),
        ({"image": "aGVsbG8=", "psm": "seven"}, "Invalid field `psm`"),
        ({"image": "aGVsbG8=", "engine": "magic"}, "Invalid field `engine`"),
        ({"image": "aGVsbG8=", "include_words": "maybe"}, "Invalid field `include_words`"),
    ],
)
def test_bad_requests_get_422_naming_the_problem(client, body, message):
    assert_error(post_json(client, body), 422, message)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lang": "klingon"}, "Language 'klingon' is not installed"),
        ({"psm": 2}, "Invalid field `psm`: choose one of 1, 3,"),
        ({"pages": "4"}, "Page 4 does not exist: the document has 3 pages."),
        ({"pages": "a-b"}, "Invalid field `pages`: use page numbers"),
        ({"engine": "llm"}, "The engine llm needs a vision model, and this server has none"),
        ({"engine": "llm-text"}, "The engine llm-text needs a model, and this server has none"),
    ],
)
def test_bad_options_get_422(client, docs, fields, message):
    assert_error(post_json(client, {"image": b64(docs["scanned.pdf"]), **fields}), 422, message)


def test_malformed_json_and_missing_file_are_4xx(client):
    response = client.post(
        "/api/ocr/extract-text", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "The request body is not valid JSON.")
    not_multipart = client.post("/api/ocr/extract-text-from-file", data={"lang": "eng"})
    assert_error(not_multipart, 400, "Invalid multipart/form-data")
    no_file = client.post("/api/ocr/extract-text-from-file", files={"lang": (None, "eng")})
    assert_error(no_file, 422, "The field `file` is required.")


def test_unknown_paths_and_methods_answer_in_the_error_shape(client):
    assert_error(client.get("/api/nothing"), 404, "Not Found")
    assert_error(client.get("/api/ocr/extract-text"), 405, "")


def test_request_id_is_echoed_or_generated(client):
    echoed = client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["x-request-id"]) == 32


def test_health_and_ready(server):
    assert httpx.get(f"{server.url}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "checks": {"redis": "ok", "store": "ok", "tesseract": "ok", "ppocr": "ok"},
        "llm": "not configured",
    }


def test_openapi_documents_every_endpoint_and_error(server):
    schema = httpx.get(f"{server.url}/schema/openapi.json").json()
    paths = schema["paths"]
    assert {"/health", "/ready", "/api/ocr/extract-text", "/api/ocr/extract-text-from-file"} <= set(paths)
    for path in ("/api/ocr/extract-text", "/api/ocr/extract-text-from-file"):
        operation = paths[path]["post"]
        assert {"200", "401", "413", "422", "500"} <= set(operation["responses"])
        assert operation["security"] == [{"BearerAuth": []}, {"ApiKeyHeader": []}]
    upload = paths["/api/ocr/extract-text-from-file"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in upload
    assert "/ready" in paths and "503" in paths["/ready"]["get"]["responses"]
    async_paths = {
        "/api/convert-async", "/api/convert-async/status/{conversion_id}", "/api/document-types",
        "/api/batches", "/api/batches/{batch_id}", "/api/batches/{batch_id}/results",
    }  # fmt: skip
    assert async_paths <= set(paths)
    for path in ("/api/convert-async", "/api/batches"):
        submit = paths[path]["post"]
        assert set(submit["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
        assert {"202", "401", "413", "415", "422", "500"} <= set(submit["responses"])
    assert "400" in paths["/api/convert-async"]["post"]["responses"]  # URL errors
    for path in (
        "/api/convert-async/status/{conversion_id}",
        "/api/batches/{batch_id}",
        "/api/batches/{batch_id}/results",
    ):
        assert "404" in paths[path]["get"]["responses"]
    docs_page = httpx.get(f"{server.url}/schema")
    assert docs_page.status_code == 200 and "<html" in docs_page.text.lower()


def test_logs_are_json_lines_without_keys_or_document_text(server, client, docs):
    post_json(client, {"image": b64(docs["mixed.pdf"])})
    httpx.post(
        f"{server.url}/api/ocr/extract-text", json={"image": "x"}, headers={"X-API-Key": "wrong-key-000000"}
    )
    logs = server.logs()
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    requests = [line for line in lines if line.get("event") == "request"]
    assert requests, "one line per request"
    assert {"method", "path", "status", "duration_ms", "request_id", "timestamp"} <= set(requests[-1])
    assert API_KEY not in logs and "wrong-key-000000" not in logs
    for secret_text in ("Northwind", "Quarterly", b64(docs["mixed.pdf"])[:40]):
        assert secret_text not in logs


@pytest.fixture(scope="module")
def small_server(redis_url, tmp_path_factory):
    running = start_server(
        tmp_path_factory.mktemp("small"),
        LECTOR_REDIS_URL=redis_url,
        LECTOR_MAX_UPLOAD_MB="1",
        LECTOR_SYNC_MAX_PAGES="2",
    )
    yield running
    running.stop()


def test_too_many_pages_for_sync_points_to_the_async_endpoint(small_server, docs):
    response = httpx.post(
        f"{small_server.url}/api/ocr/extract-text",
        json={"image": b64(docs["scanned.pdf"])},
        headers={"X-API-Key": API_KEY},
    )
    body = assert_error(response, 413, "The request asks for 3 pages; the limit is 2.")
    assert "/api/convert-async" in body["message"]
    assert body["errors"] == {"pages": 3, "limit": 2}


def test_an_oversized_document_gets_413(small_server):
    headers = {"X-API-Key": API_KEY}
    big = b"\x89PNG\r\n\x1a\n" + bytes(1_300_000)
    as_json = httpx.post(
        f"{small_server.url}/api/ocr/extract-text",
        json={"image": base64.b64encode(big).decode()},
        headers=headers,
    )
    assert_error(as_json, 413, "the limit is 1 MB")
    as_file = httpx.post(
        f"{small_server.url}/api/ocr/extract-text-from-file", files={"file": ("a.png", big)}, headers=headers
    )
    assert_error(as_file, 413, "the limit is 1 MB")
    huge = httpx.post(
        f"{small_server.url}/api/ocr/extract-text-from-file",
        files={"file": ("a.png", big * 2)},
        headers=headers,
    )
    assert_error(huge, 413, "documents may be at most 1 MB")


def test_ready_is_503_when_redis_is_unreachable(tmp_path):
    running = start_server(tmp_path, LECTOR_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", LECTOR_AUTH="off")
    try:
        ready = httpx.get(f"{running.url}/ready", timeout=10)
        assert ready.status_code == 503
        assert ready.json() == {
            "status": "unavailable",
            "checks": {"redis": "unreachable", "store": "ok", "tesseract": "ok", "ppocr": "ok"},
            "llm": "not configured",
        }
        # With auth off, OCR needs no key.
        assert (
            httpx.post(f"{running.url}/api/ocr/extract-text", json={"image": "aGVsbG8="}).status_code == 422
        )
    finally:
        running.stop()


def test_without_tesseract_ocr_is_503_and_not_ready(redis_url, tmp_path, docs):
    no_tesseract = str(tmp_path / "empty-bin")
    running = start_server(tmp_path, LECTOR_REDIS_URL=redis_url, PATH=no_tesseract)
    try:
        headers = {"X-API-Key": API_KEY}
        response = httpx.post(
            f"{running.url}/api/ocr/extract-text", json={"image": b64(docs["page.png"])}, headers=headers
        )
        assert_error(response, 503, "Tesseract is not installed on this server.")
        ready = httpx.get(f"{running.url}/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["tesseract"] == "not runnable"
        # Options are checked against the engine before any page is read, so even a PDF that
        # needs no OCR gets the same clear 503 rather than a partial result.
        text_pdf = httpx.post(
            f"{running.url}/api/ocr/extract-text",
            json={"image": b64(docs["text-layer.pdf"])},
            headers=headers,
        )
        assert text_pdf.status_code == 503
    finally:
        running.stop()


def test_an_unknown_document_type_is_named_with_the_valid_ones(client, docs):
    refusal = "Unknown document_type_code 'passport'; valid codes: invoice, receipt, text (or auto)."
    assert_error(post_json(client, {"image": b64(docs["page.png"]), "document_type_code": "passport"}), 422,
                 refusal)  # fmt: skip
