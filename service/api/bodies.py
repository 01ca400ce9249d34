"""OpenAPI descriptions of the request bodies that handlers read by hand, generated from types.

``POST /api/convert-async`` and ``POST /api/batches/`` accept multipart or JSON, chosen by
Content-Type, so they parse their own bodies (``service.api.submissions``). Their OpenAPI is
built here from ``service.options.Options`` (msgspec's JSON Schema of it, translated into
Litestar's schema objects), so an option added to the type appears here by itself.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.openapi.spec import OpenAPIMediaType, Operation, Reference, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from service.api.submissions import BatchItemBody
from service.options import Options

_SIMPLE_KEYS = {
    "description": "description",
    "default": "default",
    "enum": "enum",
    "format": "format",
    "maxLength": "max_length",
    "minLength": "min_length",
    "pattern": "pattern",
    "maximum": "maximum",
    "minimum": "minimum",
    "title": "title",
}


def openapi_schema(json_schema: dict[str, Any]) -> Schema:
    """Litestar's Schema object for a (reference-free) JSON Schema fragment from msgspec."""
    fields: dict[str, Any] = {
        attribute: json_schema[key] for key, attribute in _SIMPLE_KEYS.items() if key in json_schema
    }
    if "format" in fields:
        fields["format"] = OpenAPIFormat(fields["format"])
    if "type" in json_schema:
        fields["type"] = OpenAPIType(json_schema["type"])
    if "anyOf" in json_schema:
        fields["any_of"] = [openapi_schema(member) for member in json_schema["anyOf"]]
    if "items" in json_schema:
        fields["items"] = openapi_schema(json_schema["items"])
    if "properties" in json_schema:
        fields["properties"] = {
            name: openapi_schema(value) for name, value in json_schema["properties"].items()
        }
        fields["required"] = json_schema.get("required") or None
    return Schema(**fields)


def struct_properties(struct: type[msgspec.Struct]) -> dict[str, Schema | Reference]:
    """The properties of ``struct`` as OpenAPI schemas, in field order."""
    definitions = msgspec.json.schema(struct)["$defs"][struct.__name__]
    return {name: openapi_schema(value) for name, value in definitions["properties"].items()}


#: Every option, as JSON bodies take it.
OPTIONS: dict[str, Schema | Reference] = struct_properties(Options)
#: The same in a multipart form, where `document_metadata` arrives as a JSON string.
FORM_OPTIONS: dict[str, Schema | Reference] = {
    **OPTIONS,
    "document_metadata": Schema(type=OpenAPIType.STRING, description="A JSON object, as a string"),
}
_FILE = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
_BASE64 = Schema(type=OpenAPIType.STRING, description="The document as base64 or a data URI")


def _object(properties: dict[str, Schema | Reference], required: list[str]) -> Schema:
    return Schema(type=OpenAPIType.OBJECT, properties=properties, required=required)


def operation_with(body: RequestBody) -> type[Operation]:
    """An Operation class that declares ``body`` whatever Litestar found in the signature."""

    class WithBody(Operation):
        def __init__(self, **fields: Any) -> None:
            fields["request_body"] = body
            super().__init__(**fields)

    return WithBody


ConvertOperation = operation_with(
    RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=_object({"image": _FILE, **FORM_OPTIONS}, ["image", "document_type_code"])
            ),
            "application/json": OpenAPIMediaType(
                schema=_object(
                    {
                        "image_base64": _BASE64,
                        "image": Schema(type=OpenAPIType.STRING, description="The same as `image_base64`"),
                        "image_url": Schema(
                            type=OpenAPIType.STRING,
                            format=OpenAPIFormat.URI,
                            description="An http(s) URL Lector downloads (public addresses only)",
                        ),
                        **OPTIONS,
                    },
                    ["document_type_code"],
                )
            ),
        },
    )
)

BatchOperation = operation_with(
    RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=_object(
                    {"files": Schema(type=OpenAPIType.ARRAY, items=_FILE), **FORM_OPTIONS},
                    ["files", "document_type_code"],
                )
            ),
            "application/json": OpenAPIMediaType(
                schema=_object(
                    {
                        "items": Schema(
                            type=OpenAPIType.ARRAY,
                            items=Schema(
                                type=OpenAPIType.OBJECT, properties=struct_properties(BatchItemBody)
                            ),
                            min_items=1,
                        ),
                        **OPTIONS,
                    },
                    ["items", "document_type_code"],
                )
            ),
        },
    )
)
