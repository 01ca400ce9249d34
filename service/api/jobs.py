"""The key's jobs: every conversion, file conversion and identification it queued, newest first.

Lector's own listing (the console reads it); each entry links to the job's own status route,
and a batch's items name their batch.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
import msgspec
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from service.api.addresses import links
from service.api.auth import KeyController
from service.api.responses import AUTH_ERRORS, error_spec
from service.api.services import Lector
from service.jobs.intake import storage_errors
from service.jobs.record import Conversion
from service.models import JobState
from service.work import ConvertFile, Identify

JobKind = Literal["extraction", "file", "identification"]


class JobEntry(msgspec.Struct):
    """One job of the key."""

    job_id: str
    kind: JobKind
    status: Annotated[JobState, msgspec.Meta(description="As the job's own status route says it")]
    progress: float
    document_type_code: str
    filename: str | None
    target_format: Annotated[str | None, msgspec.Meta(description="A file conversion's target")]
    batch_id: Annotated[str | None, msgspec.Meta(description="The batch the job is an item of")]
    created_at: str
    completed_at: str | None
    error: str | None
    status_url: str


class JobPage(msgspec.Struct):
    """Answer of ``GET /api/jobs``."""

    jobs: list[JobEntry]
    limit: int
    offset: int


class JobsController(KeyController):
    """What the key has queued."""

    path = "/api/jobs"
    tags = ("Asynchronous conversion",)

    @get("/", responses={**AUTH_ERRORS, 422: error_spec("`limit` or `offset` out of range")})
    async def list_jobs(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=100_000)] = 0,
    ) -> JobPage:
        """The key's jobs, newest first (finished ones until they expire)."""
        owner = request.state.caller.owner
        with storage_errors():
            records = await anyio.to_thread.run_sync(
                lambda: lector.intake.jobs.of_owner(owner, offset=offset, limit=limit, keep=lambda _: True)
            )
        return JobPage(jobs=[_entry(request, record) for record in records], limit=limit, offset=offset)


def _entry(request: Request[Any, Any, Any], record: Conversion) -> JobEntry:
    work = record.work
    kind: JobKind = (
        "identification"
        if isinstance(work, Identify)
        else "file"
        if isinstance(work, ConvertFile)
        else "extraction"
    )
    url = links(request).status_url(record)
    return JobEntry(
        job_id=record.conversion_id,
        kind=kind,
        status=record.status.job_state,
        progress=record.progress,
        document_type_code=record.document_type_code,
        filename=record.filename,
        target_format=work.target.target_format if isinstance(work, ConvertFile) else None,
        batch_id=record.batch_id,
        created_at=record.created_at,
        completed_at=record.completed_at,
        error=record.failure,
        status_url=url,
    )
