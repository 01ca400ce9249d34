"""What documents cost a key when they end: usage and cost booked by the API and by real
workers, refunds exactly once for failures on Lector's side, and the model-token budget.

The vision model is the fake OpenAI server on loopback; Lector's real client talks to it.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time

import httpx
import pytest
from redis import Redis

from tests.fake_openai import COMPLETION_TOKENS, PROMPT_TOKENS_BASE, PROMPT_TOKENS_PER_IMAGE, running
from tests.helpers import (
    ADMIN_KEY,
    ROOT,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_for_end,
    wait_until,
)

PRICE_IN, PRICE_OUT = 2.5, 10.0
PAGE_PROMPT = PROMPT_TOKENS_BASE + PROMPT_TOKENS_PER_IMAGE
PAGE_TOKENS = PAGE_PROMPT + COMPLETION_TOKENS


@pytest.fixture(scope="module")
def fake_model():
    with running() as url:
        yield url


@pytest.fixture(scope="module")
def stack(fake_model, tmp_path_factory):
    """A Redis, an API and a worker, with the fake model and token prices configured."""
    work = tmp_path_factory.mktemp("billing")
    redis_process, redis_url = start_redis(work)
    settings = {
        "OPENAI_BASE_URL": f"{fake_model}/v1",
        "LECTOR_LLM_MODEL": "fake-vision",
        "LECTOR_LLM_PRICE_IN": str(PRICE_IN),
        "LECTOR_LLM_PRICE_OUT": str(PRICE_OUT),
    }
    server = start_server(work, LECTOR_REDIS_URL=redis_url, LECTOR_ADMIN_KEY=ADMIN_KEY, **settings)
    worker = start_worker(work, redis_url, **settings)
    yield server, redis_url
    stop_process(worker)
    server.stop()
    stop_process(redis_process)


@pytest.fixture
def model(fake_model):
    with httpx.Client(base_url=fake_model) as control:
        control.post("/_reset")
        yield control


def new_client(stack, **spec) -> tuple[httpx.Client, str]:
    """A client holding a new managed key: (client, key id)."""
    server, _ = stack
    made = httpx.post(
        f"{server.url}/admin/keys", json={"name": "billing", **spec}, headers={"X-API-Key": ADMIN_KEY}
    ).json()
    client = httpx.Client(base_url=server.url, headers={"X-API-Key": made["key"]}, timeout=120)
    return client, made["key_id"]


def b64(path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_the_token_budget_stops_model_requests_but_not_tesseract(stack, model, docs):
    client, _ = new_client(stack, llm_token_budget=1)
    image = b64(docs["page.png"])
    first = client.post("/api/ocr/extract-text", json={"image": image})  # auto: the model
    assert first.status_code == 200, first.text
    refused = client.post("/api/ocr/extract-text", json={"image": image, "engine": "llm"})
    assert refused.status_code == 429
    assert refused.json() == {
        "success": False,
        "message": f"Token budget spent: this API key has used {PAGE_TOKENS} of its 1 model tokens.",
        "error": "Token budget exceeded",
        "limitType": "tokens",
        "limit": 1,
        "remaining": 0,
        "resetTime": None,
        "retryAfter": None,
    }
    assert "retry-after" not in refused.headers
    async_refused = client.post(
        "/api/convert-async", json={"image_base64": image, "document_type_code": "text"}
    )
    assert async_refused.status_code == 429 and async_refused.json()["limitType"] == "tokens"
    tesseract = client.post("/api/ocr/extract-text", json={"image": image, "engine": "tesseract"})
    assert tesseract.status_code == 200
    account = client.get("/api/account").json()
    today = account["today"]
    assert account["tokens_used"] == PAGE_TOKENS
    assert (today["requests"], today["documents"], today["pages_ocr"], today["model_calls"]) == (2, 2, 2, 1)
    assert (today["prompt_tokens"], today["completion_tokens"]) == (PAGE_PROMPT, COMPLETION_TOKENS)
    expected_cost = (PAGE_PROMPT * PRICE_IN + COMPLETION_TOKENS * PRICE_OUT) / 1_000_000
    assert today["cost"] == pytest.approx(expected_cost)
    assert today["engine_seconds"] > 0
    client.close()


def test_the_worker_books_what_a_job_used(stack, model, docs):
    client, _ = new_client(stack, quota=5)
    body = {"image_base64": b64(docs["scanned.pdf"]), "document_type_code": "text", "engine": "tesseract"}
    status = wait_for_end(client, client.post("/api/convert-async", json=body).json()["conversion_id"])
    assert status["status"] == "SUCCESS"
    today = client.get("/api/account").json()["today"]
    pages = len(status["result"]["pages"])
    assert (today["documents"], today["pages_ocr"], today["failures"]) == (1, pages, 0)
    assert today["engine_seconds"] > 0
    client.close()


def quota_left(client: httpx.Client) -> int:
    return client.get("/api/account").json()["quota_remaining"]


def test_a_failure_on_our_side_is_refunded_once_and_bad_input_is_not(stack, model, docs):
    client, _ = new_client(stack, quota=5)
    image = b64(docs["page.png"])
    # The model server refuses Lector's credentials: not the client's fault.
    model.post("/_script", json=[{"status": 403}] * 3)
    sync = client.post("/api/ocr/extract-text", json={"image": image, "engine": "llm"})
    assert sync.status_code == 503 and quota_left(client) == 5
    submitted = client.post("/api/convert-async", json={"image_base64": image, "document_type_code": "text"})
    status = wait_for_end(client, submitted.json()["conversion_id"])
    assert status["status"] == "ERROR"
    wait_until(lambda: quota_left(client) == 5, 10, "the refund")
    # A document the client got wrong costs its document.
    broken = {"image_base64": b64(docs["truncated.png"]), "document_type_code": "text", "engine": "tesseract"}
    status = wait_for_end(client, client.post("/api/convert-async", json=broken).json()["conversion_id"])
    assert status["error"] == "The PNG image is corrupt or truncated."
    time.sleep(0.5)
    assert quota_left(client) == 4
    assert client.get("/api/account").json()["today"]["failures"] == 3
    client.close()


def test_a_job_that_fails_after_its_retries_is_refunded(stack, model, docs):
    client, _ = new_client(stack, quota=2)
    # Every call fails with 500: the engine's retries, then RQ's, then the failure callback.
    model.post("/_script", json=[{"status": 500}] * 40)
    body = {"image_base64": b64(docs["page.png"]), "document_type_code": "text", "engine": "llm"}
    conversion_id = client.post("/api/convert-async", json=body).json()["conversion_id"]
    status = wait_for_end(client, conversion_id, timeout=180)
    assert status["status"] == "ERROR"
    wait_until(lambda: quota_left(client) == 2, 10, "the refund")
    redis = Redis.from_url(stack[1])
    assert redis.exists(f"lector:refund:{conversion_id}")
    redis.close()
    client.close()


REFUND_RACE = """
import sys
from redis import Redis
from service.tenants.limits import Ledger

ledger = Ledger(Redis.from_url(sys.argv[1]), 400)
print(sum(ledger.refund(sys.argv[2], "same-conversion", 1) for _ in range(50)))
"""


def test_refunds_race_from_several_processes_and_happen_once(stack):
    client, key_id = new_client(stack, quota=3)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", REFUND_RACE, stack[1], key_id], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    refunded = sum(int(racer.communicate(timeout=60)[0]) for racer in racers)
    assert refunded == 1 and quota_left(client) == 4
    client.close()
