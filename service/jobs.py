"""Asynchronous conversions: their records in Redis, how they are queued, and the RQ job.

A conversion's record is a Redis hash ``lector:conversion:<id>`` (one JSON value per field,
so the worker can update progress without rewriting the rest). The RQ job carries only the
conversion id and is enqueued by dotted path, so the API never imports an engine; the
document waits in the blob store.

Failures: bad input ends the job at once as FAILED with its sentence. Anything else (an
engine crash, a worker killed mid-job) is retried by RQ up to ``MAX_RETRIES`` times; the
failure callback puts the record back to ENQUEUED while a retry is coming, and to FAILED
when none is.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import anyio
import msgspec
from redis import Redis
from rq import Callback, Queue, Retry, get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from service.blobs import BlobStore, blob_store
from service.downloads import fetch_document
from service.errors import (
    IdempotencyConflict,
    InputError,
    LectorError,
    LlmCredentialsRejected,
    TooLarge,
    UrlError,
)
from service.logging import get_logger
from service.models import SubmitOptions
from service.pages import open_document
from service.settings import Settings, get_settings

QUEUE_NAME = "lector"
#: Retries run at once: a delayed one would wait for RQ's scheduler, whose lock a dead worker
#: may still hold for a minute. Engines back off on their own (per call) where it helps.
MAX_RETRIES = 2
#: Seconds a job may run: a base plus a share per page.
JOB_BASE_TIMEOUT_S = 120
JOB_PAGE_TIMEOUT_S = 60
#: The page count a job timeout assumes for a document not fetched yet.
MAX_URL_PAGES_ESTIMATE = 50

_KEY = "lector:conversion:"
_IDEMPOTENCY_KEY = "lector:idempotency:"

log = get_logger("lector.jobs")


class Status(StrEnum):
    """Where a conversion stands."""

    ENQUEUED = "ENQUEUED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        """True once the conversion will not change again."""
        return self in (Status.SUCCESS, Status.FAILED)


class Conversion(msgspec.Struct, kw_only=True):
    """The stored record of one asynchronous conversion."""

    conversion_id: str
    owner: str
    document_type_code: str
    status: Status = Status.ENQUEUED
    progress: float = 0.0
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    filename: str | None = None
    blob_id: str | None = None
    source_url: str | None = None
    options: SubmitOptions
    tokens_used: int = 0
    data: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def now_iso() -> str:
    """The current time in ISO 8601, UTC."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A random, unguessable job id."""
    return secrets.token_hex(16)


class JobStore:
    """Conversion records in Redis, each expiring ``ttl_s`` after its last update."""

    def __init__(self, redis: Redis, ttl_s: int) -> None:
        self._redis = redis
        self._ttl_s = ttl_s

    def create(self, record: Conversion) -> None:
        """Store a new record."""
        fields = {name: msgspec.json.encode(value) for name, value in msgspec.structs.asdict(record).items()}
        with self._redis.pipeline() as pipe:
            pipe.hset(_KEY + record.conversion_id, mapping=fields)
            pipe.expire(_KEY + record.conversion_id, self._ttl_s)
            pipe.execute()

    def update(self, conversion_id: str, **fields: Any) -> None:
        """Change some fields of an existing record, and restart its time to live."""
        key = _KEY + conversion_id
        encoded = {name: msgspec.json.encode(value) for name, value in fields.items()}
        with self._redis.pipeline() as pipe:
            pipe.exists(key)
            pipe.hset(key, mapping=encoded)
            pipe.expire(key, self._ttl_s)
            existed, *_ = pipe.execute()
        if not existed:  # expired meanwhile: don't leave a fragment behind
            self._redis.delete(key)

    def get(self, conversion_id: str) -> Conversion | None:
        """The record, or None when it does not exist (or expired)."""
        return self.get_many([conversion_id])[0]

    def get_many(self, conversion_ids: list[str]) -> list[Conversion | None]:
        """Several records in one round trip, in order."""
        with self._redis.pipeline() as pipe:
            for conversion_id in conversion_ids:
                pipe.hgetall(_KEY + conversion_id)
            raw = pipe.execute()
        return [_decode(fields) for fields in raw]

    def summaries(self, conversion_ids: list[str]) -> list[dict[str, Any] | None]:
        """Status, progress, error and tokens of several records, without their results."""
        names = ("status", "progress", "error", "tokens_used")
        with self._redis.pipeline() as pipe:
            for conversion_id in conversion_ids:
                pipe.hmget(_KEY + conversion_id, names)
            raw = pipe.execute()
        return [_decode_fields(names, values) for values in raw]


