"""Requests a client gets wrong or makes heavy, against a real server: each is answered with a
clear 4xx (never a 500, or a 202 that fails later), keeps no secret or refused document, and
leaves the server responsive.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time

import httpx
import pytest
from redis import Redis

from tests.helpers import API_KEY, TEST_STORE, deleted_soon, wait_for_end

JSON_ENDPOINTS = ("/api/ocr/extract-text", "/api/convert-async", "/api/batches/")


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


# A batch item whose filename is not a string is refused at once: taken in, it would break
# the batch's status and results for the whole retention.
@pytest.mark.parametrize("filename", [123, ["a"], {"x": 1}, True])
def test_a_batch_item_of_the_wrong_type_is_refused_naming_its_index(client, docs, filename):
    items = [{"image_base64": b64(docs["page.png"]), "filename": "ok.png"}]
    items.append({"image_base64": b64(docs["page.png"]), "filename": filename})
    response = client.post("/api/batches/", json={"document_type_code": "text", "items": items})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0].startswith("items[1].filename: expected `str")


def test_a_batch_item_with_an_unknown_field_is_refused(client, docs):
    items = [{"image_base64": b64(docs["page.png"]), "colour": "red"}]
    response = client.post("/api/batches/", json={"document_type_code": "text", "items": items})
    assert response.status_code == 422
    assert response.json()["errors"] == ["items[0]: unknown field `colour`"]


# A `lang` longer than Tesseract's argument limit is a 422, not an engine failure.
@pytest.mark.parametrize("lang", ["eng+" * 40000 + "eng", "+".join(["eng"] * 9), "eng;ls"])
def test_an_overlong_language_list_is_a_422_everywhere(client, docs, lang):
    sync = client.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "lang": lang})
    assert sync.status_code == 422
    assert sync.json()["message"] == (
        "Invalid field `lang`: use up to 8 language codes joined by +, such as eng or eng+deu."
    )
    queued = client.post(
        "/api/convert-async",
        json={"document_type_code": "text", "image_base64": b64(docs["page.png"]), "lang": lang},
    )
    assert queued.status_code == 422
    assert queued.json()["errors"] == ["lang: use up to 8 language codes joined by +, such as eng or eng+deu"]


# JSON nested 1,000 deep is the client's mistake (the decoder would recurse past its limit).
@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_deeply_nested_json_is_a_400(client, path):
    body = b'{"document_metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post(path, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "The JSON body is nested too deeply."


# A 2.8 MB page selection is refused at once: its work is bounded before it starts.
@pytest.mark.parametrize("path", ["/api/ocr/extract-text", "/api/convert-async"])
def test_a_huge_page_selection_is_refused_at_once(client, docs, path):
    started = time.monotonic()
    body = {"image": b64(docs["page.png"]), "document_type_code": "text", "pages": "1-," * 900_000}
    response = client.post(path, json=body)
    assert time.monotonic() - started < 5
    assert response.status_code == 422
    assert "1-,1-," not in response.text  # never echoed


# The asynchronous endpoints refuse invalid pages, psm and lang as the sync ones do.
@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("psm", "2", "psm: choose one of 1, 3, 4"),
        ("lang", "eng+", "lang: use up to 8 language codes"),
        ("pages", "1-x", "pages: use page numbers and ranges"),
        ("engine", "magic", "engine: choose one of auto, tesseract, ppocr, llm, hybrid, llm-text"),
    ],
)
def test_async_options_are_validated_at_submission_as_on_the_sync_endpoints(
    client, docs, field, value, problem
):
    form = client.post(
        "/api/convert-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text", field: value},
    )
    assert form.status_code == 422
    assert form.json()["errors"][0].startswith(problem)
    batch = client.post(
        "/api/batches/",
        files={"files": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text", field: value},
    )
    assert batch.status_code == 422
    assert batch.json()["errors"][0].startswith(problem)


# Smaller ones.
@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_invalid_json_is_a_400_on_every_json_endpoint(client, path):
    response = client.post(path, content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"] == "The request body is not valid JSON."


@pytest.mark.parametrize("path", JSON_ENDPOINTS)
def test_an_empty_body_says_so(client, path):
    response = client.post(path, content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"] == "The request body is empty; send a JSON object."


def test_a_long_filename_with_a_path_is_cut_and_cleaned(client, workers, docs):
    # Names over the multipart parser's 4 KB header limit are a clear 400 (next test).
    name = "../../etc/" + "x" * 3000 + "\x07.png"
    response = client.post(
        "/api/batches/",
        files={"files": (name, docs["page.png"].read_bytes())},
        data={"document_type_code": "text"},
    )
    assert response.status_code == 202, response.text
    status = client.get(f"/api/batches/{response.json()['batch_id']}").json()
    stored = status["items"][0]["filename"]
    assert len(stored) == 255 and stored.endswith("x.png") and "/" not in stored and "\x07" not in stored


def test_a_filename_over_the_multipart_header_limit_is_a_clear_400(client, docs):
    response = client.post(
        "/api/convert-async",
        files={"image": ("x" * 5000 + ".png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text"},
    )
    assert response.status_code == 400
    assert "a very long file name" in response.json()["message"]


def test_a_405_names_the_allowed_methods(client):
    response = client.delete("/api/ocr/extract-text")
    assert response.status_code == 405
    assert "POST" in response.headers["allow"]


def test_query_parameter_errors_are_documented(client):
    assert client.get("/api/convert-async/status/x", params={"wait": -1}).status_code == 422
    assert client.get("/api/batches/x/results", params={"format": "xml"}).status_code == 422
    spec = client.get("/schema/openapi.json").json()
    status = spec["paths"]["/api/convert-async/status/{conversion_id}"]["get"]["responses"]
    results = spec["paths"]["/api/batches/{batch_id}/results"]["get"]["responses"]
    assert "422" in status and "422" in results


def test_a_pdf_password_is_not_kept_in_the_job_record(client, workers, docs, redis_url):
    response = client.post(
        "/api/convert-async",
        files={"image": ("locked.pdf", docs["encrypted.pdf"].read_bytes())},
        data={"document_type_code": "text", "password": "s3cret"},
    )
    assert response.status_code == 202
    conversion_id = response.json()["conversion_id"]
    redis = Redis.from_url(redis_url)
    record = redis.hgetall(f"lector:conversion:{conversion_id}")
    assert b"s3cret" not in b"".join(record.values())
    assert wait_for_end(client, conversion_id)["status"] == "SUCCESS"
    assert redis.exists(f"lector:password:{conversion_id}") == 0  # gone once the job ended
    assert b"s3cret" not in b"".join(redis.hgetall(f"lector:conversion:{conversion_id}").values())


def test_a_document_refused_as_bad_input_is_deleted(client, workers, docs, redis_url):
    response = client.post(
        "/api/convert-async",
        files={"image": ("bad.png", docs["truncated.png"].read_bytes())},
        data={"document_type_code": "text"},
    )
    conversion_id = response.json()["conversion_id"]
    redis = Redis.from_url(redis_url)
    key = json.loads(redis.hget(f"lector:conversion:{conversion_id}", "document_key"))
    assert (TEST_STORE / key).exists()
    assert wait_for_end(client, conversion_id)["status"] == "ERROR"
    deleted_soon(TEST_STORE / key)


# Tried as a new user would: both names of the base64 field on every JSON endpoint.
def test_image_and_image_base64_are_both_accepted(client, workers, docs):
    for name in ("image", "image_base64"):
        sync = client.post("/api/ocr/extract-text", json={name: b64(docs["page.png"])})
        assert sync.status_code == 200, sync.text
        queued = client.post(
            "/api/convert-async", json={"document_type_code": "text", name: b64(docs["page.png"])}
        )
        assert queued.status_code == 202, queued.text
        assert wait_for_end(client, queued.json()["conversion_id"])["status"] == "SUCCESS"
    both = client.post("/api/ocr/extract-text", json={"image": "aGk=", "image_base64": "aGk="})
    assert both.status_code == 422


def test_model_only_options_on_tesseract_are_reported_as_ignored(client, docs):
    response = client.post(
        "/api/ocr/extract-text",
        json={"image": b64(docs["page.png"]), "engine": "tesseract", "ocr_instructions": "Prices in EUR"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["warnings"] == [
        "`ocr_instructions` was ignored: only a vision model reads them, and tesseract read this document."
    ]


# Large submissions are decoded and hashed off the event loop, so /health stays prompt. The
# uploads come from curl processes so that the probe's latency is the server's alone, not this
# process's threads taking turns at the GIL.
def test_health_answers_promptly_during_large_submissions(server, tmp_path):
    # A PNG signature, then bytes that do not decode: taken in, to fail on a worker.
    payload = base64.b64encode(b"\x89PNG\r\n\x1a\n" + os.urandom(90 * 1024 * 1024)).decode()
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"document_type_code": "text", "image_base64": payload}))
    upload = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "120"]
    upload += ["-H", f"Authorization: Bearer {API_KEY}", "-H", "Content-Type: application/json"]
    upload += ["--data-binary", f"@{body}", f"{server.url}/api/convert-async"]
    latencies: list[float] = []
    submissions = [subprocess.Popen(upload, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    with httpx.Client(base_url=server.url, timeout=30) as probe:
        while any(submission.poll() is None for submission in submissions):
            started = time.monotonic()
            assert probe.get("/health").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.02)
    assert [submission.communicate()[0] for submission in submissions] == ["202", "202"]
    assert len(latencies) > 5
    # Measured on 2 cores: at most 0.08 s now (the base64 is decoded from the JSON token in
    # 512 KiB steps), 0.6 to 1.4 s when the body was joined and decoded into one Python str,
    # 1.37 s with the decoding on the event loop.
    assert max(latencies) < 0.5, sorted(latencies)[-5:]
