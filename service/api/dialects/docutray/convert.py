"""Docutray's conversions: ``POST /api/convert-async`` and its status, ``POST /api/convert``.

The three body forms (multipart `image`, JSON `image_base64`, JSON `image_url`) are read
by ``service.api.submissions``; the status is ``service.jobs.record.conversion_status``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from msgspec import Meta

from service.api.auth import SECURITY, require_api_key
from service.api.bodies import ConvertOperation, SyncConvertOperation
from service.api.dialects.docutray.types import kinds_of
from service.api.files import file_info
from service.api.gate import SyncGate
from service.api.queued import STATUS_ROUTE, queue_one
from service.api.responses import AUTH_ERRORS, LIMIT_ERRORS, error_spec
from service.api.submissions import read_submission, with_document
from service.errors import NotFound
from service.jobs.intake import Intake, storage_errors
from service.jobs.record import Conversion, conversion_status, fields_of
from service.lifecycle.now import run_now
from service.lifecycle.steps import Here
from service.models import ConversionStatus, Submitted
from service.settings import Settings
from service.tenants.store import Caller
from service.tenants.types import OwnTypes
from service.work import Extract, Identify

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
STATUS_ERRORS = {
    **AUTH_ERRORS,
    422: error_spec("An invalid query parameter (e.g. `wait` outside 0 to 30)"),
    404: error_spec("No such conversion for this API key, or it expired"),
    503: error_spec("The job store is unavailable; try again after Retry-After seconds"),
}
#: How often a waiting status request looks again.
_POLL_S = 0.2


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


class ConversionsController(Controller):
    """Documents converted to their document type's fields: at once, or through the queue."""

    path = "/api"
    tags = ("Conversion (Docutray)",)
    guards = (require_api_key,)
    security = SECURITY

    @post("/convert-async", status_code=202, responses=SUBMIT_ERRORS, operation_class=ConvertOperation)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        here: NamedDependency[Here],
        intake: NamedDependency[Intake],
        caller: NamedDependency[Caller],
        own_types: NamedDependency[OwnTypes],
    ) -> Response[Submitted]:
        """Queue a document: multipart (file in `image`), JSON with `image_base64` (or `image`), or JSON
        with `image_url`, plus `document_type_code` (a built-in type, or the key's own) and the
        options of the sync endpoints.

        An `Idempotency-Key` header makes a retry with the same body return the same conversion.
        """
        submission = await read_submission(request, here.settings)
        kinds = await kinds_of(own_types, caller)
        return await queue_one(request, submission, intake, here, caller, kinds=kinds)

    @post("/convert", status_code=200, responses=CONVERT_ERRORS, operation_class=SyncConvertOperation)
    async def convert(
        self,
        request: Request[Any, Any, Any],
        here: NamedDependency[Here],
        caller: NamedDependency[Caller],
        gate: NamedDependency[SyncGate],
        own_types: NamedDependency[OwnTypes],
    ) -> Converted:
        """Convert a document at once (up to LECTOR_SYNC_MAX_PAGES pages): the same bodies as
        `POST /api/convert-async`, answered with the fields in `data`."""
        submission = await with_document(await read_submission(request, here.settings), here.settings)
        document = submission.document
        assert document is not None  # with_document fetched it
        kinds = await kinds_of(own_types, caller)

        def run() -> Converted:
            with gate.slot():
                outcome = run_now(
                    Extract(),
                    document,
                    submission.options,
                    here,
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

    @get("/convert-async/status/{conversion_id:str}", name=STATUS_ROUTE, responses=STATUS_ERRORS)
    async def status(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        caller: NamedDependency[Caller],
        intake: NamedDependency[Intake],
        conversion_id: FromPath[str],
        wait: Annotated[int, Parameter(ge=0, le=30, description="Seconds to hold for a status change")] = 0,
    ) -> ConversionStatus:
        """A conversion's status, progress and (once SUCCESS) its fields in `data`, or its
        file's download URLs for a file conversion."""
        record = await wait_for_change(intake, caller, conversion_id, wait)
        webhook = await anyio.to_thread.run_sync(intake.webhook_state, conversion_id)
        return conversion_status(
            record,
            file_info(request, record, settings),
            webhook,
            status_url=request.url_for(STATUS_ROUTE, conversion_id=conversion_id),
        )


async def wait_for_change(
    intake: Intake, caller: Caller, job_id: str, wait: int, *, identify: bool = False
) -> Conversion:
    """The caller's conversion (or, with ``identify``, identification) record, once its status
    changes or after ``wait`` seconds (at once when it has finished); NotFound for another
    key's job, another kind of job, or one that expired."""
    owner = caller.owner
    what = "identification" if identify else "conversion"

    async def load() -> Conversion:
        with storage_errors():
            record = await anyio.to_thread.run_sync(intake.jobs.get, job_id)
        if record is None or record.owner != owner or isinstance(record.work, Identify) != identify:
            raise NotFound(f"No {what} {job_id[:64]!r} for this API key (it may have expired).")
        return record

    record = await load()
    deadline = time.monotonic() + wait
    first_status = record.status
    # A finished job's status will not change again: answer at once.
    while record.status == first_status and not record.status.finished and time.monotonic() < deadline:
        await anyio.sleep(_POLL_S)
        record = await load()
    return record
