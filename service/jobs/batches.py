"""Batches: many documents of one type, each its own conversion job, summarized together.

A batch record (``lector:batch:<id>``) lists its items in input order; the items' own
records say how each is doing. The summary and the results file are computed from them on
request, so nothing has to be kept in step.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import msgspec
from redis import Redis

from service.errors import JobStoreError
from service.jobs.record import new_id, now_iso
from service.jobs.store import JobStore
from service.logging import get_logger
from service.models import BatchItemStatus, BatchStatus, Status, WebhookState

log = get_logger("lector.jobs")

_KEY = "lector:batch:"
_LEFT = "lector:batch-left:"  # items not ended yet
#: Items read from Redis per round trip when a large batch is summarized or exported.
CHUNK = 200
#: Columns every results row starts with.
BASE_COLUMNS = ("index", "filename", "status", "error", "tokens_used")


class BatchItem(msgspec.Struct):
    """One document of a batch."""

    index: int
    conversion_id: str
    filename: str | None = None


class Batch(msgspec.Struct, kw_only=True):
    """The stored record of a batch."""

    batch_id: str
    owner: str
    document_type_code: str
    created_at: str
    items: list[BatchItem]
    #: Where ``batch.completed`` is announced.
    callback_url: str | None = None


class BatchStore:
    """Batch records in Redis, expiring with their items."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    def create(
        self, owner: str, document_type_code: str, items: list[BatchItem], callback_url: str | None = None
    ) -> Batch:
        """Store a new batch of items about to be created, and its count of items left."""
        batch = Batch(
            batch_id=new_id(),
            owner=owner,
            document_type_code=document_type_code,
            created_at=now_iso(),
            items=items,
            callback_url=callback_url,
        )
        with self._redis.pipeline() as pipe:
            pipe.set(_KEY + batch.batch_id, msgspec.json.encode(batch), ex=self._ttl_s)
            pipe.set(_LEFT + batch.batch_id, len(items), ex=self._ttl_s)
            pipe.execute()
        return batch

    def item_ended(self, batch_id: str) -> bool:
        """Count one item of the batch as ended; True for the last one (once per batch)."""
        return int(self._redis.decr(_LEFT + batch_id)) == 0

    def get(self, batch_id: str) -> Batch | None:
        """The batch, or None. A record that does not decode is logged and refused, not hidden."""
        raw = self._redis.get(_KEY + batch_id)
        if not raw:
            return None
        try:
            return msgspec.json.decode(raw, type=Batch)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            log.error("batch record does not decode", batch_id=batch_id, reason=str(exc)[:200])
            raise JobStoreError(
                f"The record of batch {batch_id} is damaged and cannot be read; it was logged."
            ) from None


def summarize(batch: Batch, jobs: JobStore, webhook: WebhookState | None = None) -> BatchStatus:
    """The batch's status, counts, tokens and one line per item, from the items' records."""
    items, succeeded, failed, tokens, progress = [], 0, 0, 0, 0.0
    for start in range(0, len(batch.items), CHUNK):
        chunk = batch.items[start : start + CHUNK]
        for item, summary in zip(chunk, jobs.summaries([i.conversion_id for i in chunk]), strict=True):
            summary = summary or {
                "status": "FAILED",
                "progress": 0.0,
                "error": {"message": "The item expired."},
            }
            status = Status(summary["status"])
            succeeded += status is Status.SUCCESS
            failed += status is Status.FAILED
            tokens += summary.get("tokens_used") or 0
            progress += 1.0 if status.finished else float(summary.get("progress") or 0.0)
            items.append(
                BatchItemStatus(
                    index=item.index,
                    conversion_id=item.conversion_id,
                    filename=item.filename,
                    status=status,
                    error=summary.get("error") if status is Status.FAILED else None,
                )
            )
    total = len(batch.items)
    return BatchStatus(
        batch_id=batch.batch_id,
        status=batch_status(total, succeeded, failed, any(i.status is not Status.ENQUEUED for i in items)),
        progress=round(progress / total, 4) if total else 1.0,
        total=total,
        succeeded=succeeded,
        failed=failed,
        tokens_used=tokens,
        items=items,
        webhook=webhook,
    )


def batch_status(total: int, succeeded: int, failed: int, started: bool) -> Status:
    """ENQUEUED until an item starts; SUCCESS, PARTIAL or FAILED once every item is done."""
    if succeeded + failed < total:
        return Status.PROCESSING if started else Status.ENQUEUED
    if failed == 0:
        return Status.SUCCESS
    return Status.FAILED if succeeded == 0 else Status.PARTIAL


def result_columns(schema: dict[str, Any] | None) -> list[str]:
    """CSV columns: the base ones, then ``text`` or one per top-level field of the schema."""
    fields = list((schema or {}).get("properties", {})) if schema else ["text"]
    return [*BASE_COLUMNS, *fields]


def result_records(batch: Batch, jobs: JobStore) -> Iterator[dict[str, Any]]:
    """One record per item, in input order, read from Redis a chunk at a time."""
    for start in range(0, len(batch.items), CHUNK):
        chunk = batch.items[start : start + CHUNK]
        for item, record in zip(chunk, jobs.get_many([i.conversion_id for i in chunk]), strict=True):
            data = record.data if record is not None and record.status is Status.SUCCESS else None
            status = record.status if record is not None else Status.FAILED
            error = (
                (record.error if record is not None else {"message": "The item expired."})
                if not data
                else None
            )
            yield {
                "index": item.index,
                "filename": item.filename,
                "status": status,
                "error": (error or {}).get("message") if status is Status.FAILED else None,
                "tokens_used": record.tokens_used if record is not None else 0,
                "fields": data.get("fields") if data else None,
                "field_confidence": data.get("field_confidence") if data else None,
                "field_evidence": data.get("field_evidence") if data else None,
                "checks": data.get("checks") if data else None,
                "text": data.get("text") if data else None,
            }


def jsonl_lines(records: Iterator[dict[str, Any]], typed: bool) -> Iterator[bytes]:
    """Each record as one JSON line (``text`` only for the ``text`` type)."""
    for record in records:
        if typed:
            record.pop("text")
        yield msgspec.json.encode(record) + b"\n"


#: A cell starting with one of these is a formula to a spreadsheet (OWASP: CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell a spreadsheet shows and never evaluates.

    Text that a spreadsheet would take for a formula gets a leading apostrophe, as OWASP
    advises; numbers stay numbers (a negative amount is not text).
    """
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(records: Iterator[dict[str, Any]], columns: list[str]) -> Iterator[bytes]:
    """A header, then one row per record; nested values JSON-encoded in their cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    yield buffer.getvalue().encode()
    for record in records:
        fields = record.get("fields") or {}
        row = []
        for column in columns:
            value = record.get(column) if column in BASE_COLUMNS or column == "text" else fields.get(column)
            row.append(msgspec.json.encode(value).decode() if isinstance(value, (dict, list)) else value)
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(value) for value in row])
        yield buffer.getvalue().encode()
