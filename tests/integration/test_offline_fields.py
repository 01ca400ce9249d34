"""Receipt and invoice fields from Tesseract alone, through the sync and the asynchronous API.

The documents are generated (fixtures/generate.py) with known fields; the server has no vision
model, so ``engine=auto`` is the OCR engine prompts/engines.json names for the type (ppocr for
receipts and invoices, Tesseract for the others) and the fields come from the rules in
service/fields.
"""

from __future__ import annotations

import base64

import pytest

from fixtures.generate import INVOICE_FIELDS, RECEIPT_FIELDS
from service.engines import Engines
from service.settings import Settings
from tests.helpers import wait_for_end

EXPECTED = {"receipt.png": RECEIPT_FIELDS, "invoice.png": INVOICE_FIELDS, "invoice.pdf": INVOICE_FIELDS}


def check(fields: dict, confidence: dict, expected: dict) -> None:
    """Every expected field is right and sure; every schema field has a confidence in [0, 1]."""
    assert {name: fields[name] for name in expected} == expected
    assert set(confidence) == set(fields)
    assert all(0 <= value <= 1 for value in confidence.values())
    assert all(confidence[name] >= 0.5 for name in expected)
    assert all(confidence[name] == 0 for name, value in fields.items() if value is None)


@pytest.mark.parametrize("name", ["receipt.png", "invoice.png"])
def test_sync_json_answers_fields_with_their_confidence(client, docs, name):
    code = name.split(".")[0]
    image = base64.b64encode(docs[name].read_bytes()).decode()
    response = client.post(
        "/api/ocr/extract-text", json={"image": image, "document_type_code": code, "engine": "tesseract"}
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    check(data["fields"], data["field_confidence"], EXPECTED[name])
    assert data["raw_response"]["engine"] == "tesseract" and data["raw_response"]["llm_calls"] == 0
    assert data["raw_response"]["pages"][0]["words"] == []  # read for the rules, not asked for
    assert "TOTAL" in data["text"].upper()
    total = data["field_evidence"]["total"]
    page = data["raw_response"]["pages"][0]
    assert total["page"] == 1 and total["confidence"] == data["field_confidence"]["total"]
    left, top, right, bottom = total["box"]
    assert 0 <= left < right <= page["width"] and 0 <= top < bottom <= page["height"]
    assert "total" in [check["name"] for check in data["checks"]]
    assert all(check["ok"] for check in data["checks"]), data["checks"]


def test_sync_upload_of_a_text_layer_invoice_uses_its_words(client, docs):
    with docs["invoice.pdf"].open("rb") as handle:
        response = client.post(
            "/api/ocr/extract-text-from-file",
            files={"file": ("invoice.pdf", handle, "application/pdf")},
            data={"document_type_code": "invoice", "include_words": "true"},
        )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    check(data["fields"], data["field_confidence"], INVOICE_FIELDS)
    page = data["raw_response"]["pages"][0]
    assert page["source"] == "text-layer" and page["words"]


@pytest.mark.parametrize("name", ["receipt.png", "invoice.png", "invoice.pdf"])
def test_async_results_carry_fields_and_confidence(client, workers, docs, name):
    code = name.split(".")[0]
    with docs[name].open("rb") as handle:
        response = client.post(
            "/api/convert-async",
            files={"file": (name, handle)},
            data={"document_type_code": code},
        )
    assert response.status_code == 202, response.text
    status = wait_for_end(client, response.json()["conversion_id"])
    assert status["status"] == "SUCCESS", status
    check(status["data"], status["result"]["field_confidence"], EXPECTED[name])
    # prompts/engines.json's engine for a scan; a PDF's text layer needs none, and says so.
    assert status["result"]["engine"] == ("text-layer" if name.endswith(".pdf") else "ppocr")


@pytest.mark.parametrize(
    ("code", "lang", "engine"),
    [
        ("receipt", "eng", "ppocr"),
        ("receipt", "deu", "tesseract"),
        ("invoice", "eng", "ppocr"),
        ("text", "eng", "tesseract"),
    ],
)
def test_auto_reads_each_type_with_the_engine_of_the_table(code, lang, engine):
    assert Engines(Settings()).resolve("auto", code, lang) == engine
    assert Engines(Settings(llm_model="vision")).resolve("auto", code, lang) == "llm"


@pytest.mark.parametrize(
    ("name", "pages", "code"),
    [("receipt.png", None, "receipt"), ("invoice.pdf", None, "invoice"), ("scanned.pdf", "2", "text")],
)
def test_auto_identifies_the_type_and_reads_its_fields(client, docs, name, pages, code):
    body = {"image": base64.b64encode(docs[name].read_bytes()).decode(), "document_type_code": "auto"}
    response = client.post("/api/ocr/extract-text", json=body | ({"pages": pages} if pages else {}))
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["document_type"] == code and 0.5 < data["document_type_confidence"] <= 1
    if code == "text":
        assert data["fields"] is None and "Quarterly report" in data["text"]
    else:
        check(data["fields"], data["field_confidence"], EXPECTED[name])


def test_auto_is_reported_on_the_async_status_and_refused_for_batches(client, workers, docs):
    with docs["receipt.png"].open("rb") as handle:
        queued = client.post(
            "/api/convert-async", files={"file": ("r.png", handle)}, data={"document_type_code": "auto"}
        )
    assert queued.status_code == 202, queued.text
    status = wait_for_end(client, queued.json()["conversion_id"])
    assert status["status"] == "SUCCESS", status
    assert status["result"]["document_type_code"] == "receipt" and status["data"]["total"] == 20.03
    batch = client.post(
        "/api/batches/",
        json={"document_type_code": "auto", "items": [{"image_url": "http://example.com/a.png"}]},
    )
    assert batch.status_code == 422
    assert "auto is not available here" in batch.text
