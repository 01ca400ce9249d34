"""A model server's failures, as Lector answers them: never a 500. Lector's real openai
client against the fake model server on loopback, and against a port nobody listens on."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from tests.fake_openai import running, transcription
from tests.helpers import (
    ADMIN_KEY,
    API_KEY,
    free_port,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_for_end,
    wait_until,
)
from tests.helpers import SECRET as SIGNING_SECRET

SECRET = "sk-test-secret-0123456789"
IMAGE_REFUSAL = {
    "status": 500,
    "body": {
        "error": {
            "code": 500,
            "message": "image input is not supported by this server",
            "type": "server_error",
        }
    },
}
CONTEXT_EXCEEDED = {
    "status": 400,
    "body": {
        "error": {
            "code": 400,
            "message": "request (5120 tokens) exceeds the available context size (4096 tokens), "
            "try increasing it",
            "type": "exceed_context_size_error",
            "n_prompt_tokens": 5120,
            "n_ctx": 4096,
        }
    },
}
#: Fast retries: the client waits what the server says (in milliseconds) between attempts.
OVERLOADED = {
    "status": 503,
    "headers": {"retry-after-ms": "10"},
    "body": {"error": {"message": "Loading model"}},
}


@pytest.fixture(scope="module")
def fake_model():
    with running() as url:
        yield url


@pytest.fixture(scope="module")
def stacks(fake_model, tmp_path_factory):
    """A Redis; a server and a worker for the fake model (1 s per call, 2 pages per call);
    and a server whose model server cannot be reached."""
    work = tmp_path_factory.mktemp("llm-errors")
    redis_process, redis_url = start_redis(work)
    settings = {
        "OPENAI_API_KEY": SECRET,
        "LECTOR_LLM_MODEL": "fake-vision",
        "LECTOR_LLM_PAGES_PER_CALL": "2",
        "LECTOR_LLM_TIMEOUT_S": "1",
    }
    common = {"LECTOR_REDIS_URL": redis_url, "LECTOR_SECRET": SIGNING_SECRET, "LECTOR_ADMIN_KEY": ADMIN_KEY}
    served = {**settings, "OPENAI_BASE_URL": f"{fake_model}/v1"}
    server = start_server(work, **common, **served)
    worker = start_worker(work, redis_url, **served)
    down = start_server(work, **common, **settings, OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    yield server, down
    stop_process(worker)
    server.stop()
    down.stop()
    redis_process.terminate()


@pytest.fixture
def model(fake_model):
    with httpx.Client(base_url=fake_model) as control:
        control.post("/_reset")
        yield control


@pytest.fixture
def api(stacks):
    with httpx.Client(base_url=stacks[0].url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
        yield client


@pytest.fixture
def down(stacks):
    with httpx.Client(base_url=stacks[1].url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
        yield client


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def images_per_call(model: httpx.Client) -> list[int]:
    return [
        sum(part["type"] == "image_url" for part in request["body"]["messages"][1]["content"])
        for request in model.get("/_requests").json()
    ]


def test_a_refusal_is_a_502_with_the_servers_reason_and_no_retry(api, model, docs):
    reason = f"temperature is not supported with this model; your key {SECRET} was used"
    model.post("/_script", json=[{"status": 400, "body": {"error": {"message": reason}}}])
    response = api.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert (response.status_code, response.json()["message"]) == (
        502,
        "The model server refused the request for page 1 (400): "
        '"temperature is not supported with this model; your key [key] was used".',
    )
    assert len(model.get("/_requests").json()) == 1


def test_a_long_reason_is_trimmed(api, model, docs):
    model.post("/_script", json=[{"status": 422, "body": {"error": {"message": "invalid " * 100}}}])
    response = api.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert response.status_code == 502
    quoted = response.json()["message"].split('"')[1]
    assert len(quoted) == 200 and quoted.endswith("…")


def test_an_image_refused_by_a_text_only_model_is_a_502_with_the_hint(api, model, docs):
    model.post("/_script", json=[IMAGE_REFUSAL] * 4)
    response = api.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert (response.status_code, response.json()["message"]) == (
        502,
        'The model server refused the request for page 1 (500): "image input is not supported by this '
        'server". If the model has no vision, set LECTOR_LLM_VISION=no.',
    )
    assert len(model.get("/_requests").json()) == 1  # a 500 that names the request is not retried


def test_a_server_failing_on_its_own_is_a_502_after_the_clients_retries(api, model, docs):
    model.post("/_script", json=[{"status": 500, "headers": {"retry-after-ms": "10"}}] * 4)
    response = api.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert (response.status_code, response.json()["message"]) == (
        502,
        'The model server failed on page 1 (500): "scripted failure".',
    )
    assert len(model.get("/_requests").json()) == 4


def test_an_overloaded_server_is_a_503_with_retry_after(api, model, docs):
    model.post("/_script", json=[OVERLOADED] * 4)
    response = api.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert (
        response.json()["message"]
        == 'The model server is overloaded (503): "Loading model"; try again shortly.'
    )


def test_an_unreachable_server_is_a_503_with_retry_after(down, docs):
    response = down.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert (response.status_code, response.json()["message"]) == (503, "The model server cannot be reached.")
    assert response.headers["Retry-After"] == "30"


def test_a_slow_server_is_a_504(api, model, docs):
    model.post("/_script", json=[{"delay": 2}] * 4)
    response = api.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert (response.status_code, response.json()["message"]) == (
        504,
        "The model server did not answer for page 1 within 1 s.",
    )


def test_a_typed_document_over_the_context_is_read_with_fewer_pages_per_call(api, model, docs):
    model.post("/_script", json=[CONTEXT_EXCEEDED])
    body = {"image": b64(docs["scanned.pdf"]), "document_type_code": "invoice"}
    response = api.post("/api/ocr/extract-text", json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["fields"]["invoice_number"] == "Example"  # the fake's answer, merged
    assert images_per_call(model) == [2, 1, 1, 1]  # 2 refused, then one page per call
    assert data["raw_response"]["llm_calls"] == 3  # the refused call is not counted


def test_a_single_page_over_the_context_is_a_422_with_the_numbers(api, model, docs):
    model.post("/_script", json=[CONTEXT_EXCEEDED])
    body = {"image": b64(docs["page.png"]), "document_type_code": "receipt"}
    response = api.post("/api/ocr/extract-text", json=body)
    assert (response.status_code, response.json()["message"]) == (
        422,
        "The request for page 1 needs 5120 tokens; the model server's context holds 4096: give the model "
        "server a larger context, or send smaller pages (LECTOR_LLM_MAX_IMAGE_SIDE).",
    )
    assert response.json()["errors"] == {"needed_tokens": 5120, "context_tokens": 4096}
    assert len(model.get("/_requests").json()) == 1  # not retried as json_object


def test_a_context_refusal_without_numbers_says_so(api, model, docs):
    old = {
        "status": 500,
        "body": {"error": {"message": "the request exceeds the available context size, try increasing it"}},
    }
    model.post("/_script", json=[old])
    response = api.post("/api/ocr/extract-text", json={"image": b64(docs["page.png"]), "engine": "llm"})
    assert response.status_code == 422
    assert response.json()["message"].startswith(
        "The request for page 1 needs more tokens than the model server's context holds "
        "(it did not say how many)"
    )
    assert len(model.get("/_requests").json()) == 1


def quota_left(client: httpx.Client) -> int:
    return client.get("/api/account").json()["quota_remaining"]


def managed_client(stacks) -> httpx.Client:
    made = httpx.post(
        f"{stacks[0].url}/admin/keys", json={"name": "errors", "quota": 5}, headers={"X-API-Key": ADMIN_KEY}
    ).json()
    return httpx.Client(base_url=stacks[0].url, headers={"X-API-Key": made["key"]}, timeout=120)


def test_a_queued_refusal_ends_the_job_at_once_and_is_refunded(stacks, model, docs):
    model.post("/_script", json=[IMAGE_REFUSAL] * 12)
    with managed_client(stacks) as client:
        body = {"image_base64": b64(docs["page.png"]), "document_type_code": "text", "engine": "llm"}
        submitted = client.post("/api/convert-async", json=body)
        assert submitted.status_code == 202, submitted.text
        status = wait_for_end(client, submitted.json()["conversion_id"])
        assert status["status"] == "ERROR"
        assert status["error"].startswith("The model server refused the request for page 1 (500)")
        assert status["error"].endswith("If the model has no vision, set LECTOR_LLM_VISION=no.")
        assert len(model.get("/_requests").json()) == 1  # neither the client nor the queue retried
        wait_until(lambda: quota_left(client) == 5, 10, "the refund")


def test_a_queued_job_is_retried_when_the_server_is_overloaded(api, model, docs):
    model.post("/_script", json=[OVERLOADED] * 4)  # the client's attempts, all of the first run
    body = {"image_base64": b64(docs["page.png"]), "document_type_code": "text", "engine": "llm"}
    status = wait_for_end(api, api.post("/api/convert-async", json=body).json()["conversion_id"])
    assert status["status"] == "SUCCESS", status
    assert status["result"]["text"] == transcription(1)
    assert len(model.get("/_requests").json()) == 5  # RQ ran the job again


def test_ready_says_whether_the_model_is_served(api, model):
    ready = api.get("/ready")
    assert ready.status_code == 200 and ready.json()["llm_server"] == "ok"
    model.post("/_models", json=["other-a", "other-b"])
    ready = api.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    assert (
        ready.json()["llm_server"] == "the model fake-vision is not among the served models: other-a, other-b"
    )


def test_ready_stays_ok_when_the_model_server_is_down(down, stacks):
    started = time.monotonic()
    ready = down.get("/ready")
    assert ready.status_code == 200 and ready.json()["status"] == "ok"
    base_url = ready.json()["llm_server"].split(" at ")[1].split(" ")[0]
    assert ready.json()["llm_server"] == f"the model server at {base_url} cannot be reached"
    assert time.monotonic() - started < 10
    assert SECRET not in stacks[1].logs() and SECRET not in stacks[0].logs()
