"""The ``llm-text`` engine and LECTOR_LLM_VISION=no: the model gets the OCR text of a generated
receipt (no picture) from Lector's real openai client, against the fake model server on loopback."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import pytest

from fixtures.generate import RECEIPT_FIELDS
from service.engines import Engines
from service.errors import InvalidOption
from service.extract import extract
from service.models import Extraction
from service.options import Options
from service.settings import load_settings
from tests.fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS_BASE, running
from tests.helpers import API_KEY, ROOT, start_redis, start_server, start_worker, stop_process, wait_for_end
from tests.helpers import SECRET as SIGNING_SECRET

RECEIPT_SCHEMA = json.loads((ROOT / "schemas" / "receipt.json").read_text())
#: What the scripted model answers: the receipt's fields as printed, the rest null.
ANSWER: dict[str, Any] = {
    **dict.fromkeys(RECEIPT_SCHEMA["properties"]),
    "merchant_name": RECEIPT_FIELDS["merchant_name"],
    "merchant_address": RECEIPT_FIELDS["merchant_address"],
    "date": RECEIPT_FIELDS["date"],
    "subtotal": 18.9,
    "tax": 1.13,
    "total": 20.03,
    "line_items": [],
}
ONE_CALL = PROMPT_TOKENS_BASE + COMPLETION_TOKENS  # no image in the prompt


def environment(url: str, *, vision: bool) -> dict[str, str]:
    return {
        "OPENAI_BASE_URL": f"{url}/v1",
        "OPENAI_API_KEY": "sk-test",
        "LECTOR_LLM_MODEL": "fake-text",
        "LECTOR_LLM_VISION": "yes" if vision else "no",
    }


@pytest.fixture(scope="module")
def fake_model():
    with running() as url:
        yield url


@pytest.fixture
def model(fake_model):
    """The fake model's control: reset before each test."""
    with httpx.Client(base_url=fake_model) as control:
        control.post("/_reset")
        yield control


@pytest.fixture(scope="module")
def engines(fake_model):
    """A vision model's registry (LECTOR_LLM_VISION's default)."""
    return Engines(load_settings(environment(fake_model, vision=True)))


@pytest.fixture(scope="module")
def blind(fake_model):
    """The registry of a model that cannot see images."""
    return Engines(load_settings(environment(fake_model, vision=False)))


def read(docs, engines: Engines, name: str = "receipt.png", **options: Any) -> Extraction:
    # In English: the receipt's language cannot be told (lang=auto's warning would join the model's).
    return extract(docs[name].read_bytes(), Options(**{"lang": "eng", **options}), engines)


def word_box(extraction: Extraction, text: str) -> list[int]:
    (box,) = [word.box for page in extraction.pages for word in page.words if word.text == text]
    return box


def test_llm_text_sends_the_ocr_lines_and_no_image(docs, engines, model):
    model.post("/_script", json=[{"content": json.dumps(ANSWER)}])
    found = read(docs, engines, document_type_code="receipt", engine="llm-text", ocr_instructions="Ringgit.")
    (request,) = model.get("/_requests").json()
    body = request["body"]
    parts = [part for message in body["messages"] if isinstance(message["content"], list)
             for part in message["content"]]  # fmt: skip
    assert parts and all(part["type"] == "text" for part in parts)  # no image_url part
    text = "\n".join(part["text"] for part in parts)
    assert "--- Page 1 ---\nKEDAI BUKU CAHAYA SDN BHD (123456-X)\nNO 12, JALAN MERANTI 3," in text
    assert "\nTOTAL RM 20.03\n" in text
    system = body["messages"][0]["content"]
    assert system.startswith("# Receipt") and "Ringgit." in system
    assert body["response_format"]["json_schema"]["name"] == "receipt"
    assert (found.engine, found.model, found.llm_calls) == ("llm-text", "fake-text", 1)
    assert found.tokens.total == ONE_CALL
    assert found.fields is not None and found.fields["total"] == 20.03


