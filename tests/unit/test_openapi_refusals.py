"""The OpenAPI document refuses what Lector refuses, where a schema can say it: each request
here is refused by the server, and must be refused by the document too (checked with a JSON
Schema validator against the document's own schemas)."""

from __future__ import annotations

from typing import Any

import jsonschema
import msgspec
import pytest

from service.api.app import create_app
from service.settings import Settings

_APP = create_app(Settings(auth=False))
DOCUMENT = msgspec.json.decode(msgspec.json.encode(_APP.openapi_schema.to_schema()))


def body_schema(path: str, method: str, media_type: str) -> dict[str, Any]:
    return DOCUMENT["paths"][path][method]["requestBody"]["content"][media_type]["schema"]


def parameter_schema(path: str, method: str, name: str) -> dict[str, Any]:
    parameters = DOCUMENT["paths"][path][method]["parameters"]
    return next(parameter["schema"] for parameter in parameters if parameter["name"] == name)


def valid(schema: dict[str, Any], value: Any) -> bool:
    """Whether ``value`` fits ``schema`` (references resolved in the document, formats checked)."""
    resolver_document = {**DOCUMENT, **schema}
    validator = jsonschema.Draft202012Validator(
        resolver_document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    return validator.is_valid(value)


SOURCE = {"image_base64": "iVBORw0KGgo="}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/convert-async", {"document_type_code": "text", **SOURCE, "colour": "red"}),
        ("/api/convert-async", {"document_type_code": "text"}),
        (
            "/api/convert-async",
            {"document_type_code": "text", **SOURCE, "image_url": "https://example.com/a.png"},
        ),
        ("/api/convert-async", {"document_type_code": "text", "image_url": ""}),
        ("/api/convert-async", {"document_type_code": "text", **SOURCE, "pages": ",,,"}),
        ("/api/convert-async", {"document_type_code": "text", **SOURCE, "pages": "1-2-3"}),
        ("/api/ocr/extract-text", {"image": "iVBORw0KGgo=", "image_base64": "iVBORw0KGgo="}),
        ("/api/batches", {"document_type_code": "text", "items": [{"filename": "a.png"}]}),
        ("/api/batches", {"document_type_code": "text", "items": [{**SOURCE, "colour": "red"}]}),
    ],
)
def test_a_json_body_lector_refuses_is_refused_by_the_document(path, body):
    schema = body_schema(path, "post", "application/json")
    assert not valid(schema, body)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/convert-async", {"document_type_code": "text", **SOURCE}),
        ("/api/convert-async", {"document_type_code": "text", "image_url": "https://example.com/a.png"}),
        ("/api/convert-async", {"document_type_code": "text", **SOURCE, "pages": " 1-3, 5 ,7-"}),
        ("/api/convert-async", {"document_type_code": "text", **SOURCE, "pages": ""}),
        ("/api/ocr/extract-text", {"image": "iVBORw0KGgo="}),
        ("/api/batches", {"document_type_code": "text", "items": [SOURCE, {"image_url": "https://e.com/a"}]}),
    ],
)
def test_a_json_body_lector_takes_is_valid_in_the_document(path, body):
    assert valid(body_schema(path, "post", "application/json"), body)


def test_a_form_takes_document_metadata_as_a_json_object():
    for path in ("/api/convert-async", "/api/batches", "/api/ocr/extract-text-from-file"):
        schema = body_schema(path, "post", "multipart/form-data")
        assert schema["properties"]["document_metadata"]["type"] == "object", path
    form = body_schema("/api/convert-async", "post", "multipart/form-data")
    assert not valid(form, {"image": "x", "document_type_code": "text", "document_metadata": "not json"})
    assert not valid(form, {"image": "x", "document_type_code": "text", "colour": "red"})


@pytest.mark.parametrize("path", ["/api/usage", "/admin/usage", "/admin/keys/{key_id}/usage"])
@pytest.mark.parametrize("day", ["0000000000", "2024-1-01", "tomorrow", "2024-13-01", "2024-01-32"])
def test_a_usage_day_that_is_no_date_is_refused_by_the_document(path, day):
    for name in ("from", "to"):
        assert not valid(parameter_schema(path, "get", name), day)
        assert valid(parameter_schema(path, "get", name), "2024-02-29")
        assert valid(parameter_schema(path, "get", name), "")  # the default


def test_a_grace_that_is_no_duration_is_refused_by_the_document():
    grace = parameter_schema("/admin/keys/{key_id}/rotate", "post", "grace")
    assert not valid(grace, "forever")
    assert not valid(grace, "1w")
    assert valid(grace, "24h")
    assert valid(grace, "0")


def test_key_bodies_refuse_unknown_fields_and_an_empty_change():
    created = body_schema("/admin/keys", "post", "application/json")
    assert not valid(created, {"name": "ci", "colour": "red"})
    assert valid(created, {"name": "ci"})
    changed = body_schema("/admin/keys/{key_id}", "patch", "application/json")
    assert not valid(changed, {})
    assert not valid(changed, {"colour": "red"})
    assert valid(changed, {"quota": 10})
    webhooks = body_schema("/api/webhooks", "put", "application/json")
    assert not valid(webhooks, {"default_url": None, "colour": "red"})
