"""Synchronous OCR: a document in, its text out, in the same request."""

from __future__ import annotations

import json
from typing import Annotated

from litestar import Controller, Request, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from msgspec import Meta

from service.api.auth import SECURITY, require_api_key
from service.api.payloads import check_size, decode_base64_document
from service.api.responses import AUTH_ERRORS, error_spec
from service.errors import InvalidOption, TooManyPages
from service.extract import extract, options_for
from service.models import OcrOptions, OcrRequest, OcrResponse, ocr_data
from service.settings import Settings

OCR_ERRORS = {
    **AUTH_ERRORS,
    413: error_spec("Document over LECTOR_MAX_UPLOAD_MB, or more pages than LECTOR_SYNC_MAX_PAGES"),
    422: error_spec(
        "Invalid base64, unsupported or corrupt file, decompression bomb, encrypted PDF, bad option"
    ),
    503: error_spec("The OCR engine cannot run on this server"),
}


class OcrForm(OcrOptions, kw_only=True):
    """Multipart body of ``POST /api/ocr/extract-text-from-file``."""

    file: UploadFile
    # A form field is a string: the JSON object arrives encoded and is decoded by the handler.
    document_metadata: Annotated[str | None, Meta(description="A JSON object, as a string")] = None  # type: ignore[assignment]

    def options(self) -> OcrOptions:
        """The OCR options, with ``document_metadata`` decoded; InvalidOption when it is not an object."""
        fields = {name: getattr(self, name) for name in OcrOptions.__struct_fields__}
        if self.document_metadata is not None:
            try:
                fields["document_metadata"] = json.loads(self.document_metadata)
            except ValueError:
                fields["document_metadata"] = None
            if not isinstance(fields["document_metadata"], dict):
                raise InvalidOption("The `document_metadata` field must be a JSON object.")
        return OcrOptions(**fields)


class OcrController(Controller):
    """Text from an image or a PDF, answered at once (up to LECTOR_SYNC_MAX_PAGES pages)."""

    path = "/api/ocr"
    tags = ("OCR",)
    guards = (require_api_key,)
    security = SECURITY

    @post("/extract-text", status_code=200, responses=OCR_ERRORS, sync_to_thread=True)
    def extract_text(self, request: Request, data: OcrRequest) -> OcrResponse:
        """OCR a base64-encoded image or PDF (bare base64 or a data URI)."""
        settings: Settings = request.app.state.settings
        document = decode_base64_document(data.image, field="image", max_bytes=settings.max_upload_bytes)
        return _run(document, data, settings)

    @post("/extract-text-from-file", status_code=200, responses=OCR_ERRORS, sync_to_thread=True)
    def extract_text_from_file(
        self, request: Request, data: Annotated[OcrForm, Body(media_type=RequestEncodingType.MULTI_PART)]
    ) -> OcrResponse:
        """OCR an uploaded image or PDF (multipart field `file`)."""
        settings: Settings = request.app.state.settings
        check_size(data.file.file.seek(0, 2), settings.max_upload_bytes)
        data.file.file.seek(0)
        return _run(data.file.file.read(), data.options(), settings)


def _run(document: bytes, options: OcrOptions, settings: Settings) -> OcrResponse:
    limit = min(settings.sync_max_pages, settings.max_pages)
    extract_options = options_for(options, dpi=settings.ocr_dpi, max_pages=limit)
    try:
        extraction = extract(document, extract_options)
    except TooManyPages as exc:
        advice = "Send it to POST /api/convert-async, or select fewer pages with `pages`."
        raise TooManyPages(exc.count, exc.limit, advice=advice) from None
    return OcrResponse(success=True, data=ocr_data(extraction))
