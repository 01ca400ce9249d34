"""Docutray's conversions: ``POST /api/convert-async`` (queued) and ``POST /api/convert`` (at once).

The three body forms (multipart `image`, JSON `image_base64`, JSON `image_url`) are read
by ``service.api.submissions``; the queued conversion's status is Lector's own route
(``service.api.status``), whose document is ``service.jobs.record.conversion_status``.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Response, post
from litestar.di import NamedDependency
from msgspec import Meta

from service.api.auth import KeyController
from service.api.bodies import ConvertOperation, SyncConvertOperation
from service.api.dialects.docutray.types import kinds_of
from service.api.queued import queue_one
from service.api.responses import LIMIT_ERRORS, error_spec
from service.api.services import Lector
from service.api.submissions import read_submission
from service.jobs.record import fields_of
from service.lifecycle.now import run_now
from service.lifecycle.steps import with_document
from service.models import Submitted
from service.tenants.store import Caller
from service.work import Extract

SUBMIT_ERRORS = {
    **LIMIT_ERRORS,
    400: error_spec("A malformed body, or an image_url that could not be fetched or is not allowed"),
    413: error_spec("Document over LECTOR_MAX_UPLOAD_MB"),
    415: error_spec("A Content-Type other than multipart/form-data or application/json"),
    422: error_spec("Validation error (a list of problems), unknown document type, reused Idempotency-Key"),
    503: error_spec("The job store is unavailable; try again after Retry-After seconds"),
}
CONVERT_ERRORS = {
    **SUBMIT_ERRORS,
    413: error_spec("Document over LECTOR_MAX_UPLOAD_MB, or more pages than LECTOR_SYNC_MAX_PAGES"),
    422: error_spec("Validation error, unknown document type, unreadable document or a bad option"),
    503: error_spec("The OCR engine cannot run here, or the server is busy (Retry-After)"),
}


class Converted(msgspec.Struct):
    """Answer of ``POST /api/convert``: the fields in `data` (Docutray's), then Lector's extras."""

    data: Annotated[
        dict[str, Any],
        Meta(description="The fields, as the document type's JSON Schema shapes them ({text} for `text`)"),
    ]
    document_type_code: str
    tokens_used: int
    result: Annotated[
        dict[str, Any], Meta(description="Lector's whole result (text, pages, fields, tokens, engine)")
    ]


class ConversionsController(KeyController):
    """Documents converted to their document type's fields: at once, or through the queue."""

    path = "/api"
    tags = ("Conversion (Docutray)",)

    @post("/convert-async", status_code=202, responses=SUBMIT_ERRORS, operation_class=ConvertOperation)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Response[Submitted]:
        """Queue a document: multipart (file in `image`), JSON with `image_base64` (or `image`), or JSON
        with `image_url`, plus `document_type_code` (a built-in type, or the key's own) and the
        options of the sync endpoints.

        An `Idempotency-Key` header makes a retry with the same body return the same conversion.
        """
        submission = await read_submission(request, lector.settings)
        kinds = await kinds_of(lector.own_types, caller)
        return await queue_one(request, submission, lector.intake, lector.here, caller, kinds=kinds)

    @post("/convert", status_code=200, responses=CONVERT_ERRORS, operation_class=SyncConvertOperation)
    async def convert(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Converted:
        """Convert a document at once (up to LECTOR_SYNC_MAX_PAGES pages): the same bodies as
        `POST /api/convert-async`, answered with the fields in `data`."""
        submission = await with_document(await read_submission(request, lector.settings), lector.settings)
        document = submission.document
        assert document is not None  # with_document fetched it
        kinds = await kinds_of(lector.own_types, caller)

        def run() -> Converted:
            with lector.gate.slot():
                outcome = run_now(
                    Extract(),
                    document,
                    submission.options,
                    lector.here,
                    caller,
                    queued_route="POST /api/convert-async",
                    kinds=kinds,
                )
            assert outcome.reading is not None and outcome.result is not None  # an extraction reads
            return Converted(
                data=fields_of(outcome.result),
                document_type_code=outcome.reading.document_type,
                tokens_used=outcome.reading.tokens.total,
                result=outcome.result,
            )

        return await anyio.to_thread.run_sync(run)
