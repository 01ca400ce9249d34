"""Asynchronous conversions: submit a document, poll its status, list the document types."""

from __future__ import annotations

import time
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from service.api.auth import SECURITY, require_api_key
from service.api.bodies import ConvertOperation
from service.api.charges import STATUS_ROUTE, queue_one
from service.api.files import file_info
from service.api.responses import AUTH_ERRORS, LIMIT_ERRORS, error_spec
from service.api.submissions import read_submission
from service.doctypes import document_types
from service.engines import Engines
from service.errors import NotFound
from service.jobs.intake import Intake, storage_errors
from service.jobs.record import Conversion, conversion_status
from service.models import ConversionStatus, DocumentTypeInfo, DocumentTypeList, Submitted
from service.settings import Settings
from service.tenants.billing import Tenancy
from service.tenants.store import Caller

SUBMIT_ERRORS = {
    **LIMIT_ERRORS,
    400: error_spec("A malformed body, or an image_url that could not be fetched or is not allowed"),
    413: error_spec("Document over LECTOR_MAX_UPLOAD_MB"),
    415: error_spec("A Content-Type other than multipart/form-data or application/json"),
    422: error_spec("Validation error (a list of problems), unknown document type, reused Idempotency-Key"),
    503: error_spec("The job store is unavailable; try again after Retry-After seconds"),
}
STATUS_ERRORS = {
    **AUTH_ERRORS,
    422: error_spec("An invalid query parameter (e.g. `wait` outside 0 to 30)"),
    404: error_spec("No such conversion for this API key, or it expired"),
    503: error_spec("The job store is unavailable; try again after Retry-After seconds"),
}
#: How often a waiting status request looks again.
_POLL_S = 0.2


class ConversionsController(Controller):
    """Documents that go through the queue; the client polls for the result."""

    path = "/api"
    tags = ("Asynchronous conversion",)
    guards = (require_api_key,)
    security = SECURITY

    @post("/convert-async", status_code=202, responses=SUBMIT_ERRORS, operation_class=ConvertOperation)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        settings: NamedDependency[Settings],
        intake: NamedDependency[Intake],
        engines: NamedDependency[Engines],
        tenancy: NamedDependency[Tenancy],
        caller: NamedDependency[Caller],
    ) -> Response[Submitted]:
        """Queue a document: multipart (file in `image`), JSON with `image_base64` (or `image`), or JSON
        with `image_url`, plus `document_type_code` and the options of the sync endpoints.

        An `Idempotency-Key` header makes a retry with the same body return the same conversion.
        """
        submission = await read_submission(request, settings)
        return await queue_one(request, submission, intake, engines, tenancy, caller)

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
        """A conversion's status, progress and (once SUCCESS) its result, or its file's
        download URLs for a file conversion."""
        owner = caller.owner

        async def load() -> Conversion:
            with storage_errors():
                record = await anyio.to_thread.run_sync(intake.jobs.get, conversion_id)
            if record is None or record.owner != owner:
                raise NotFound(
                    f"No conversion {conversion_id[:64]!r} for this API key (it may have expired)."
                )
            return record

        record = await load()
        deadline = time.monotonic() + wait
        first_status = record.status
        # A finished job's status will not change again: answer at once.
        while record.status == first_status and not record.status.finished and time.monotonic() < deadline:
            await anyio.sleep(_POLL_S)
            record = await load()
        webhook = await anyio.to_thread.run_sync(intake.webhook_state, conversion_id)
        return conversion_status(record, file_info(request, record, settings), webhook)

    @get("/document-types", responses=AUTH_ERRORS)
    async def document_types(self, caller: NamedDependency[Caller]) -> DocumentTypeList:
        """The document types this key may use, with their JSON Schemas (null for `text`)."""
        return DocumentTypeList(
            document_types=[
                DocumentTypeInfo(code=kind.code, title=kind.title, schema=kind.schema)
                for kind in document_types().values()
                if caller.record is None or caller.record.allows_type(kind.code)
            ]
        )
