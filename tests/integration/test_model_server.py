"""Lector's real openai client against a real model server: llama.cpp's llama-server with
Gemma 3 270M, a text-only model, on loopback (``tests/model_server.py``). Every built-in type's
schema and an own type's are strict ``json_schema`` formats the server honours; token counts
are the server's; the model calls in flight are LECTOR_LLM_CONCURRENCY; and a vision request
to this text-only model is a 502 that says what the server said, with the hint."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from fixtures.generate import encode, page_image
from service.doctypes import DocumentType, document_types
from service.engines import Engines
from service.engines.llm import LlmEngine, schema_problems
from service.errors import ContextExceeded, ModelReplyCut, ModelTimeout
from service.extract import extract
from service.models import Extraction
from service.options import Options
from service.settings import load_settings
from tests.helpers import (
    API_KEY,
    OTHER_KEY,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_until,
)
from tests.model_server import MODEL, ModelServer, model_file, start_model_server

#: An own type with nested arrays, enums and nullable fields.
OWN_SCHEMA = {
    "type": "object",
    "properties": {
        "vendor": {"type": ["string", "null"]},
        "kind": {"type": ["string", "null"], "enum": ["receipt", "invoice", "other", None]},
        "lines": {
            "type": "array",
            "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": ["string", "null"]},
                    "amount": {"type": ["number", "null"]},
                    "tags": {
                        "type": "array",
                        "maxItems": 2,
                        "items": {"type": "string", "enum": ["food", "tax", "other"]},
                    },
                },
                "required": ["label", "amount", "tags"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["vendor", "kind", "lines"],
    "additionalProperties": False,
}
OWN_TYPE = DocumentType(
    code="expense_note",
    title="Expense note",
    prompt="# Expense note\n\nA note of expenses.",
    schema=OWN_SCHEMA,
)
KINDS = {**document_types(), OWN_TYPE.code: OWN_TYPE}


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> ModelServer:
    work = tmp_path_factory.mktemp("llama")
    server = start_model_server(work, model_file(work), parallel=4)
    yield server
    server.stop()


def settings_for(llama: ModelServer, **more: str):
    return load_settings({**model_settings(llama), "LECTOR_LLM_CONCURRENCY": "2", **more})


def model_settings(llama: ModelServer) -> dict[str, str]:
    """Lector configured for the text-only model. A reply is cut at 300 tokens (a 270M model
    can repeat a line item until stopped) and repetition is discouraged, as a small local
    model's operator would set it."""
    return {
        "OPENAI_BASE_URL": llama.url,
        "LECTOR_LLM_MODEL": MODEL,
        "LECTOR_LLM_VISION": "no",
        "LECTOR_LLM_MAX_OUTPUT_TOKENS": "300",
        "LECTOR_LLM_FREQUENCY_PENALTY": "1",
    }


@pytest.fixture(scope="module")
def engines(llama) -> Engines:
    return Engines(settings_for(llama))


@pytest.fixture(scope="module")
def note(docs) -> bytes:
    """A short page the small model can answer in full."""
    return encode(page_image(["KEDAI BUKU CAHAYA", "DATE 09/12/2018", "TOTAL 20.03"]), "PNG")


def read_note(engines: Engines, note: bytes) -> Extraction:
    return extract(note, Options(document_type_code=OWN_TYPE.code, engine="llm-text"), engines, kinds=KINDS)


def test_every_type_is_a_strict_schema_the_real_server_honours(llama, engines, note):
    built_in = [kind for kind in document_types().values() if kind.schema is not None]
    assert {kind.code for kind in built_in} >= {"receipt", "invoice"}
    for kind in built_in:
        # The tiny model may run on to the token limit: then the answer says so, as a 502.
        try:
            extraction = extract(note, Options(document_type_code=kind.code, engine="llm-text"), engines)
        except ModelReplyCut as cut:
            assert (
                cut.status_code == 502 and "reached LECTOR_LLM_MAX_OUTPUT_TOKENS (300 tokens)" in cut.message
            )
        else:
            assert extraction.fields is not None and schema_problems(extraction.fields, kind.schema) == []
    own = read_note(engines, note)
    assert own.fields is not None and schema_problems(own.fields, OWN_SCHEMA) == []
    assert len(own.fields["lines"]) <= 2  # the server's grammar held the schema's maxItems
    # Every schema was taken as a strict json_schema: no fallback to json_object was needed
    # (the process's memory of servers that refuse schemas, which every model engine shares).
    assert not LlmEngine(engines.settings).formats.json_object_only(llama.url + "/")


def test_the_token_counts_are_the_servers(llama, engines, note):
    before = llama.metrics()
    extraction = read_note(engines, note)
    after = llama.metrics()
    assert (
        extraction.tokens.prompt
        == after["llamacpp:prompt_tokens_total"] - before["llamacpp:prompt_tokens_total"]
    )
    predicted = after["llamacpp:tokens_predicted_total"] - before["llamacpp:tokens_predicted_total"]
    assert extraction.tokens.completion == predicted
    assert extraction.tokens.total == extraction.tokens.prompt + extraction.tokens.completion > 0


def test_the_calls_in_flight_are_the_concurrency_setting(llama, engines, note):
    busiest, done = 0.0, threading.Event()

    def watch() -> None:
        nonlocal busiest
        while not done.is_set():
            busiest = max(busiest, llama.metrics().get("llamacpp:requests_processing", 0.0))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(4) as pool:  # four documents at once; the server has four slots
            list(pool.map(lambda _: read_note(engines, note), range(4)))
    finally:
        done.set()
        watcher.join()
    assert busiest == 2  # LECTOR_LLM_CONCURRENCY, not the four documents nor the four slots


