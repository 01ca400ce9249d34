"""Batches: many documents of one type in, one summary and one results file out."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.params import Parameter
from litestar.response import Stream
from redis import Redis

from service.api.auth import SECURITY, require_api_key
from service.api.bodies import BatchOperation
from service.api.responses import AUTH_ERRORS, error_spec
from service.api.submissions import read_batch
from service.batches import (
    Batch,
    BatchItem,
    BatchStore,
    csv_lines,
    jsonl_lines,
    result_columns,
    result_records,
    summarize,
)
from service.blobs import BlobStore
from service.doctypes import get_document_type
from service.errors import NotFound
from service.jobs import JobStore, new_id, submit
from service.models import BatchCreated, BatchStatus
from service.settings import Settings

BATCH_ERRORS = {
    **AUTH_ERRORS,
    413: error_spec("A document over LECTOR_MAX_UPLOAD_MB, or more items than LECTOR_MAX_BATCH_ITEMS"),
    415: error_spec("A Content-Type other than multipart/form-data or application/json"),
    422: error_spec("Validation error (a list of problems), or an unknown document type"),
}
FOUND_ERRORS = {**AUTH_ERRORS, 404: error_spec("No such batch for this API key, or it expired")}


class BatchesController(Controller):
    """Hundreds of documents at once; each item is its own job, spread over every worker."""

    path = "/api/batches"
    tags = ("Batches",)
    guards = (require_api_key,)
    security = SECURITY

    @post("/", status_code=202, responses=BATCH_ERRORS, operation_class=BatchOperation)
    async def create(self, request: Request, redis: Redis, blobs: BlobStore) -> Response[BatchCreated]:
        """Queue a batch: multipart with repeated `files` fields, or JSON with `items`
        (`[{"image_url": ...} | {"image_base64": ..., "filename": ...}]`), plus `document_type_code`
        and the same optional fields as `POST /api/convert-async`."""
        settings: Settings = request.app.state.settings
        submission = await read_batch(request, settings)
        get_document_type(submission.options.document_type_code)
        owner: str = request.state.client_id

        def queue_all() -> Batch:
            items = []
            for index, item in enumerate(submission.items):
                conversion_id = new_id()
                submit(
                    redis,
                    blobs,
                    conversion_id=conversion_id,
                    owner=owner,
                    document_type_code=submission.options.document_type_code,
                    options=submission.options,
                    ttl_s=settings.result_ttl_s,
                    document=item.document,
                    source_url=item.url,
                    filename=item.filename,
                )
                items.append(BatchItem(index=index, conversion_id=conversion_id, filename=item.filename))
            store = BatchStore(redis, settings.result_ttl_s)
            return store.create(owner, submission.options.document_type_code, items)

        batch = await anyio.to_thread.run_sync(queue_all)
        url = f"{str(request.base_url).rstrip('/')}/api/batches/{batch.batch_id}"
        body = BatchCreated(
            batch_id=batch.batch_id, status_url=url, total=len(batch.items), status="ENQUEUED"
        )
        return Response(body, status_code=202, headers={"Location": url})

    @get("/{batch_id:str}", responses=FOUND_ERRORS)
    async def status(self, request: Request, redis: Redis, batch_id: str) -> BatchStatus:
        """The batch's status (ENQUEUED, PROCESSING, SUCCESS, PARTIAL, FAILED), counts and items."""
        settings: Settings = request.app.state.settings
        batch = await _owned_batch(request, redis, batch_id)
        return await anyio.to_thread.run_sync(summarize, batch, JobStore(redis, settings.result_ttl_s))

    @get("/{batch_id:str}/results", responses=FOUND_ERRORS)
    async def results(
        self,
        request: Request,
        redis: Redis,
        batch_id: str,
        format: Annotated[
            Literal["jsonl", "csv"], Parameter(description="jsonl (nested) or csv (flat)")
        ] = "jsonl",
    ) -> Stream:
        """One record per item, in input order, streamed: JSONL with nested fields, or CSV."""
        settings: Settings = request.app.state.settings
        batch = await _owned_batch(request, redis, batch_id)
        schema = get_document_type(batch.document_type_code).schema
        records = result_records(batch, JobStore(redis, settings.result_ttl_s))
        if format == "csv":
            lines, media_type = csv_lines(records, result_columns(schema)), "text/csv; charset=utf-8"
        else:
            lines, media_type = jsonl_lines(records, typed=schema is not None), "application/x-ndjson"
        disposition = f'attachment; filename="batch-{batch_id}.{format}"'
        return Stream(lines, media_type=media_type, headers={"Content-Disposition": disposition})


async def _owned_batch(request: Request, redis: Redis, batch_id: str) -> Batch:
    settings: Settings = request.app.state.settings
    batch = await anyio.to_thread.run_sync(BatchStore(redis, settings.result_ttl_s).get, batch_id)
    if batch is None or batch.owner != request.state.client_id:
        raise NotFound(f"No batch {batch_id!r} for this API key (it may have expired).")
    return batch
