"""The RQ job: read the stored document, extract it, record the result; and its failure callback.

Failures: bad input ends the job at once as FAILED with its sentence, and its stored document
is deleted (nobody will read it again). Anything else (an engine crash, a worker killed
mid-job) is retried by RQ up to ``MAX_RETRIES`` times; the failure callback puts the record
back to ENQUEUED while a retry is coming, and to FAILED when none is.

The worker hands this module its settings and engines once, at start-up (``configure``);
a forked work horse inherits them. A task returns what it did as plain data
(``service.metrics.JobSummary``); the worker that forked it counts that in its metrics.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import anyio
import msgspec
from redis import Redis
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from service.blobs import blob_store
from service.doctypes import Kinds
from service.downloads import fetch_document
from service.engines import Engines
from service.errors import InputError, LectorError, LlmCredentialsRejected, TooLarge, UrlError
from service.jobs import passwords, rollups, webhooks
from service.jobs.batches import BatchStore, summarize
from service.jobs.record import (
    Conversion,
    StoredFile,
    conversion_status,
    extraction_result,
    identification_result,
    now_iso,
)
from service.jobs.store import JobStore
from service.logging import get_logger
from service.metrics import JobSummary, summarize_extraction
from service.models import Status
from service.options import Options
from service.settings import Settings, load_settings
from service.tenants.billing import Tenancy
from service.tenants.types import OwnTypes

log = get_logger("lector.jobs")
#: The failures that end a job at once: retrying would not help.
ENDING = (InputError, TooLarge, LlmCredentialsRejected)

_engines: Engines | None = None


def configure(engines: Engines) -> None:
    """Give the tasks of this process their engines (and, through them, the settings)."""
    global _engines
    _engines = engines


def _runtime() -> Engines:
    global _engines
    if _engines is None:  # a plain `rq worker` rather than `lector worker`: read the environment
        from service.startup import prepare_process

        _engines = prepare_process(load_settings())
    return _engines


def runtime_settings() -> Settings:
    """This worker process's settings."""
    return _runtime().settings


def run_conversion(conversion_id: str) -> dict[str, Any] | None:
    """The RQ job: read the stored document, extract it, record the result; returns what it
    did, for the worker's metrics (None when the conversion expired before it ran)."""
    # The core is loaded here, in the worker, not when the API imports the job layer.
    from service.extract import extract

    engines = _runtime()
    settings = engines.settings
    job = get_current_job()
    assert job is not None, "run_conversion runs inside an RQ job"
    redis = job.connection
    store = JobStore(redis, settings.result_ttl_s)
    record = store.get(conversion_id)
    if record is None:
        log.warning("conversion expired before it ran", conversion_id=conversion_id)
        return None
    store.update(conversion_id, status=Status.PROCESSING, started_at=now_iso(), progress=0.0, error=None)
    try:
        data = _document_of(record, redis, settings)
    except (UrlError, TooLarge) as exc:
        return _fail(store, record, redis, settings, exc.message)
    if data is None:
        message = "The stored document expired before a worker could read it."
        return _fail(store, record, redis, settings, message, bad_input=False)
    options = msgspec.structs.replace(
        record.options, password=passwords.read(redis, conversion_id, settings.secret)
    )

    def on_progress(done: int, total: int) -> None:
        store.update(conversion_id, progress=round(done / total, 4))

    try:
        if record.target is not None:
            return _convert_file(record, data, options, engines, redis, store)
        kinds = OwnTypes(redis).registry(record.owner)
        if record.identify:
            return _identify(record, data, options, engines, redis, store, kinds)
        extraction = extract(data, options, engines, on_progress=on_progress, types=record.types, kinds=kinds)
    except ENDING as exc:  # retrying would not help
        bad_input = not isinstance(exc, LlmCredentialsRejected)
        return _fail(store, record, redis, settings, exc.message, bad_input=bad_input)
    result = extraction_result(extraction)
    passwords.forget(redis, conversion_id)
    Tenancy(redis, settings).book(record.owner, extraction)
    store.update(
        conversion_id,
        status=Status.SUCCESS,
        progress=1.0,
        completed_at=now_iso(),
        data=result,
        tokens_used=extraction.tokens.total,
    )
    log.info("conversion done", conversion_id=conversion_id, pages=len(extraction.pages))
    announce_end(conversion_id, redis, settings)
    return summarize_extraction(extraction).as_data()