def test_each_field_points_at_the_words_it_came_from(docs, engines, model):
    model.post("/_script", json=[{"content": json.dumps(ANSWER)}])
    found = read(docs, engines, document_type_code="receipt", engine="llm-text", include_words=True)
    evidence = found.field_evidence
    assert evidence is not None and found.field_confidence is not None
    assert evidence["total"].words == ["20.03"] and evidence["total"].box == word_box(found, "20.03")
    assert evidence["merchant_name"].words == ["KEDAI", "BUKU", "CAHAYA", "SDN", "BHD"]
    assert evidence["date"].words == ["25/12/2018"]
    assert (
        evidence["merchant_address"].words[0] == "NO" and evidence["merchant_address"].words[-1] == "SELANGOR"
    )
    page = found.pages[0]
    total = evidence["total"]
    assert total.page == 1 and total.box is not None and total.box_normalized is not None
    left, top, right, bottom = total.box
    assert total.polygon == [[left, top], [right, top], [right, bottom], [left, bottom]]
    assert total.box_normalized == [
        round(left / page.width, 4), round(top / page.height, 4),
        round(right / page.width, 4), round(bottom / page.height, 4),
    ]  # fmt: skip
    label = word_box(found, "TOTAL")  # the total stands on the TOTAL line
    assert label[1] < (top + bottom) / 2 < label[3] and left > label[2]
    assert 0.5 < total.confidence <= 0.99 and found.field_confidence["total"] == total.confidence
    assert found.field_confidence["merchant_phone"] == 0.0 and "merchant_phone" not in evidence
    assert "line_items" not in evidence  # arrays and objects are not matched
    assert found.warnings == []


def test_a_value_not_in_the_text_gets_a_warning_and_no_box(docs, engines, model):
    model.post("/_script", json=[{"content": json.dumps({**ANSWER, "total": 123.45})}])
    found = read(docs, engines, document_type_code="receipt", engine="llm-text")
    assert found.warnings == ["The model's `total` (123.45) is not in the text it was given."]
    assert found.field_evidence is not None
    total = found.field_evidence["total"]
    assert (total.confidence, total.page, total.box, total.polygon, total.words) == (
        0.1,
        None,
        None,
        None,
        [],
    )
    assert found.fields is not None and found.fields["total"] == 123.45  # the answer stays the model's
    assert all(page.words == [] for page in found.pages)  # read for the evidence, not asked for


def test_a_blind_model_makes_auto_read_receipts_as_text_and_plain_text_by_ocr_alone(docs, blind, model):
    model.post("/_script", json=[{"content": json.dumps(ANSWER)}])
    receipt = read(docs, blind, document_type_code="receipt")
    assert receipt.engine == "llm-text" and receipt.field_evidence is not None
    assert len(model.get("/_requests").json()) == 1
    plain = read(docs, blind, document_type_code="text")
    assert plain.engine == "tesseract" and plain.llm_calls == 0 and "KEDAI BUKU" in plain.text
    assert len(model.get("/_requests").json()) == 1  # the model was not asked
    assert blind.uses_model("auto", "receipt") and not blind.uses_model("auto", "text")


@pytest.mark.parametrize("name", ["llm", "hybrid"])
def test_a_blind_model_refuses_the_engines_that_send_pictures(docs, blind, name):
    with pytest.raises(InvalidOption) as refused:
        read(docs, blind, document_type_code="receipt", engine=name)
    assert refused.value.message == (
        "The configured model (fake-text) cannot see images (LECTOR_LLM_VISION=no): "
        "use engine llm-text, or an OCR engine."
    )


def test_a_text_layer_page_gives_the_model_its_own_text(docs, engines, model):
    model.post("/_script", json=[{"content": json.dumps({**ANSWER, "total": None})}])
    found = read(docs, engines, "mixed.pdf", document_type_code="receipt", engine="llm-text")
    assert [page.source for page in found.pages] == ["text-layer", "ocr"]
    (request,) = model.get("/_requests").json()
    text = request["body"]["messages"][1]["content"][0]["text"]
    assert "--- Page 1 ---\n" + found.pages[0].text.splitlines()[0] in text and "--- Page 2 ---" in text


