"""The lifecycle on a worker: the RQ job that runs a queued piece of work, and its failure callback.

The job reads the stored document, runs the same steps as work done here and now
(``service.lifecycle.steps``), keeps the result in the record (a converted file, or a large
result, in the store), and announces the end. The document is deleted from the store when
the job ends, successful or failed for good: nobody will read it again. Then too a media job
frees the concurrency slot its submission took, before its record says it ended (a client
that sees the end may submit the next at once).

Failures: bad input ends the job at once as FAILED with its sentence. Anything else (an
engine crash, a worker killed mid-job) is retried by RQ up to ``service.jobs.queue.MAX_RETRIES``
times; the failure callback puts the record back to ENQUEUED while a retry is coming, and to
FAILED when none is.

A task returns what it did as plain data (``service.metrics.JobSummary``); the worker that
runs it counts that in its metrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import anyio
import msgspec
from redis import Redis
from redis.exceptions import RedisError
from rq import get_current_job
from rq.exceptions import AbandonedJobError
from rq.job import Job

from service.downloads import fetch_document
from service.errors import (
    ContextExceeded,
    InputError,
    LectorError,
    LlmCredentialsRejected,
    ModelRefused,
    ModelReplyCut,
    ModelServerError,
    StoreUnavailable,
    TooLarge,
    UrlError,
)
from service.jobs import passwords, runtime, webhooks
from service.jobs.batches import BatchStore, summarize
from service.jobs.links import Links
from service.jobs.record import Conversion, StoredFile, conversion_status, now_iso
from service.jobs.routing import media_kind
from service.jobs.store import JobStore
from service.lifecycle.steps import Here, book, counted
from service.logging import get_logger
from service.metrics import JobSummary
from service.models import Status
from service.pages import Source, sniff
from service.perform import Outcome, perform
from service.settings import Settings
from service.storage import Space, Storage, new_key
from service.tenants.billing import Tenancy
from service.tenants.types import OwnTypes

log = get_logger("lector.jobs")
#: The failures that end a job at once: retrying would not help. A model server that cannot
#: be reached, is too slow or fails on its own (ModelServerError) is retried by RQ: the
#: client has already backed off between its own attempts at each call.
ENDING = (InputError, TooLarge, LlmCredentialsRejected, ModelRefused, ModelReplyCut, ContextExceeded)
#: The ending failures that are the model server's, not the document's: the key is refunded.
SERVERS = (LlmCredentialsRejected, ModelServerError)


def run_conversion(conversion_id: str) -> dict[str, Any] | None:
    """The RQ job: read the stored document, run its work, keep the result; returns what it
    did, for the worker's metrics (None when the record expired before it ran)."""
    engines = runtime.engines()
    settings = engines.settings
    job = get_current_job()
    assert job is not None, "run_conversion runs inside an RQ job"
    redis = job.connection
    here = Here(settings, engines, Tenancy(redis, settings), redis, runtime.storage())
    store = JobStore(redis, settings.result_ttl_s, here.storage)
    record = store.get(conversion_id)
    if record is None:
        log.warning("conversion expired before it ran", conversion_id=conversion_id)
        return None
    store.update(conversion_id, status=Status.PROCESSING, started_at=now_iso(), progress=0.0, error=None)
    try:
        with _document_of(record, here) as data:
            if data is None:
                message = "The stored document expired before a worker could read it."
                return _fail(here, store, record, message, bad_input=False)
            return _run(record, data, here, store)
    except (UrlError, TooLarge) as exc:  # fetching the URL failed
        return _fail(here, store, record, exc.message)


def _run(record: Conversion, data: Source, here: Here, store: JobStore) -> dict[str, Any]:
    """Run the record's work on its document, and keep what it made (or its failure)."""
    settings, redis, conversion_id = here.settings, here.redis, record.conversion_id
    options = msgspec.structs.replace(
        record.options, password=passwords.read(redis, conversion_id, settings.secret)
    )

    def on_progress(done: int, total: int) -> None:
        store.update(conversion_id, progress=round(done / total, 4))

    try:
        sniffed = record.sniffed or sniff(data)  # a URL's document is first seen here
        with counted(redis, record.work, sniffed, ends=ENDING):
            outcome = perform(
                record.work,
                data,
                options,
                here.engines,
                max_pages=settings.max_pages,
                types=record.types,
                kinds=OwnTypes(redis).registry(record.owner),
                filename=record.filename,
                on_progress=on_progress,
                sniffed=sniffed,
            )
    except ENDING as exc:  # retrying would not help
        bad_input = not isinstance(exc, SERVERS)
        return _fail(here, store, record, exc.message, bad_input=bad_input)
    return _succeed(record, outcome, here, store).as_data()