def _convert_file(
    record: Conversion, data: bytes, options: Options, engines: Engines, redis: Redis, store: JobStore
) -> dict[str, Any]:
    """A file conversion: convert, keep the file in the blob store, record where it is."""
    from service.convert.run import convert

    settings = engines.settings
    assert record.target is not None
    with rollups.counted(redis, data, record.target.target_format, ends=ENDING):
        output, extraction = convert(
            data,
            options,
            record.target,
            engines,
            filename=record.filename,
            max_pages=settings.max_pages,
            dpi=settings.ocr_dpi,
            types=record.types,
        )
    blob_id = blob_store(redis, settings.blob_dir).put(output.content, settings.result_ttl_s)
    stored = StoredFile(
        name=output.name, media_type=output.media_type, size=len(output.content), blob_id=blob_id
    )
    passwords.forget(redis, record.conversion_id)
    if extraction is not None:
        Tenancy(redis, settings).book(record.owner, extraction)
    store.update(
        record.conversion_id,
        status=Status.SUCCESS,
        progress=1.0,
        completed_at=now_iso(),
        output=stored,
        tokens_used=extraction.tokens.total if extraction is not None else 0,
    )
    log.info("file conversion done", conversion_id=record.conversion_id, target=record.target.target_format)
    announce_end(record.conversion_id, redis, settings)
    if extraction is None:  # an image conversion: no OCR
        return JobSummary(status=Status.SUCCESS).as_data()
    return summarize_extraction(extraction).as_data()


def _identify(
    record: Conversion,
    data: bytes,
    options: Options,
    engines: Engines,
    redis: Redis,
    store: JobStore,
    kinds: Kinds,
) -> dict[str, Any]:
    """An identification: which of the record's types the document is."""
    from service.extract import identify_document

    settings = engines.settings
    identification = identify_document(data, options, engines, types=record.types, kinds=kinds)
    passwords.forget(redis, record.conversion_id)
    Tenancy(redis, settings).book(record.owner, identification.reading)
    store.update(
        record.conversion_id,
        status=Status.SUCCESS,
        progress=1.0,
        completed_at=now_iso(),
        data=identification_result(identification, kinds),
        tokens_used=identification.reading.tokens.total,
    )
    log.info("identification done", conversion_id=record.conversion_id)
    announce_end(record.conversion_id, redis, settings)
    return summarize_extraction(identification.reading).as_data()


def _document_of(record: Conversion, redis: Redis, settings: Settings) -> bytes | None:
    """The document's bytes: from the blob store, or fetched from its URL (batch items)."""
    if record.source_url:
        return anyio.run(fetch_document, record.source_url, settings)
    return blob_store(redis, settings.blob_dir).get(record.blob_id) if record.blob_id else None


def _fail(
    store: JobStore,
    record: Conversion,
    redis: Redis,
    settings: Settings,
    message: str,
    *,
    bad_input: bool = True,
) -> dict[str, Any]:
    """End the conversion as FAILED, and book it; a document refused as bad input is deleted
    at once, any other is refunded. Returns the job's summary."""
    passwords.forget(redis, record.conversion_id)
    Tenancy(redis, settings).failed(record.owner, record.conversion_id, record.charged, refund=not bad_input)
    if bad_input and record.blob_id:
        blob_store(redis, settings.blob_dir).delete(record.blob_id)
    store.update(
        record.conversion_id, status=Status.FAILED, completed_at=now_iso(), error={"message": message}
    )
    log.info("conversion failed", conversion_id=record.conversion_id, reason=message)
    announce_end(record.conversion_id, redis, settings)
    return JobSummary(status=Status.FAILED).as_data()


def on_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    _tb: TracebackType | None,
) -> None:
    """RQ failure callback: back to ENQUEUED while a retry is coming, FAILED when none is."""
    settings = _runtime().settings
    store = JobStore(connection, settings.result_ttl_s)
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
    passwords.forget(connection, job.id)
    record = store.get(job.id)
    if record is not None:  # a failure on our side, after every retry: the owner gets the document back
        Tenancy(connection, settings).failed(record.owner, job.id, record.charged, refund=True)
    store.update(job.id, status=Status.FAILED, completed_at=now_iso(), error={"message": message})
    announce_end(job.id, connection, settings)


def announce_end(conversion_id: str, redis: Redis, settings: Settings) -> None:
    """Queue the webhooks a conversion's end calls for: its own, and its batch's when it was
    the batch's last item. A Redis error is logged, not raised: the conversion has ended and
    been booked, and a retry would run and book it again."""
    try:
        _announce_end(conversion_id, redis, settings)
    except RedisError as exc:
        log.error("webhook not announced", conversion_id=conversion_id, error=type(exc).__name__)


def _announce_end(conversion_id: str, redis: Redis, settings: Settings) -> None:
    store = JobStore(redis, settings.result_ttl_s)
    record = store.get(conversion_id)
    if record is None:
        return
    if record.callback_url:
        succeeded = record.status is Status.SUCCESS
        webhooks.announce(
            redis,
            settings,
            owner=record.owner,
            url=record.callback_url,
            subject=conversion_id,
            event="conversion.succeeded" if succeeded else "conversion.failed",
            data=msgspec.to_builtins(conversion_status(record)),
        )
    batches = BatchStore(redis, settings.result_ttl_s)
    if record.batch_id and batches.item_ended(record.batch_id):
        batch = batches.get(record.batch_id)
        if batch is not None and batch.callback_url:
            webhooks.announce(
                redis,
                settings,
                owner=batch.owner,
                url=batch.callback_url,
                subject=batch.batch_id,
                event="batch.completed",
                data=msgspec.to_builtins(summarize(batch, store)),
            )