@pytest.fixture(scope="module")
def blind_stack(fake_model, tmp_path_factory):
    """A Redis, a server and a worker configured for a model that cannot see images."""
    work = tmp_path_factory.mktemp("llm-text")
    redis_process, redis_url = start_redis(work)
    settings = environment(fake_model, vision=False)
    server = start_server(work, LECTOR_REDIS_URL=redis_url, LECTOR_SECRET=SIGNING_SECRET, **settings)
    worker = start_worker(work, redis_url, **settings)
    yield server
    stop_process(worker)
    server.stop()
    redis_process.terminate()


@pytest.fixture
def api(blind_stack):
    with httpx.Client(base_url=blind_stack.url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
        yield client


def test_a_sync_route_answers_evidence_and_refuses_llm(api, model, docs):
    model.post("/_script", json=[{"content": json.dumps(ANSWER)}])
    encoded = base64.b64encode(docs["receipt.png"].read_bytes()).decode()
    response = api.post("/api/ocr/extract-text", json={"image": encoded, "document_type_code": "receipt"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert (
        data["raw_response"]["engine"] == "llm-text" and data["raw_response"]["tokens"]["total"] == ONE_CALL
    )
    assert data["field_evidence"]["total"]["words"] == ["20.03"] and data["fields"]["total"] == 20.03
    refused = api.post("/api/ocr/extract-text", json={"image": encoded, "engine": "llm"})
    assert refused.status_code == 422
    assert "cannot see images (LECTOR_LLM_VISION=no)" in refused.json()["message"]


def test_a_queued_job_answers_evidence(api, model, docs):
    model.post("/_script", json=[{"content": json.dumps({**ANSWER, "total": 99.99})}])
    files = {"image": ("receipt.png", docs["receipt.png"].read_bytes())}
    fields = {"document_type_code": "receipt", "engine": "llm-text", "lang": "eng"}
    submitted = api.post("/api/convert-async", files=files, data=fields).json()
    status = wait_for_end(api, submitted["conversion_id"])
    assert status["status"] == "SUCCESS", status
    result = status["result"]
    assert (result["engine"], result["llm_calls"], result["tokens_used"]) == ("llm-text", 1, ONE_CALL)
    assert result["field_evidence"]["merchant_name"]["page"] == 1
    assert result["field_evidence"]["total"]["box"] is None
    assert result["warnings"] == ["The model's `total` (99.99) is not in the text it was given."]


def test_a_batch_reads_receipts_with_llm_text_and_keeps_the_evidence(api, model, docs):
    model.post("/_script", json=[{"content": json.dumps(ANSWER)}])
    encoded = base64.b64encode(docs["receipt.png"].read_bytes()).decode()
    created = api.post(
        "/api/batches/", json={"document_type_code": "receipt", "items": [{"image_base64": encoded}]}
    ).json()
    deadline = time.monotonic() + 60
    while api.get(f"/api/batches/{created['batch_id']}").json()["status"] != "SUCCESS":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    (line,) = api.get(f"/api/batches/{created['batch_id']}/results?format=jsonl").text.splitlines()
    record = json.loads(line)
    assert record["fields"]["total"] == 20.03 and record["tokens_used"] == ONE_CALL
    assert record["field_evidence"]["total"]["words"] == ["20.03"]


def test_a_blind_model_reads_an_identified_receipt_as_text(docs, blind, model):
    model.post("/_script", json=[{"content": json.dumps(ANSWER)}])
    found = read(docs, blind, document_type_code="auto")
    assert (found.document_type, found.engine, found.llm_calls) == ("receipt", "llm-text", 1)
    (request,) = model.get("/_requests").json()  # identified from the OCR text: one call, for the fields
    assert request["body"]["response_format"]["json_schema"]["name"] == "receipt"
