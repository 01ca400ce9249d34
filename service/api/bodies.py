"""OpenAPI descriptions of the request bodies that handlers read by hand, generated from types.

``POST /api/convert-async`` and ``POST /api/batches/`` accept multipart or JSON, chosen by
Content-Type, so they parse their own bodies (``service.api.submissions``). Their OpenAPI is
built here from ``service.options.Options`` (msgspec's JSON Schema of it, translated into
Litestar's schema objects), so an option added to the type appears here by itself.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar._openapi.schema_generation.plugins.struct import StructSchemaPlugin
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, Operation, Reference, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.typing import FieldDefinition

from service.api.submissions import BatchItemBody
from service.convert.formats import MEDIA_TYPES
from service.convert.target import Target
from service.options import Options
from service.tenants.records import KeySpec

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
    "additionalProperties": "additional_properties",
    "minProperties": "min_properties",
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


def _inline(node: Any, definitions: dict[str, Any]) -> Any:
    """``node`` with every ``$ref`` to ``definitions`` replaced by what it names."""
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(definitions[node["$ref"].rsplit("/", 1)[-1]], definitions)
        return {key: _inline(value, definitions) for key, value in node.items() if key != "$defs"}
    if isinstance(node, list):
        return [_inline(member, definitions) for member in node]
    return node


def answer_schema(struct: type[msgspec.Struct]) -> Schema:
    """``struct`` as one self-contained OpenAPI schema (for an answer declared by hand)."""
    full = msgspec.json.schema(struct)
    return openapi_schema(_inline(full, full.get("$defs", {})))


def struct_properties(struct: type[msgspec.Struct]) -> dict[str, Schema | Reference]:
    """The properties of ``struct`` as OpenAPI schemas, in field order."""
    definitions = msgspec.json.schema(struct)["$defs"][struct.__name__]
    return {name: openapi_schema(value) for name, value in definitions["properties"].items()}


#: Every option, as JSON bodies take it; `document_metadata` also as a string holding a JSON
#: object, as Docutray's field table types it ("Additional document metadata as JSON string").
OPTIONS: dict[str, Schema | Reference] = {
    **struct_properties(Options),
    "document_metadata": Schema(
        any_of=[
            Schema(type=OpenAPIType.OBJECT),
            Schema(
                type=OpenAPIType.STRING,
                pattern=r"^\s*\{[\s\S]*\}\s*$",
                content_media_type="application/json",
                description="The same object, as a JSON string",
            ),
            Schema(type=OpenAPIType.NULL),
        ],
        description="Free JSON given to the vision model as context (an object, or one as a JSON string)",
    ),
}
#: The same in a multipart form: there `document_metadata` is a part holding a JSON object,
#: which is what OpenAPI makes of an object property in a form (its part is application/json).
FORM_OPTIONS: dict[str, Schema | Reference] = {
    **OPTIONS,
    "document_metadata": Schema(
        type=OpenAPIType.OBJECT, description="Free JSON given to the vision model as context (a JSON object)"
    ),
}
#: One uploaded file, and several.
FILE = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
FILES = Schema(type=OpenAPIType.ARRAY, items=FILE)
_BASE64 = Schema(type=OpenAPIType.STRING, description="The document as base64 or a data URI")


def _object(
    properties: dict[str, Schema | Reference],
    required: list[str],
    *,
    one_of: list[str] | None = None,
    closed: bool = True,
) -> Schema:
    """An object of ``properties``: closed (Lector's own bodies refuse a field they do not
    know), and with exactly one of the ``one_of`` properties when given."""
    return Schema(
        type=OpenAPIType.OBJECT,
        properties=properties,
        required=required,
        additional_properties=False if closed else None,
        # Present and a non-empty string: a null or empty one counts as not sent.
        one_of=[
            Schema(required=[name], properties={name: Schema(type=OpenAPIType.STRING, min_length=1)})
            for name in one_of
        ]
        if one_of
        else None,
    )


class StrictStructSchemas(StructSchemaPlugin):
    """Litestar's schema of a msgspec Struct, plus ``additionalProperties: false`` where the
    Struct forbids unknown fields (as msgspec's own schema says): a body Litestar decodes into
    such a Struct (an admin key, a webhook) refuses a field it does not know."""

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: Any) -> Schema:
        """The Struct's schema, closed when the Struct is."""
        schema = super().to_openapi_schema(field_definition, schema_creator)
        info = msgspec.inspect.type_info(field_definition.type_)
        if isinstance(info, msgspec.inspect.StructType) and info.forbid_unknown_fields:
            schema.additional_properties = False
        return schema


def upload_form(fields: dict[str, Schema | Reference], required: list[str]) -> RequestBody:
    """A multipart body of files and fields (the dialects' upload forms, which may take fields
    they do not name)."""
    return RequestBody(
        required=True,
        content={"multipart/form-data": OpenAPIMediaType(schema=_object(fields, required, closed=False))},
    )


def operation_with(
    body: RequestBody | None = None, answers: dict[str, Schema] | None = None
) -> type[Operation]:
    """An Operation class that declares ``body`` whatever Litestar found in the signature,
    and ``answers`` (media type → schema) as the 200 answer: for routes that parse their
    body by hand, or answer a file or another format by a parameter, which the signature
    cannot say."""

    class Declared(Operation):
        def __init__(self, **fields: Any) -> None:
            if body is not None:
                fields["request_body"] = body
            super().__init__(**fields)
            ok = (self.responses or {}).get("200")
            if answers and isinstance(ok, OpenAPIResponse):
                ok.content = {media: OpenAPIMediaType(schema=schema) for media, schema in answers.items()}

    return Declared


def _submission_body(
    extra: dict[str, Schema | Reference],
    required: str | None,
    form_extra: dict[str, Schema | Reference] | None = None,
) -> RequestBody:
    """A submitted document's body: multipart with the file, or JSON with base64 or a URL;
    ``form_extra`` replaces fields of ``extra`` that a form carries otherwise."""
    return RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=_object(
                    {"image": FILE, **FORM_OPTIONS, **extra, **(form_extra or {})},
                    ["image", *([required] if required else [])],
                )
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
                        **extra,
                    },
                    [required] if required else [],
                    one_of=["image_base64", "image", "image_url"],
                )
            ),
        },
    )


