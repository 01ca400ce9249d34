"""AWS credentials made by the admin API and by ``lector keys``, and boto3, unchanged, signing
with them: the session's Lector server and Redis, and real HTTP on loopback.

Until the Textract dialect routes ``/textract``, boto3 talks here to a route that does what its
handler does with a request: read the body, ask ``signed_caller`` who signed it, answer
Textract's error body when refused. It runs on uvicorn in a thread, over the session's Redis.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.auth
import httpx
import pytest
import uvicorn
from botocore.config import Config
from botocore.exceptions import ClientError
from litestar import Litestar, Request, Response, post
from redis import Redis

from service.api.dialects.textract.signing import SignatureRefused, signed_caller
from service.tenants.aws_credentials import AwsCredentials
from service.tenants.store import KeyStore
from tests.helpers import ADMIN_KEY, API_KEY, ROOT, SECRET, clean_env, free_port, wait_until

JSON_1_1 = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def admin(server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as client:
        yield client


def new_key(admin: httpx.Client, **spec: Any) -> str:
    made = admin.post("/admin/keys", json={"name": "aws", **spec})
    assert made.status_code == 201, made.text
    return made.json()["key_id"]


def lector_keys(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "keys", *args],
        env=clean_env(**env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_admin_route_makes_credentials_shown_once(server, admin):
    key_id = new_key(admin)
    made = admin.post(f"/admin/keys/{key_id}/aws-credentials")
    assert made.status_code == 201, made.text
    credentials = made.json()
    assert set(credentials) == {"access_key_id", "secret_access_key"}
    shown = admin.get(f"/admin/keys/{key_id}")
    assert shown.json()["aws_access_key_ids"] == [credentials["access_key_id"]]
    assert credentials["secret_access_key"] not in shown.text
    assert credentials["secret_access_key"] not in admin.get("/admin/keys").text

    assert admin.post(f"/admin/keys/{key_id}/aws-credentials").status_code == 201
    third = admin.post(f"/admin/keys/{key_id}/aws-credentials")
    assert third.status_code == 409 and "rotate the key" in third.json()["message"]
    unknown = admin.post("/admin/keys/zzzzzzzzzzzz/aws-credentials")
    assert unknown.status_code == 404
    not_admin = httpx.post(
        f"{server.url}/admin/keys/{key_id}/aws-credentials", headers={"X-API-Key": API_KEY}
    )
    assert not_admin.status_code == 403
    operation = httpx.get(f"{server.url}/schema/openapi.json").json()["paths"]
    assert "post" in operation["/admin/keys/{key_id}/aws-credentials"]


def test_the_cli_prints_credentials_and_needs_the_secret(redis_url, admin):
    key_id = new_key(admin)
    made = lector_keys("aws-credentials", key_id, LECTOR_REDIS_URL=redis_url, LECTOR_SECRET=SECRET)
    assert made.returncode == 0, made.stderr
    credentials = json.loads(made.stdout)
    assert set(credentials) == {"access_key_id", "secret_access_key"}
    assert credentials["secret_access_key"] not in made.stderr and "shown once" in made.stderr
    assert admin.get(f"/admin/keys/{key_id}").json()["aws_access_key_ids"] == [credentials["access_key_id"]]

    refused = lector_keys("aws-credentials", key_id, LECTOR_REDIS_URL=redis_url)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "no secret (LECTOR_SECRET)" in refused.stderr


@post("/textract", status_code=200)
async def textract(request: Request[Any, Any, Any]) -> Response[Any]:
    """What the Textract dialect's handler does with the signature; it answers who signed."""
    body = await request.body()
    try:
        caller = await signed_caller(request, body, request.app.state.lector)
    except SignatureRefused as refusal:
        error = {"__type": refusal.aws_type, "message": refusal.message}
        return Response(json.dumps(error).encode(), status_code=400, media_type=JSON_1_1)
    answer = {"DocumentMetadata": {"Pages": 1}, "Blocks": [], "DetectDocumentTextModelVersion": caller.owner}
    return Response(json.dumps(answer).encode(), media_type=JSON_1_1)


@pytest.fixture(scope="module")
def signed_route(redis_url) -> Iterator[str]:
    """The route above on uvicorn in a thread, with the session's Redis and secret."""
    redis = Redis.from_url(redis_url)
    keys = KeyStore(redis)
    lector = SimpleNamespace(
        settings=SimpleNamespace(auth_enabled=True),
        keys=keys,
        aws_credentials=AwsCredentials(keys, redis, SECRET),
    )
    app = Litestar(route_handlers=[textract])
    app.state.lector = lector
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, 10, "uvicorn")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    redis.close()


def textract_client(url: str, access_key_id: str, secret: str, region: str = "eu-central-1") -> Any:
    return boto3.client(
        "textract",
        endpoint_url=url + "/textract",
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def refusal(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response["Error"]
    return error["Code"], error["Message"]


def test_boto3_signs_and_the_signing_key_is_the_caller(signed_route, admin, monkeypatch):
    key_id = new_key(admin, per_minute=100)
    made = admin.post(f"/admin/keys/{key_id}/aws-credentials").json()
    access_key_id, secret = made["access_key_id"], made["secret_access_key"]
    document = {"Bytes": b"\x89PNG\r\n\x1a\n a page, as far as the signature cares"}

    answer = textract_client(signed_route, access_key_id, secret).detect_document_text(Document=document)
    assert answer["DetectDocumentTextModelVersion"] == key_id
    other_region = textract_client(signed_route, access_key_id, secret, region="ap-southeast-2")
    assert other_region.detect_document_text(Document=document)["DocumentMetadata"]["Pages"] == 1

    wrong_secret = textract_client(
        signed_route, access_key_id, secret[:-1] + ("A" if secret[-1] != "A" else "B")
    )
    code, message = refusal(lambda: wrong_secret.detect_document_text(Document=document))
    assert code == "InvalidSignatureException" and message.startswith("The request signature we calculated")
    unknown = textract_client(signed_route, "LKIA" + "Q" * 16, secret)
    assert refusal(lambda: unknown.detect_document_text(Document=document)) == (
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )

    # A client whose clock is 6 minutes slow signs a time AWS (and Lector) no longer takes.
    client = textract_client(signed_route, access_key_id, secret)
    slow = botocore.auth.get_current_datetime() - timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: slow)
    code, message = refusal(lambda: client.detect_document_text(Document=document))
    assert code == "InvalidSignatureException" and message.startswith("Signature expired: ")
    monkeypatch.undo()

    unsigned = httpx.post(signed_route + "/textract", content=b"{}", headers={"Content-Type": JSON_1_1})
    assert unsigned.status_code == 400
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"

    assert admin.post(f"/admin/keys/{key_id}/revoke").status_code == 200
    code, _ = refusal(lambda: client.detect_document_text(Document=document))
    assert code == "UnrecognizedClientException"