def test_a_call_past_the_timeout_is_a_504(llama, docs):
    slow = Engines(settings_for(llama, LECTOR_LLM_TIMEOUT_S="1"))
    invoice = docs["invoice.png"].read_bytes()
    started = time.monotonic()
    with pytest.raises(ModelTimeout) as caught:
        extract(invoice, Options(document_type_code="invoice", engine="llm-text"), slow)
    assert caught.value.status_code == 504
    assert "within 1 s" in caught.value.message
    assert time.monotonic() - started < 30


def test_an_image_sent_to_a_text_only_model_is_a_502_with_the_servers_reason(llama, docs, tmp_path):
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(
        tmp_path, LECTOR_REDIS_URL=redis_url, OPENAI_BASE_URL=llama.url, LECTOR_LLM_MODEL=MODEL
    )  # LECTOR_LLM_VISION left at yes: the model is taken to see
    try:
        answer = httpx.post(
            f"{server.url}/api/ocr/extract-text-from-file",
            files={"file": ("receipt.png", docs["receipt.png"].read_bytes())},
            data={"document_type_code": "receipt"},
            headers={"X-API-Key": API_KEY},
            timeout=120,
        )
        assert answer.status_code == 502, answer.text
        message = answer.json()["message"]
        assert (
            "image" in message.lower() and "If the model has no vision, set LECTOR_LLM_VISION=no." in message
        )
    finally:
        server.stop()
        redis_process.terminate()


@pytest.fixture(scope="module")
def stack(llama, tmp_path_factory):
    """Redis, an API and a worker with the text-only model; each test key has the own type."""
    work = tmp_path_factory.mktemp("model-stack")
    redis_process, redis_url = start_redis(work)
    server = start_server(work, LECTOR_REDIS_URL=redis_url, **model_settings(llama))
    worker = start_worker(work, redis_url, **model_settings(llama))
    own = {"name": OWN_TYPE.title, "codeType": OWN_TYPE.code, "description": "x", "jsonSchema": OWN_SCHEMA}
    for key in (API_KEY, OTHER_KEY):
        made = httpx.post(f"{server.url}/api/document-types", json=own, headers={"X-API-Key": key})
        assert made.status_code == 201, made.text
    yield server
    stop_process(worker)
    server.stop()
    redis_process.terminate()


def test_a_sync_answer_books_the_servers_tokens(llama, stack, note):
    before = llama.metrics()
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
        answer = client.post(  # Docutray's sync route, which takes a key's own types
            "/api/convert",
            files={"file": ("note.png", note)},
            data={"document_type_code": OWN_TYPE.code},  # engine auto: llm-text, as the model is blind
        )
        usage = client.get("/api/usage").json()["days"]
    assert answer.status_code == 200, answer.text
    result = answer.json()["result"]
    assert (result["engine"], result["model"]) == ("llm-text", MODEL)
    prompt = llama.metrics()["llamacpp:prompt_tokens_total"] - before["llamacpp:prompt_tokens_total"]
    assert result["tokens"]["prompt"] == prompt > 0
    assert sum(day["prompt_tokens"] for day in usage) == prompt  # booked as the server counted


def test_queued_jobs_outlive_the_model_server_stopping_and_nothing_is_booked_twice(llama, stack, note):
    with httpx.Client(base_url=stack.url, headers={"X-API-Key": OTHER_KEY}, timeout=120) as client:
        ids = [
            client.post(
                "/api/convert-async",
                files={"file": (f"note-{index}.png", note)},
                data={"document_type_code": OWN_TYPE.code, "engine": "llm-text"},
            ).json()["conversion_id"]
            for index in range(6)
        ]

        def states() -> list[dict]:
            return [client.get(f"/api/convert-async/status/{one}").json() for one in ids]

        wait_until(lambda: any(state["status"] == "SUCCESS" for state in states()), 120, "a first job")
        llama.stop()  # in the middle of the jobs
        time.sleep(2)
        port = int(llama.root.rsplit(":", 1)[1])
        restarted = start_model_server(llama.log.parent, model_file(llama.log.parent), parallel=4, port=port)
        llama.process = restarted.process
        wait_until(
            lambda: all(state["status"] in ("SUCCESS", "ERROR") for state in states()), 240, "every job"
        )
        ended = states()
        usage = client.get("/api/usage").json()["days"]
    for state in ended:  # back in time: SUCCESS; or an ERROR that says why
        assert state["status"] == "SUCCESS" or state["error"].endswith("."), state
    spent = sum(state["result"]["tokens"]["prompt"] for state in ended if state["status"] == "SUCCESS")
    assert spent > 0 and sum(day["prompt_tokens"] for day in usage) == spent  # each booked once


def test_a_page_over_the_servers_context_is_a_422_with_both_numbers(llama, docs, tmp_path):
    small = start_model_server(tmp_path, model_file(llama.log.parent), parallel=1, context=256)
    try:
        engines = Engines(settings_for(small))
        with pytest.raises(ContextExceeded) as caught:
            extract(
                docs["receipt.png"].read_bytes(),
                Options(document_type_code="receipt", engine="llm-text"),
                engines,
            )
    finally:
        small.stop()
    assert caught.value.status_code == 422
    assert re.search(r"needs \d+ tokens; the model server's context holds 256", caught.value.message), (
        caught.value.message
    )