def _decode_fields(names: tuple[str, ...], values: list[bytes | None]) -> dict[str, Any] | None:
    if values[0] is None:  # no status: no record
        return None
    return {
        name: msgspec.json.decode(value) if value else None for name, value in zip(names, values, strict=True)
    }


def _decode(fields: dict[bytes, bytes]) -> Conversion | None:
    if not fields:
        return None
    values = {name.decode(): msgspec.json.decode(value) for name, value in fields.items()}
    try:
        return msgspec.convert(values, Conversion)
    except msgspec.ValidationError:
        return None


def job_timeout(page_count: int) -> int:
    """How long a job over ``page_count`` pages may run."""
    return JOB_BASE_TIMEOUT_S + JOB_PAGE_TIMEOUT_S * max(page_count, 1)


def enqueue(queue: Queue, conversion_id: str, page_count: int, ttl_s: int) -> Job:
    """Queue the conversion by dotted path, with its timeout and retry policy."""
    return queue.enqueue_call(
        "service.jobs.run_conversion",
        args=(conversion_id,),
        job_id=conversion_id,
        timeout=job_timeout(page_count),
        result_ttl=600,
        failure_ttl=ttl_s,
        retry=Retry(max=MAX_RETRIES),
        on_failure=Callback("service.jobs.on_failure"),
    )


def estimate_pages(document: bytes) -> int:
    """The document's page count when it opens, else 1 (the worker will report what is wrong)."""
    try:
        with open_document(document) as opened:
            return opened.page_count
    except LectorError:
        return 1


def submit(
    redis: Redis,
    blobs: BlobStore,
    *,
    conversion_id: str,
    owner: str,
    document_type_code: str,
    options: SubmitOptions,
    ttl_s: int,
    document: bytes | None = None,
    source_url: str | None = None,
    filename: str | None = None,
) -> Conversion:
    """Store the document (or the URL a worker will fetch) and the record, and queue the job."""
    record = Conversion(
        conversion_id=conversion_id,
        owner=owner,
        document_type_code=document_type_code,
        created_at=now_iso(),
        filename=filename,
        blob_id=blobs.put(document, ttl_s) if document is not None else None,
        source_url=source_url,
        options=options,
    )
    JobStore(redis, ttl_s).create(record)
    # A URL's page count is unknown until fetched: give it the largest allowance.
    pages = estimate_pages(document) if document is not None else MAX_URL_PAGES_ESTIMATE
    enqueue(Queue(QUEUE_NAME, connection=redis), conversion_id, pages, ttl_s)
    return record


def claim_idempotency(
    redis: Redis, owner: str, key: str, fingerprint: str, conversion_id: str, ttl_s: int
) -> str:
    """The conversion id for this Idempotency-Key: ``conversion_id`` when the key is new,
    the earlier one when the same request was made before.

    Raises IdempotencyConflict when the key was used with a different request.
    """
    redis_key = _IDEMPOTENCY_KEY + owner + ":" + hashlib.sha256(key.encode()).hexdigest()
    claim = msgspec.json.encode({"fingerprint": fingerprint, "conversion_id": conversion_id})
    if redis.set(redis_key, claim, nx=True, ex=ttl_s):
        return conversion_id
    earlier = msgspec.json.decode(redis.get(redis_key) or b"null")
    if earlier is None:  # expired between the two calls: the key is free again
        redis.set(redis_key, claim, ex=ttl_s)
        return conversion_id
    if earlier["fingerprint"] != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was already used with a different request.")
    return earlier["conversion_id"]


