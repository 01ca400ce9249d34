"""LECTOR_PUBLIC_URL: the address clients reach, in the URLs the API answers and in the webhook
events workers send; and X-Forwarded-Proto, believed from LECTOR_TRUSTED_PROXIES only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from tests.helpers import (
    API_KEY,
    SECRET,
    serving_in_thread,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_until,
)
from tests.integration.test_webhooks import Receiver

#: Where clients reach the API: through a proxy that adds a path prefix.
PUBLIC = "https://ocr.example.test/lector"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    """Redis; a worker and an API that know the public address; an API that does not; and one
    that believes no proxy on loopback."""
    tmp: Path = tmp_path_factory.mktemp("public-url")
    redis_process, redis_url = start_redis(tmp)
    shared = {"LECTOR_SECRET": SECRET, "LECTOR_URL_ALLOW_PRIVATE": "on"}
    worker = start_worker(tmp, redis_url, LECTOR_PUBLIC_URL=PUBLIC + "/", **shared)
    shared["LECTOR_REDIS_URL"] = redis_url
    servers = {
        "public": start_server(tmp, LECTOR_PUBLIC_URL=PUBLIC + "/", **shared),
        "plain": start_server(tmp, **shared),
        "no-proxy": start_server(tmp, LECTOR_TRUSTED_PROXIES="192.0.2.1,2001:db8::/32", **shared),
    }
    yield servers
    for server in servers.values():
        server.stop()
    stop_process(worker)
    stop_process(redis_process)


def test_a_workers_webhook_event_carries_the_public_status_and_file_urls(stack, docs):
    server = stack["public"]
    got = Receiver()
    with (
        serving_in_thread(got.handler()) as receiver,
        httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client,
    ):
        secret = client.post("/api/webhooks/secret").json()["secret"]
        submitted = client.post(
            "/api/convert-file-async",
            files={"image": ("page.png", docs["page.png"].read_bytes())},
            data={"target_format": "png", "callback_url": receiver},
        )
        assert submitted.status_code == 202, submitted.text
        conversion_id = submitted.json()["conversion_id"]
        status_url = f"{PUBLIC}/api/convert-async/status/{conversion_id}"
        assert submitted.json()["status_url"] == submitted.headers["location"] == status_url
        wait_until(lambda: got.deliveries, 90, "the webhook")
        ((headers, body),) = got.deliveries
        event = Webhook(secret).verify(body, headers)["data"]
        assert event["status"] == "SUCCESS" and event["status_url"] == status_url
        file = event["file"]
        assert file["download_url"] == f"{PUBLIC}/api/convert-async/{conversion_id}/download"
        assert file["signed_url"].startswith(f"{PUBLIC}/api/downloads/{conversion_id}?expires=")
        # The API's status answer says the same addresses.
        status = client.get(f"/api/convert-async/status/{conversion_id}").json()
        assert status["status_url"] == status_url
        assert status["file"]["download_url"] == file["download_url"]
        assert status["file"]["signed_url"].startswith(f"{PUBLIC}/api/downloads/{conversion_id}?")
    # The event's signed URL works, once the proxy has taken its prefix off.
    downloaded = httpx.get(file["signed_url"].replace(PUBLIC, server.url))
    assert downloaded.status_code == 200 and downloaded.content.startswith(b"\x89PNG")


def test_without_a_public_url_the_api_builds_on_the_address_the_request_came_to(stack, docs):
    server = stack["plain"]
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
        submitted = client.post(
            "/api/convert-async",
            files={"image": ("page.png", docs["page.png"].read_bytes())},
            data={"document_type_code": "text"},
        )
        assert submitted.status_code == 202, submitted.text
        assert submitted.json()["status_url"].startswith(f"{server.url}/api/convert-async/status/")


@pytest.mark.parametrize(("which", "scheme"), [("plain", "https"), ("no-proxy", "http")])
def test_x_forwarded_proto_is_believed_from_a_trusted_proxy_only(stack, docs, which, scheme):
    server = stack[which]
    host = server.url.removeprefix("http://")
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
        submitted = client.post(
            "/api/convert-async",
            files={"image": ("page.png", docs["page.png"].read_bytes())},
            data={"document_type_code": "text"},
            headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"},
        )
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["status_url"].startswith(f"{scheme}://{host}/api/convert-async/status/")
