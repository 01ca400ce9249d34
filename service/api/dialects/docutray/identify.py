"""Docutray's identification: which document type a document is, at once or through the queue.

``POST /api/identify`` answers ``{document_type, alternatives}``; ``POST /api/identify-async``
queues the same work as a job (``service.work.Identify``), read at
``GET /api/identify-async/status/{id}``. The candidates are the types the key may use,
narrowed by `document_type_code_options`; both run through ``service.lifecycle``.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from msgspec import Meta

from service.api.addresses import links, url_for
from service.api.auth import KeyController
from service.api.bodies import IdentifyOperation
from service.api.dialects.docutray.convert import CONVERT_ERRORS, SUBMIT_ERRORS
from service.api.dialects.docutray.types import kinds_of
from service.api.queued import IDENTIFY_STATUS_ROUTE, STATUS_ERRORS, wait_for_change
from service.api.services import Lector
from service.api.submissions import read_submission
from service.jobs.record import Conversion
from service.lifecycle.now import run_now
from service.lifecycle.steps import with_document
from service.lifecycle.submit import submit
from service.models import JobState
from service.tenants.store import Caller
from service.work import Identify

QUEUED_ROUTE = "POST /api/identify-async"


class TypeMatch(msgspec.Struct):
    """A document type and how likely the document is one, from 0 to 1."""

    code: str
    name: str
    confidence: float


class Identified(msgspec.Struct):
    """Answer of ``POST /api/identify``: the likeliest type, the others after it."""

    document_type: TypeMatch
    alternatives: list[TypeMatch]
    engine: str
    tokens_used: int
    processing_time_ms: int


class IdentificationQueued(msgspec.Struct):
    """Answer of ``POST /api/identify-async`` (202)."""

    identification_id: str
    status_url: str
    status: JobState


class IdentificationStatus(msgspec.Struct):
    """Answer of ``GET /api/identify-async/status/{id}``."""

    identification_id: str
    status: JobState
    status_url: str
    request_timestamp: str
    response_timestamp: str | None
    original_filename: str | None
    document_type: Annotated[TypeMatch | None, Meta(description="Once SUCCESS")] = None
    alternatives: Annotated[list[TypeMatch] | None, Meta(description="Once SUCCESS")] = None
    error: Annotated[str | None, Meta(description="Once ERROR: what went wrong")] = None


class IdentifyController(KeyController):
    """Which of the key's document types a document is."""

    path = "/api"
    tags = ("Identification (Docutray)",)

    @post("/identify", status_code=200, responses=CONVERT_ERRORS, operation_class=IdentifyOperation)
    async def identify(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Identified:
        """Identify a document at once, from its first page: multipart `image`, JSON
        `image_base64` or `image_url`, and optionally `document_type_code_options`."""
        settings = lector.settings
        submission = await with_document(await read_submission(request, settings, identify=True), settings)
        kinds = await kinds_of(lector.own_types, caller)
        document = submission.document
        assert document is not None

        def run() -> Identified:
            with lector.gate.slot():
                outcome = run_now(
                    Identify(),
                    document,
                    submission.options,
                    lector.here,
                    caller,
                    queued_route=QUEUED_ROUTE,
                    asked_types=submission.types,
                    kinds=kinds,
                )
            return msgspec.convert(outcome.result, Identified)

        return await anyio.to_thread.run_sync(run)

    @post("/identify-async", status_code=202, responses=SUBMIT_ERRORS, operation_class=IdentifyOperation)
    async def submit(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Response[IdentificationQueued]:
        """Queue an identification; poll its `status_url`."""
        submission = await read_submission(request, lector.settings, identify=True)
        kinds = await kinds_of(lector.own_types, caller)
        idempotency_key = request.headers.get("idempotency-key")
        job_id = await submit(
            submission, lector.intake, lector.here, caller, idempotency_key=idempotency_key, kinds=kinds
        )
        url = url_for(request, IDENTIFY_STATUS_ROUTE, identification_id=job_id)
        body = IdentificationQueued(identification_id=job_id, status_url=url, status="ENQUEUED")
        return Response(body, status_code=202, headers={"Location": url})

    @get(
        "/identify-async/status/{identification_id:str}", name=IDENTIFY_STATUS_ROUTE, responses=STATUS_ERRORS
    )
    async def status(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        identification_id: FromPath[str],
        wait: Annotated[int, Parameter(ge=0, le=30, description="Seconds to hold for a status change")] = 0,
    ) -> IdentificationStatus:
        """An identification's status and, once SUCCESS, the type and the alternatives."""
        record = await wait_for_change(lector.intake, caller, identification_id, wait, identify=True)
        return identification_status(record, links(request).status_url(record))


def identification_status(record: Conversion, status_url: str) -> IdentificationStatus:
    """The wire form of a stored identification."""
    found = record.data or {}
    return IdentificationStatus(
        identification_id=record.conversion_id,
        status=record.status.job_state,
        status_url=status_url,
        request_timestamp=record.created_at,
        response_timestamp=record.completed_at,
        original_filename=record.filename,
        document_type=msgspec.convert(found["document_type"], TypeMatch)
        if "document_type" in found
        else None,
        alternatives=msgspec.convert(found.get("alternatives", []), list[TypeMatch]) if found else None,
        error=record.failure,
    )
