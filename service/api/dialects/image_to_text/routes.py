"""Synchronous OCR: a document in, its text out, in the same request."""

from __future__ import annotations

from typing import Any

import anyio
import msgspec
from litestar import Request, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.openapi.spec import OpenAPIMediaType, RequestBody, Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType

from service.api.auth import KeyController
from service.api.bodies import FORM_OPTIONS, OcrJsonOperation, operation_with
from service.api.gate import SyncGate
from service.api.payloads import check_size, decode_base64_document, decode_form_metadata, decode_json_body
from service.api.responses import LIMIT_ERRORS, error_spec
from service.api.services import Lector
from service.api.submissions import BASE64_FIELDS, spooled_body
from service.errors import InvalidOption, MalformedBody
from service.lifecycle.now import run_now
from service.lifecycle.steps import Here
from service.models import OcrResponse, ocr_data
from service.options import Options, sentence
from service.tenants.store import Caller
from service.work import Extract

OCR_ERRORS = {
    **LIMIT_ERRORS,
    400: error_spec("The body is empty, not valid JSON or multipart, or nested too deeply"),
    413: error_spec("Document over LECTOR_MAX_UPLOAD_MB, or more pages than LECTOR_SYNC_MAX_PAGES"),
    422: error_spec(
        "Invalid base64, unsupported or corrupt file, decompression bomb, encrypted PDF, bad option"
    ),
    503: error_spec("The OCR engine cannot run on this server, or the server is busy (Retry-After)"),
}

UploadOperation = operation_with(
    RequestBody(
        required=True,
        content={
            "multipart/form-data": OpenAPIMediaType(
                schema=Schema(
                    type=OpenAPIType.OBJECT,
                    properties={
                        "file": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY),
                        **FORM_OPTIONS,
                    },
                    required=["file"],
                )
            )
        },
    )
)


class OcrController(KeyController):
    """Text from an image or a PDF, answered at once (up to LECTOR_SYNC_MAX_PAGES pages)."""

    path = "/api/ocr"
    tags = ("OCR",)

    @post("/extract-text", status_code=200, responses=OCR_ERRORS, operation_class=OcrJsonOperation)
    async def extract_text(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> OcrResponse:
        """OCR a base64-encoded image or PDF (bare base64 or a data URI) in `image` (or `image_base64`)."""
        async with spooled_body(request) as body:  # a large body waits on disk, not in memory
            return await anyio.to_thread.run_sync(_run_json, body, lector.here, caller, lector.gate)

    @post("/extract-text-from-file", status_code=200, responses=OCR_ERRORS, operation_class=UploadOperation)
    async def extract_text_from_file(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> OcrResponse:
        """OCR an uploaded image or PDF (multipart field `file`), with the options as form fields."""
        if request.content_type[0] != "multipart/form-data":
            raise MalformedBody("Invalid multipart/form-data: upload the document in the field `file`.")
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidOption("The field `file` is required.")
        fields: dict[str, Any] = {name: value for name, value in form.items() if name != "file"}
        if not decode_form_metadata(fields):
            raise InvalidOption("The `document_metadata` field must be a JSON object.")
        try:
            options = msgspec.convert(fields, Options, strict=False)
        except msgspec.ValidationError as exc:
            raise InvalidOption(sentence(str(exc))) from None
        return await anyio.to_thread.run_sync(_run_upload, upload, options, lector.here, caller, lector.gate)


def _run_json(body: bytearray | memoryview, here: Here, caller: Caller, gate: SyncGate) -> OcrResponse:
    """The JSON body's document and options, run once a sync slot is free."""
    fields = decode_json_body(body, verbatim=BASE64_FIELDS)
    given = [(name, fields.pop(name)) for name in BASE64_FIELDS if fields.get(name) is not None]
    if not given:
        raise InvalidOption("The field `image` is required.")
    if len(given) > 1:
        raise InvalidOption("Send the document once, in `image` or in `image_base64`.")
    field, value = given[0]
    if not isinstance(value, str | memoryview):
        raise InvalidOption(f"Invalid field `{field}`: send the document as a base64 string.")
    try:
        options = msgspec.convert(fields, Options)
    except msgspec.ValidationError as exc:
        raise InvalidOption(sentence(str(exc))) from None
    with gate.slot():  # the document is decoded only once it may run
        document = decode_base64_document(value, field=field, max_bytes=here.settings.max_upload_bytes)
        return _run(document, options, here, caller)


def _run_upload(
    upload: UploadFile, options: Options, here: Here, caller: Caller, gate: SyncGate
) -> OcrResponse:
    check_size(upload.file.seek(0, 2), here.settings.max_upload_bytes)
    with gate.slot():  # until then the upload waits in its spooled file, not in memory
        upload.file.seek(0)
        return _run(upload.file.read(), options, here, caller)


def _run(document: bytes, options: Options, here: Here, caller: Caller) -> OcrResponse:
    outcome = run_now(Extract(), document, options, here, caller, queued_route="POST /api/convert-async")
    assert outcome.reading is not None  # an extraction always reads
    return OcrResponse(success=True, data=ocr_data(outcome.reading))
