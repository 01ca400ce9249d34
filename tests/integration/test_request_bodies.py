"""Request bodies with bytes a client got wrong: a 4xx in the route's error shape, never a 500.

The JSON routes are taken from the OpenAPI document, so a route added later is covered too.
"""

from __future__ import annotations

import re

import httpx
import pytest

from service.api.app import create_app
from service.settings import Settings
from tests.helpers import ADMIN_KEY

_SPEC = create_app(Settings(auth=False)).openapi_schema.to_schema()
#: (method, path) of every operation that takes a JSON body, path parameters filled in.
JSON_ROUTES = sorted(
    (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
    for path, item in _SPEC["paths"].items()
    for method, operation in item.items()
    if "application/json" in operation.get("requestBody", {}).get("content", {})
)
NOT_UTF8 = "The request body is not valid JSON: a string in it is not UTF-8."


def test_the_json_routes_are_found():
    assert ("POST", "/api/convert-async") in JSON_ROUTES
    assert ("POST", "/admin/keys") in JSON_ROUTES
    assert ("POST", "/v1/convert/upload-url") in JSON_ROUTES
    assert len(JSON_ROUTES) >= 14


def _refusal(response: httpx.Response) -> str:
    """The sentence of an error answer, in Lector's shape or a dialect's."""
    body = response.json()
    assert body.get("success", False) is False
    return str(body.get("message") or body.get("error") or body.get("detail"))


@pytest.mark.parametrize(("method", "path"), JSON_ROUTES)
def test_invalid_utf8_in_a_json_string_is_a_400(client, method, path):
    headers = {"Content-Type": "application/json"}
    if path.startswith("/admin"):
        headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    response = client.request(method, path, content=b'{"document_type_code": "\xff\xfe"}', headers=headers)
    assert response.status_code == 400, response.text
    assert _refusal(response) == NOT_UTF8


@pytest.mark.parametrize("field", ["image_base64", "image"])
def test_invalid_utf8_in_the_base64_document_is_a_400(client, field):
    body = b'{"document_type_code": "text", "' + field.encode() + b'": "\xff\\n"}'
    response = client.post("/api/convert", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert _refusal(response) == NOT_UTF8