def release_idempotency(redis: Redis, owner: str, key: str) -> None:
    """Forget a claim whose request failed before anything was queued."""
    redis.delete(_IDEMPOTENCY_KEY + owner + ":" + hashlib.sha256(key.encode()).hexdigest())


def run_conversion(conversion_id: str) -> None:
    """The RQ job: read the stored document, extract it, record the result."""
    # The core is loaded here, in the worker, not when the API imports this module.
    from service.extract import extract, options_for

    settings = get_settings()
    redis = get_current_job().connection
    store = JobStore(redis, settings.result_ttl_s)
    record = store.get(conversion_id)
    if record is None:
        log.warning("conversion expired before it ran", conversion_id=conversion_id)
        return
    store.update(conversion_id, status=Status.PROCESSING, started_at=now_iso(), progress=0.0, error=None)
    try:
        data = _document_of(record, redis, settings)
    except (UrlError, TooLarge) as exc:
        _fail(store, conversion_id, exc.message)
        return
    if data is None:
        _fail(store, conversion_id, "The stored document expired before a worker could read it.")
        return
    extract_options = options_for(record.options, dpi=settings.ocr_dpi, max_pages=settings.max_pages)

    def on_progress(done: int, total: int) -> None:
        store.update(conversion_id, progress=round(done / total, 4))

    try:
        extraction = extract(data, extract_options, on_progress=on_progress)
    except (InputError, TooLarge, LlmCredentialsRejected) as exc:  # retrying would not help
        _fail(store, conversion_id, exc.message)
        return
    result = {
        "document_type_code": record.document_type_code,
        "text": extraction.text,
        "fields": extraction.fields,
        "field_confidence": extraction.field_confidence,
        "pages": msgspec.to_builtins(extraction.pages),
        "tokens": msgspec.to_builtins(extraction.tokens),
        "tokens_used": extraction.tokens.total,
        "engine": extraction.engine,
        "model": extraction.model,
        "llm_calls": extraction.llm_calls,
        "processing_time_ms": round(extraction.processing_time * 1000),
    }
    store.update(
        conversion_id,
        status=Status.SUCCESS,
        progress=1.0,
        completed_at=now_iso(),
        data=result,
        tokens_used=extraction.tokens.total,
    )
    log.info("conversion done", conversion_id=conversion_id, pages=len(extraction.pages))


def _document_of(record: Conversion, redis: Redis, settings: Settings) -> bytes | None:
    """The document's bytes: from the blob store, or fetched from its URL (batch items)."""
    if record.source_url:
        return anyio.run(fetch_document, record.source_url, settings)
    return blob_store(redis, settings.blob_dir).get(record.blob_id) if record.blob_id else None


def _fail(store: JobStore, conversion_id: str, message: str) -> None:
    store.update(conversion_id, status=Status.FAILED, completed_at=now_iso(), error={"message": message})
    log.info("conversion failed", conversion_id=conversion_id, reason=message)


def on_failure(
    job: Job, connection: Redis, exc_type: type | None, exc_value: BaseException | None, _tb
) -> None:
    """RQ failure callback: back to ENQUEUED while a retry is coming, FAILED when none is."""
    store = JobStore(connection, get_settings().result_ttl_s)
    kind = exc_type.__name__ if exc_type else "unknown"
    if job.retries_left:
        log.warning(
            "conversion will be retried", conversion_id=job.id, error=kind, retries_left=job.retries_left
        )
        store.update(job.id, status=Status.ENQUEUED, progress=0.0)
        return
    if isinstance(exc_value, LectorError):
        message = exc_value.message
    elif isinstance(exc_value, AbandonedJobError):
        message = "The worker processing the document stopped, and the retries were used up."
    else:
        message = "Internal error while processing the document."
    log.error("conversion failed for good", conversion_id=job.id, error=kind)
    _fail(store, job.id, message)
