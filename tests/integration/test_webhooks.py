"""Signed callbacks, delivered by real workers to a receiver on loopback and verified with the
``standardwebhooks`` package from PyPI."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.helpers import (
    API_KEY,
    Receiver,
    serving_in_thread,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_until,
)

DELAYS = "0.2,0.2,0.2"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """Redis, an API and a worker that may call back to loopback, with short retry delays."""
    tmp: Path = tmp_path_factory.mktemp("webhooks")
    redis_process, redis_url = start_redis(tmp)
    settings = {"LECTOR_URL_ALLOW_PRIVATE": "on", "LECTOR_WEBHOOK_RETRY_DELAYS_S": DELAYS}
    worker = start_worker(tmp, redis_url, **settings)
    server = start_server(tmp, LECTOR_REDIS_URL=redis_url, **settings)
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
        secret = client.post("/api/webhooks/secret")
        assert secret.status_code == 201 and secret.json()["secret"].startswith("whsec_")
        yield client, secret.json()["secret"]
    server.stop()
    stop_process(worker)
    redis_process.terminate()


@pytest.fixture
def receiver():
    got = Receiver()
    with serving_in_thread(got.handler()) as url:
        yield got, url


def submit(client: httpx.Client, docs: dict[str, Path], callback_url: str) -> str:
    answer = client.post(
        "/api/convert-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text", "callback_url": callback_url},
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["conversion_id"]


def webhook_of(client: httpx.Client, conversion_id: str, state: str) -> dict:
    """The status's webhook once it reaches ``state``."""
    found: dict = {}

    def reached() -> bool:
        found.update(client.get(f"/api/convert-async/status/{conversion_id}").json()["webhook"] or {})
        return found.get("state") == state

    wait_until(reached, 60, f"webhook state {state}")
    return found


def test_a_delivery_verifies_with_the_standard_webhooks_package(stack, receiver, docs):
    client, secret = stack
    got, url = receiver
    conversion_id = submit(client, docs, f"{url}/hook")
    state = webhook_of(client, conversion_id, "delivered")
    assert (state["attempts"], state["last_status"]) == (1, 200) and state["delivered_at"]
    ((headers, body),) = got.deliveries
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "conversion.succeeded"
    assert payload["data"]["conversion_id"] == conversion_id
    assert payload["data"]["status"] == "SUCCESS" and payload["data"]["result"]["text"].strip()
    with pytest.raises(WebhookVerificationError):  # another secret does not verify
        Webhook("whsec_" + "A" * 44).verify(body, headers)
    assert client.get("/api/webhooks").json()["secret_created_at"]
    assert "secret" not in client.get("/api/webhooks").json()


def test_500_twice_then_200_makes_exactly_three_attempts(stack, receiver, docs):
    client, secret = stack
    got, url = receiver
    got.answers = [500, 500]
    conversion_id = submit(client, docs, url)
    state = webhook_of(client, conversion_id, "delivered")
    time.sleep(1.5)  # no fourth attempt comes
    assert len(got.deliveries) == 3 and state["attempts"] == 3
    assert len({headers["webhook-id"] for headers, _ in got.deliveries}) == 1  # one message, retried
    for headers, body in got.deliveries:
        Webhook(secret).verify(body, headers)


def test_410_stops_the_deliveries(stack, receiver, docs):
    client, _secret = stack
    got, url = receiver
    got.answers = [410]
    conversion_id = submit(client, docs, url)
    state = webhook_of(client, conversion_id, "stopped")
    time.sleep(1.0)
    assert len(got.deliveries) == 1 and (state["attempts"], state["last_status"]) == (1, 410)


def test_a_batch_calls_back_once_when_every_item_has_ended(stack, receiver, docs):
    client, secret = stack
    got, url = receiver
    files = [("files", (name, docs[name].read_bytes())) for name in ("page.png", "page.jpg")]
    answer = client.post(
        "/api/batches", files=files, data={"document_type_code": "text", "callback_url": url}
    )
    assert answer.status_code == 202, answer.text
    batch_id = answer.json()["batch_id"]
    wait_until(lambda: len(got.deliveries) >= 1, 90, "the batch's callback")
    time.sleep(1.0)
    ((headers, body),) = got.deliveries
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "batch.completed"
    assert (payload["data"]["batch_id"], payload["data"]["total"], payload["data"]["succeeded"]) == (
        batch_id,
        2,
        2,
    )
    assert client.get(f"/api/batches/{batch_id}").json()["webhook"]["state"] == "delivered"