def _succeed(record: Conversion, outcome: Outcome, here: Here, store: JobStore) -> JobSummary:
    """Keep what the work produced (a converted file in the store), book what it used, mark
    the record SUCCESS, delete the document and announce the end."""
    settings, redis = here.settings, here.redis
    stored = None
    if outcome.output is not None:
        output = outcome.output
        stored = StoredFile(
            name=output.name, media_type=output.media_type, size=output.size, key=new_key(Space.FILES)
        )
        try:
            here.storage.put(stored.key, output.content)
        finally:
            output.discard()
    passwords.forget(redis, record.conversion_id)
    free_slot(here.tenancy, record)
    summary = book(here.tenancy, record.owner, outcome)
    kept = store.update(
        record.conversion_id,
        status=Status.SUCCESS,
        progress=1.0,
        completed_at=now_iso(),
        data=outcome.result,
        output=stored,
        document_key=None,
        tokens_used=outcome.reading.tokens.total if outcome.reading is not None else 0,
    )
    # The document is no longer needed; the file too when its record was deleted meanwhile.
    _forget_document(here.storage, record, *([] if kept or stored is None else [stored.key]))
    log.info("work done", conversion_id=record.conversion_id, kind=type(record.work).__name__)
    announce_end(record.conversion_id, redis, settings)
    return summary


@contextmanager
def _document_of(record: Conversion, here: Here) -> Iterator[Source | None]:
    """The document: its bytes fetched from its URL (batch items), or a private temporary
    file it is downloaded into from the store, piece by piece, removed afterwards (None: no
    longer in the store)."""
    if record.source_url:
        yield anyio.run(fetch_document, record.source_url, here.settings)
        return
    if record.document_key is None:
        yield None
        return
    with here.storage.local_copy(record.document_key) as copy:
        yield copy


def _forget_document(storage: Storage, record: Conversion, *also: str) -> None:
    """Delete the conversion's document (and ``also``) from the store; a store that fails now
    leaves them to the sweep (``service.retention``), not the job to a retry."""
    keys = [key for key in (record.document_key, *also) if key]
    try:
        storage.delete(*keys)
    except StoreUnavailable as exc:
        log.warning("document left to the sweep", conversion_id=record.conversion_id, error=exc.message)


def _fail(
    here: Here,
    store: JobStore,
    record: Conversion,
    message: str,
    *,
    bad_input: bool = True,
) -> dict[str, Any]:
    """End the conversion as FAILED, book it (a document refused as bad input is not
    refunded; any other is), delete its document, and return the job's summary."""
    redis, settings = here.redis, here.settings
    passwords.forget(redis, record.conversion_id)
    free_slot(here.tenancy, record)
    here.tenancy.failed(record.owner, record.conversion_id, record.charged, refund=not bad_input)
    store.update(
        record.conversion_id,
        status=Status.FAILED,
        completed_at=now_iso(),
        error={"message": message},
        document_key=None,
    )
    _forget_document(here.storage, record)
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
    settings = runtime.settings()
    store = JobStore(connection, settings.result_ttl_s, runtime.storage())
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
        tenancy = Tenancy(connection, settings)
        free_slot(tenancy, record)
        tenancy.failed(record.owner, job.id, record.charged, refund=True)
    store.update(
        job.id, status=Status.FAILED, completed_at=now_iso(), error={"message": message}, document_key=None
    )
    if record is not None:  # in the worker's main process when the job's runner died
        runtime.with_storage(lambda storage: _forget_document(storage, record))
    announce_end(job.id, connection, settings)


def free_slot(tenancy: Tenancy, record: Conversion) -> None:
    """Free the concurrency slot a media job's submission took for it (none for other work,
    and none for a URL's document, whose format was not known then)."""
    tenancy.ended(record.owner, media_kind(record.sniffed), record.conversion_id)


def announce_end(conversion_id: str, redis: Redis, settings: Settings) -> None:
    """Queue the webhooks a conversion's end calls for: its own, and its batch's when it was
    the batch's last item. A Redis error is logged, not raised: the conversion has ended and
    been booked, and a retry would run and book it again."""
    try:
        _announce_end(conversion_id, redis, settings)
    except RedisError as exc:
        log.error("webhook not announced", conversion_id=conversion_id, error=type(exc).__name__)


def _announce_end(conversion_id: str, redis: Redis, settings: Settings) -> None:
    store = JobStore(redis, settings.result_ttl_s, runtime.storage())
    record = store.get(conversion_id)
    if record is None:
        return
    if record.callback_url:
        succeeded = record.status is Status.SUCCESS
        # The addresses clients reach, when LECTOR_PUBLIC_URL says them; a worker knows no other.
        links = Links.public(settings)
        status = (
            conversion_status(record, links.file_info(record, settings), status_url=links.status_url(record))
            if links is not None
            else conversion_status(record)
        )
        webhooks.announce(
            redis,
            settings,
            owner=record.owner,
            url=record.callback_url,
            subject=conversion_id,
            event="conversion.succeeded" if succeeded else "conversion.failed",
            data=msgspec.to_builtins(status),
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
