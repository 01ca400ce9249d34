"""OpenAPI descriptions of the request bodies that handlers read by hand.

``POST /api/convert-async`` and ``POST /api/batches/`` accept multipart or JSON, chosen by
Content-Type, so they parse their own bodies (service.api.submissions) and declare them here
for the OpenAPI document.
"""

from __future__ import annotations

from typing import get_args

from litestar.openapi.spec import OpenAPIMediaType, Operation, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIType

from service.models import PSM_CHOICES, EngineName

_STRING = OpenAPIType.STRING


def _string(description: str, **extra: object) -> Schema:
    return Schema(type=_STRING, description=description, **extra)


OPTIONS: dict[str, Schema] = {
    "document_type_code": _string("A code from GET /api/document-types, e.g. `text`"),
    "ocr_instructions": _string("Free-text guidance for the model", max_length=4000),
    "engine": Schema(type=_STRING, enum=list(get_args(EngineName)), default="auto"),
    "lang": _string("Tesseract language(s), e.g. `eng+deu`", default="eng"),
    "pages": _string("Page selection such as `1-3,5`"),
    "force_ocr": Schema(type=OpenAPIType.BOOLEAN, default=False),
    "include_words": Schema(type=OpenAPIType.BOOLEAN, default=False),
    "psm": Schema(type=OpenAPIType.INTEGER, enum=list(PSM_CHOICES)),
    "password": _string("Password of an encrypted PDF"),
}
_METADATA_OBJECT = Schema(type=OpenAPIType.OBJECT, description="Free JSON given to the model as context")
_METADATA_STRING = _string("A JSON object, as a string")
_FILE = Schema(type=_STRING, format="binary")


def _object(properties: dict[str, Schema], required: list[str]) -> Schema:
    return Schema(type=OpenAPIType.OBJECT, properties=properties, required=required)


def _operation_with(body: RequestBody) -> type[Operation]:
    """An Operation class that declares ``body`` whatever Litestar found in the signature."""

    class WithBody(Operation):
        def __init__(self, **fields: object) -> None:
            super().__init__(**{**fields, "request_body": body})  # type: ignore[arg-type]

    return WithBody


ConvertOperation = _operation_with(
    RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=_object(
                    {"image": _FILE, "document_metadata": _METADATA_STRING, **OPTIONS},
                    ["image", "document_type_code"],
                )
            ),
            "application/json": OpenAPIMediaType(
                schema=_object(
                    {
                        "image_base64": _string("The document as base64 or a data URI"),
                        "image_url": _string(
                            "An http(s) URL Lector downloads (public addresses only)", format="uri"
                        ),
                        "document_metadata": _METADATA_OBJECT,
                        **OPTIONS,
                    },
                    ["document_type_code"],
                )
            ),
        },
    )
)

_ITEM = _object(
    {
        "image_url": _string("An http(s) URL the worker downloads", format="uri"),
        "image_base64": _string("The document as base64 or a data URI"),
        "filename": _string("A name to report the item under"),
    },
    [],
)

BatchOperation = _operation_with(
    RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=_object(
                    {
                        "files": Schema(type=OpenAPIType.ARRAY, items=_FILE),
                        "document_metadata": _METADATA_STRING,
                        **OPTIONS,
                    },
                    ["files", "document_type_code"],
                )
            ),
            "application/json": OpenAPIMediaType(
                schema=_object(
                    {
                        "items": Schema(type=OpenAPIType.ARRAY, items=_ITEM),
                        "document_metadata": _METADATA_OBJECT,
                        **OPTIONS,
                    },
                    ["items", "document_type_code"],
                )
            ),
        },
    )
)
