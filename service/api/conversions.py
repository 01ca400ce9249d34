"""Asynchronous conversions: submit a document, poll its status, list the document types."""

from __future__ import annotations

import time
from typing import Annotated

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from redis import Redis

from service.api.auth import SECURITY, require_api_key
from service.api.bodies import ConvertOperation
from service.api.responses import AUTH_ERRORS, error_spec
from service.api.submissions import read_submission
from service.blobs import BlobStore
from service.doctypes import document_types, get_document_type
from service.downloads import fetch_document
from service.errors import NotFound
from service.jobs import (
    Conversion,
    JobStore,
    Status,
    claim_idempotency,
    new_id,
    release_idempotency,
    submit,
)
from service.models import ConversionStatus, DocumentTypeInfo, DocumentTypeList, Submitted
from service.settings import Settings

SUBMIT_ERRORS = {
    **AUTH_ERRORS,
    400: error_spec("The image_url could not be fetched, or is not allowed"),
    413: error_spec("Document over LECTOR_MAX_UPLOAD_MB"),
    415: error_spec("A Content-Type other than multipart/form-data or application/json"),
    422: error_spec("Validation error (a list of problems), unknown document type, reused Idempotency-Key"),
}
STATUS_ERRORS = {**AUTH_ERRORS, 404: error_spec("No such conversion for this API key, or it expired")}
#: How often a waiting status request looks again.
_POLL_S = 0.2


def status_url(request: Request, conversion_id: str) -> str:
    """The absolute URL of a conversion's status."""
    return f"{str(request.base_url).rstrip('/')}/api/convert-async/status/{conversion_id}"


def conversion_status(record: Conversion) -> ConversionStatus:
    """The wire form of a stored conversion."""
    return ConversionStatus(
        conversion_id=record.conversion_id,
        status=record.status.value,
        progress=record.progress,
        document_type_code=record.document_type_code,
        created_at=record.created_at,
        started_at=record.started_at,
        completed_at=record.completed_at,
        data=record.data if record.status is Status.SUCCESS else None,
        error=record.error if record.status is Status.FAILED else None,
    )


class ConversionsController(Controller):
    """Documents that go through the queue; the client polls for the result."""

    path = "/api"
    tags = ("Asynchronous conversion",)
    guards = (require_api_key,)
    security = SECURITY

    @post("/convert-async", status_code=202, responses=SUBMIT_ERRORS, operation_class=ConvertOperation)
    async def submit(self, request: Request, redis: Redis, blobs: BlobStore) -> Response[Submitted]:
        """Queue a document: multipart (file in `image`), JSON with `image_base64`, or JSON with `image_url`.

        Fields: `document_type_code` (required), `document_metadata` (a JSON object), `ocr_instructions`,
        `engine`, `lang`, `pages`, `force_ocr`, `include_words`, `psm`, `password`. An `Idempotency-Key`
        header makes a retry with the same body return the same conversion.
        """
        settings: Settings = request.app.state.settings
        submission = await read_submission(request, settings)
        get_document_type(submission.options.document_type_code)
        owner: str = request.state.client_id
        conversion_id = new_id()
        idempotency_key = request.headers.get("idempotency-key")
        if idempotency_key:
            claimed = await anyio.to_thread.run_sync(
                claim_idempotency,
                redis,
                owner,
                idempotency_key,
                submission.fingerprint,
                conversion_id,
                settings.result_ttl_s,
            )
            if claimed != conversion_id:
                return _accepted(request, claimed)
        try:
            document = submission.document
            if document is None:
                document = await fetch_document(submission.url or "", settings)
            await anyio.to_thread.run_sync(
                lambda: submit(
                    redis,
                    blobs,
                    conversion_id=conversion_id,
                    owner=owner,
                    document_type_code=submission.options.document_type_code,
                    options=submission.options,
                    document=document,
                    ttl_s=settings.result_ttl_s,
                    filename=submission.filename,
                )
            )
        except BaseException:
            if idempotency_key:
                await anyio.to_thread.run_sync(release_idempotency, redis, owner, idempotency_key)
            raise
        return _accepted(request, conversion_id)

    @get("/convert-async/status/{conversion_id:str}", responses=STATUS_ERRORS)
    async def status(
        self,
        request: Request,
        redis: Redis,
        conversion_id: str,
        wait: Annotated[int, Parameter(ge=0, le=30, description="Seconds to hold for a status change")] = 0,
    ) -> ConversionStatus:
        """A conversion's status, progress and (once SUCCESS) its result."""
        settings: Settings = request.app.state.settings
        store = JobStore(redis, settings.result_ttl_s)
        owner: str = request.state.client_id

        async def load() -> Conversion:
            record = await anyio.to_thread.run_sync(store.get, conversion_id)
            if record is None or record.owner != owner:
                raise NotFound(f"No conversion {conversion_id!r} for this API key (it may have expired).")
            return record

        record = await load()
        deadline = time.monotonic() + wait
        first_status = record.status
        # A finished job's status will not change again: answer at once.
        while record.status == first_status and not record.status.finished and time.monotonic() < deadline:
            await anyio.sleep(_POLL_S)
            record = await load()
        return conversion_status(record)

    @get("/document-types", responses=AUTH_ERRORS)
    async def document_types(self) -> DocumentTypeList:
        """Every document type code, with its JSON Schema (null for `text`)."""
        return DocumentTypeList(
            document_types=[
                DocumentTypeInfo(code=kind.code, title=kind.title, schema=kind.schema)
                for kind in document_types().values()
            ]
        )


def _accepted(request: Request, conversion_id: str) -> Response[Submitted]:
    url = status_url(request, conversion_id)
    body = Submitted(conversion_id=conversion_id, status_url=url, status=Status.ENQUEUED.value)
    return Response(body, status_code=202, headers={"Location": url})
