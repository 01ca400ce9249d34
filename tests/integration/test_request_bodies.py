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


BOUNDARY = "lector-test-boundary"
#: A file part's Content-Disposition parameters after its name: no usable filename in each.
NAMELESS = {
    "empty filename": '; filename=""',
    "no filename": "",
    "only filename*": "; filename*=UTF-8''page.png",
}


def multipart(file_field: str, disposition: str, content: bytes, fields: dict[str, str]) -> bytes:
    """A multipart body built by hand: ``fields`` as text parts, then the file part."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"{disposition}\r\n'
        "Content-Type: image/png\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def post_form(client: httpx.Client, path: str, body: bytes) -> httpx.Response:
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    return client.post(path, content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize("shape", NAMELESS)
@pytest.mark.parametrize(
    ("path", "file_field", "fields", "status"),
    [
        ("/api/convert-file", "image", {"target_format": "txt"}, 200),
        ("/api/convert-file-async", "image", {"target_format": "txt"}, 202),
        ("/api/ocr/extract-text-from-file", "file", {}, 200),
        ("/api/batches", "files", {"document_type_code": "text"}, 202),
    ],
)
def test_a_file_part_without_a_usable_filename_is_read_as_a_file(
    client, docs, shape, path, file_field, fields, status
):
    body = multipart(file_field, NAMELESS[shape], docs["page.png"].read_bytes(), fields)
    response = post_form(client, path, body)
    assert response.status_code == status, response.text
    if path == "/api/convert-file":
        assert "Invoice" in response.text
    if path == "/api/ocr/extract-text-from-file":
        assert "Invoice" in response.json()["data"]["text"]


@pytest.mark.parametrize("shape", NAMELESS)
def test_converter_app_reads_a_nameless_file_part_as_a_file(client, docs, shape):
    """Converter App's wire takes the source format from the file's name: without one, its
    400 says so; with a name only in ``filename*``, the name is read from there."""
    body = multipart("files", NAMELESS[shape], docs["page.png"].read_bytes(), {"target_format": "jpg"})
    response = post_form(client, "/convert", body)
    if shape == "only filename*":
        assert response.status_code == 200, response.text
        assert response.json()["pair"] == "png2jpg"
    else:
        assert response.status_code == 400, response.text
        assert _refusal(response).startswith("The file name '' does not say a format")


def test_a_file_part_with_no_headers_but_its_name_is_a_file(client, docs):
    """Neither a filename nor a Content-Type: bytes that are no text are a file all the same."""
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"\r\n\r\n'.encode()
    body = part + docs["page.png"].read_bytes() + f"\r\n--{BOUNDARY}--\r\n".encode()
    response = post_form(client, "/api/ocr/extract-text-from-file", body)
    assert response.status_code == 200, response.text
    assert "Invoice" in response.json()["data"]["text"]


def test_a_text_field_that_is_not_text_is_a_422_naming_it(client, docs):
    body = multipart("file", '; filename="page.png"', docs["page.png"].read_bytes(), {})
    bad = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="lang"\r\n\r\n'.encode() + b"\xff\xfe\r\n"
    response = post_form(client, "/api/ocr/extract-text-from-file", bad + body)
    assert response.status_code == 422, response.text
    assert "`lang`" in _refusal(response)