def test_the_key_default_url_is_used_and_checked(stack, receiver, docs):
    client, _secret = stack
    got, url = receiver
    assert client.put("/api/webhooks", json={"default_url": "ftp://example.com/"}).status_code == 422
    assert client.put("/api/webhooks", json={"default_url": url}).json()["default_url"] == url
    try:
        answer = client.post(
            "/api/convert-async",
            files={"image": ("page.png", docs["page.png"].read_bytes())},
            data={"document_type_code": "text"},
        )
        webhook_of(client, answer.json()["conversion_id"], "delivered")
        assert json.loads(got.deliveries[0][1])["type"] == "conversion.succeeded"
    finally:
        assert client.put("/api/webhooks", json={"default_url": None}).status_code == 200


def test_private_targets_and_keys_without_a_secret_are_refused(tmp_path, docs):
    redis_process, redis_url = start_redis(tmp_path)
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            no_secret = client.post(
                "/api/convert-async",
                files={"image": ("page.png", docs["page.png"].read_bytes())},
                data={"document_type_code": "text", "callback_url": "https://example.com/hook"},
            )
            assert no_secret.status_code == 422 and "POST /api/webhooks/secret" in no_secret.json()["message"]
            client.post("/api/webhooks/secret")
            for target in ("http://127.0.0.1:9/hook", "http://169.254.169.254/", "http://[::1]/"):
                refused = client.post(
                    "/api/convert-async",
                    files={"image": ("page.png", docs["page.png"].read_bytes())},
                    data={"document_type_code": "text", "callback_url": target},
                )
                assert refused.status_code == 422, refused.text
                assert "non-public address" in refused.json()["message"]
            assert client.put("/api/webhooks", json={"default_url": "http://10.0.0.1/"}).status_code == 422
    finally:
        server.stop()
        redis_process.terminate()


TRICKY = [
    "http://127.0.0.1\\@1.2.3.4/",  # a backslash: WHATWG parsers read host 127.0.0.1, httpx 1.2.3.4
    "",
    "http://user:pass@1.2.3.4/hook",
    "http://1.2.3.4#@127.0.0.1/",
    "http://1.2.3.4:99999/hook",
    "http://1.2.3.4 /hook",
    "http://1.2.3.4%2f@127.0.0.1/",
    "http:///hook",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("url", TRICKY)
def test_a_callback_url_a_delivery_would_refuse_is_refused_at_submission(stack, docs, url):
    client, _secret = stack
    image = base64.b64encode(docs["page.png"].read_bytes()).decode()
    as_json = client.post(
        "/api/convert-async", json={"document_type_code": "text", "image_base64": image, "callback_url": url}
    )
    as_form = client.post(
        "/api/convert-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text", "callback_url": url},
    )
    batch = client.post(
        "/api/batches",
        files={"files": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text", "callback_url": url},
    )
    default = client.put("/api/webhooks", json={"default_url": url})
    for answer in (as_json, as_form, batch, default):
        assert answer.status_code == 422, answer.text
        assert "callback_url" in answer.text


def test_the_allow_list_opens_webhooks_and_only_them_to_a_private_receiver(tmp_path, receiver, docs):
    got, url = receiver
    redis_process, redis_url = start_redis(tmp_path)
    allow = {"LECTOR_WEBHOOK_ALLOW": "hooks.invalid,127.0.0.0/8", "LECTOR_WEBHOOK_RETRY_DELAYS_S": DELAYS}
    worker = start_worker(tmp_path, redis_url, **allow)
    allowing = start_server(tmp_path, LECTOR_REDIS_URL=redis_url, **allow)
    closed = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    try:
        with httpx.Client(base_url=allowing.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            assert client.post("/api/webhooks/secret").status_code == 201
            conversion_id = submit(client, docs, f"{url}/hook")
            assert webhook_of(client, conversion_id, "delivered")["last_status"] == 200
            assert json.loads(got.deliveries[0][1])["data"]["conversion_id"] == conversion_id
            fetched = client.post(
                "/api/convert-async", json={"document_type_code": "text", "image_url": f"{url}/page.png"}
            )
            assert fetched.status_code == 400, fetched.text
            assert "non-public address" in fetched.json()["message"]
            for outside in ("http://10.0.0.1/hook", "http://169.254.169.254/"):
                refused = client.put("/api/webhooks", json={"default_url": outside})
                assert refused.status_code == 422 and "non-public" in refused.json()["message"]
        with httpx.Client(base_url=closed.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            refused = client.post(
                "/api/convert-async",
                files={"image": ("page.png", docs["page.png"].read_bytes())},
                data={"document_type_code": "text", "callback_url": f"{url}/hook"},
            )
            assert refused.status_code == 422 and "non-public address" in refused.json()["message"]
    finally:
        allowing.stop()
        closed.stop()
        stop_process(worker)
        redis_process.terminate()
