"""Batches: many documents of one type in, one summary and one results file out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath, Parameter
from litestar.response import Stream

from service.api.addresses import url_for
from service.api.auth import KeyController
from service.api.bodies import BatchOperation, operation_with
from service.api.responses import AUTH_ERRORS, LIMIT_ERRORS, error_spec
from service.api.services import Lector
from service.api.submissions import read_batch
from service.doctypes import get_document_type
from service.errors import NotFound
from service.jobs.batches import Batch, csv_lines, jsonl_lines, result_columns, result_records, summarize
from service.jobs.intake import Intake, storage_errors
from service.lifecycle.submit import submit_batch
from service.models import BatchCreated, BatchStatus, Status
from service.tenants.store import Caller

UNAVAILABLE = error_spec("The job store is unavailable; try again after Retry-After seconds")
BATCH_ERRORS = {
    **LIMIT_ERRORS,
    400: error_spec("A malformed body"),
    413: error_spec("A document over LECTOR_MAX_UPLOAD_MB, or more items than LECTOR_MAX_BATCH_ITEMS"),
    415: error_spec("A Content-Type other than multipart/form-data or application/json"),
    422: error_spec(
        "Validation error (a list of problems, items named by index), or an unknown document type"
    ),
    503: UNAVAILABLE,
}
FOUND_ERRORS = {
    **AUTH_ERRORS,
    422: error_spec("An invalid query parameter (e.g. `format` other than jsonl or csv)"),
    404: error_spec("No such batch for this API key, or it expired"),
    503: UNAVAILABLE,
}
STATUS_ROUTE = "batch-status"
ResultFormat = Literal["jsonl", "csv"]
ResultsOperation = operation_with(
    answers={
        "application/x-ndjson": Schema(type=OpenAPIType.STRING, description="one JSON object per item"),
        "text/csv": Schema(type=OpenAPIType.STRING, description="a header, then one row per item"),
    }
)


class BatchesController(KeyController):
    """Hundreds of documents at once; each item is its own job, spread over every worker."""

    path = "/api/batches"
    tags = ("Batches",)

    @post("/", status_code=202, responses=BATCH_ERRORS, operation_class=BatchOperation)
    async def create(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Response[BatchCreated]:
        """Queue a batch: multipart with repeated `files` fields, or JSON with `items`
        (`[{"image_url": ...} | {"image_base64": ..., "filename": ...}]`), plus `document_type_code`
        and the same optional fields as `POST /api/convert-async`."""
        submission = await read_batch(request, lector.settings)
        batch, _ = await submit_batch(submission, lector.intake, lector.here, caller)
        url = url_for(request, STATUS_ROUTE, batch_id=batch.batch_id)
        body = BatchCreated(
            batch_id=batch.batch_id, status_url=url, total=len(batch.items), status=Status.ENQUEUED
        )
        return Response(body, status_code=202, headers={"Location": url})

    @get("/{batch_id:str}", name=STATUS_ROUTE, responses=FOUND_ERRORS)
    async def status(
        self, request: Request[Any, Any, Any], lector: NamedDependency[Lector], batch_id: FromPath[str]
    ) -> BatchStatus:
        """The batch's status (ENQUEUED, PROCESSING, SUCCESS, PARTIAL, FAILED), counts and items."""
        batch = await _owned_batch(request, lector.intake, batch_id)
        webhook = await anyio.to_thread.run_sync(lector.intake.webhook_state, batch_id)
        with storage_errors():
            return await anyio.to_thread.run_sync(summarize, batch, lector.intake.jobs, webhook)

    @get("/{batch_id:str}/results", responses=FOUND_ERRORS, operation_class=ResultsOperation)
    async def results(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        batch_id: FromPath[str],
        format: Annotated[ResultFormat, Parameter(description="jsonl (nested) or csv (flat)")] = "jsonl",
    ) -> Stream:
        """One record per item, in input order, streamed: JSONL with nested fields, or CSV."""
        batch = await _owned_batch(request, lector.intake, batch_id)
        schema = get_document_type(batch.document_type_code).schema
        records = result_records(batch, lector.intake.jobs)
        if format == "csv":
            lines, media_type = csv_lines(records, result_columns(schema)), "text/csv; charset=utf-8"
        else:
            lines, media_type = jsonl_lines(records, typed=schema is not None), "application/x-ndjson"
        disposition = f'attachment; filename="batch-{batch.batch_id}.{format}"'
        return Stream(lines, media_type=media_type, headers={"Content-Disposition": disposition})


async def _owned_batch(request: Request[Any, Any, Any], intake: Intake, batch_id: str) -> Batch:
    with storage_errors():
        batch = await anyio.to_thread.run_sync(intake.batches.get, batch_id)
    if batch is None or batch.owner != request.state.caller.owner:
        raise NotFound(f"No batch {batch_id[:64]!r} for this API key (it may have expired).")
    return batch