#: The queued routes' callback (service.jobs.webhooks).
CALLBACK: dict[str, Schema | Reference] = {
    "callback_url": Schema(
        # An empty one means none, as a form's empty field does.
        any_of=[
            Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.URI, max_length=2048),
            Schema(type=OpenAPIType.STRING, max_length=0),
        ],
        description="Where to POST the end of the job, signed as Standard Webhooks specify (public "
        "addresses only; the key needs a secret, POST /api/webhooks/secret). Default: the key's own",
    )
}
ConvertOperation = operation_with(_submission_body(CALLBACK, "document_type_code"))
#: The sync OCR's JSON body: the document in `image` (or `image_base64`), and the options.
OcrJsonOperation = operation_with(
    RequestBody(
        required=True,
        content={
            "application/json": OpenAPIMediaType(
                schema=_object(
                    {
                        "image": Schema(
                            type=OpenAPIType.STRING,
                            description="The document as base64 or a data URI (`data:image/png;base64,...`); "
                            "a PDF too",
                        ),
                        "image_base64": Schema(
                            type=OpenAPIType.STRING, description="The same as `image`, under Docutray's name"
                        ),
                        **OPTIONS,
                    },
                    [],
                    one_of=["image", "image_base64"],
                )
            )
        },
    )
)
SyncConvertOperation = operation_with(_submission_body({}, "document_type_code"))
#: An identification: no document type, the candidates instead (Docutray's field).
IdentifyOperation = operation_with(
    _submission_body(
        {
            "document_type_code_options": Schema(
                type=OpenAPIType.ARRAY,
                items=Schema(type=OpenAPIType.STRING),
                description="The document type codes to choose among; default: every type the key may use",
            )
        },
        None,
        # A form reads the list from one field (service.api.submissions._docutray_fields).
        form_extra={
            "document_type_code_options": Schema(
                type=OpenAPIType.STRING,
                description="The document type codes to choose among, as a JSON list or separated by "
                "commas; default: every type the key may use",
            )
        },
    )
)
#: A file conversion: the document, its options, and the target with its options.
#: Any converted file, by its media type (parameters such as charset left out).
FILE_ANSWERS = {
    media.split(";")[0]: Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
    for media in MEDIA_TYPES.values()
} | {
    # A json file is a JSON document, and a client reads it as one.
    "application/json": Schema(
        type=OpenAPIType.OBJECT, description="The extraction, or the object a vision model shaped"
    )
}
ConvertFileOperation = operation_with(
    _submission_body(struct_properties(Target), "target_format"), answers=FILE_ANSWERS
)
ConvertFileAsyncOperation = operation_with(
    _submission_body({**struct_properties(Target), **CALLBACK}, "target_format")
)
#: A converted file's download.
DownloadOperation = operation_with(answers=FILE_ANSWERS)

BatchOperation = operation_with(
    RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=_object(
                    {"files": FILES, **FORM_OPTIONS, **CALLBACK},
                    ["files", "document_type_code"],
                )
            ),
            "application/json": OpenAPIMediaType(
                schema=_object(
                    {
                        "items": Schema(
                            type=OpenAPIType.ARRAY,
                            items=_object(
                                struct_properties(BatchItemBody),
                                [],
                                one_of=["image_url", "image_base64", "image"],
                            ),
                            min_items=1,
                        ),
                        **OPTIONS,
                        **CALLBACK,
                    },
                    ["items", "document_type_code"],
                )
            ),
        },
    )
)

#: `PATCH /admin/keys/{key_id}`: any of a key's settings, at least one (read by hand, as a dict).
KeyChangesOperation = operation_with(
    RequestBody(
        required=True,
        content={
            "application/json": OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    properties=struct_properties(KeySpec),
                    additional_properties=False,
                    min_properties=1,
                )
            )
        },
    )
)
