"""Taking in work: a conversion or a batch becomes stored documents, records and queued jobs.

The API parses a request into a ``Submission`` (or a ``BatchSubmission``) and hands it here;
nothing here knows about HTTP. Storage failures (Redis down or full, the document store
failing) become StoreUnavailable (503, Retry-After), and a submission that fails half-way
leaves no record, document, password or idempotency claim behind.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import anyio
import msgspec
from redis import Redis
from redis.exceptions import RedisError

from service.doctypes import Kinds, check_document_type
from service.errors import InvalidOption, StoreUnavailable
from service.jobs import idempotency, passwords
from service.jobs.batches import Batch, BatchItem, BatchStore
from service.jobs.queue import (
    MAX_URL_PAGES_ESTIMATE,
    enqueue,
    job_timeout,
    media_job_timeout,
    selected_pages,
)
from service.jobs.record import Conversion, new_id, note_checked, now_iso
from service.jobs.routing import media_kind
from service.jobs.store import JobStore
from service.jobs.webhooks import WebhookConfig, check_url, state_of
from service.models import WebhookState
from service.options import Options
from service.pages import Source, size_of
from service.settings import Settings
from service.storage import Space, Storage, new_key
from service.work import Extract, Work


class Submission(msgspec.Struct):
    """One document to convert, with what the client asked for.

    ``fingerprint`` identifies the request for Idempotency-Key (options and document).
    """

    options: Options
    fingerprint: str = ""
    document: Source | None = None
    #: The document's format, sniffed from its bytes once (``service.pages.sniff``).
    sniffed: str | None = None
    url: str | None = None
    filename: str | None = None
    #: What to do with the document: extract, convert to another format, identify.
    work: Work = Extract()
    #: How many pages the work reads, counted when the submission was checked (None: not
    #: counted, as for a batch item or a document that does not open).
    page_count: int | None = None
    #: The document types the submitting key may use (None: every type), for ``auto``.
    types: list[str] | None = None
    #: Where to announce the end (else the key's default, if any).
    callback_url: str | None = None
    #: A dialect's note on the job, kept on its record (``Conversion.note``: bounded, never
    #: the document's content).
    note: dict[str, Any] | None = None


class BatchSubmission(msgspec.Struct):
    """A batch: shared options, then the items in input order."""

    options: Options
    items: list[Submission]
    callback_url: str | None = None


@contextmanager
def storage_errors() -> Iterator[None]:
    """Redis errors and a full disk as StoreUnavailable (503); the document store raises its
    own StoreUnavailable."""
    try:
        yield
    except (RedisError, OSError):
        raise StoreUnavailable() from None


class Intake:
    """Submits conversions and batches for one API process."""

    def __init__(self, redis: Redis, storage: Storage, settings: Settings) -> None:
        self._redis = redis
        self._storage = storage
        self._settings = settings
        self.jobs = JobStore(redis, settings.result_ttl_s, storage)
        self.batches = BatchStore(redis, settings.result_ttl_s)
        self.webhooks = WebhookConfig(redis)

    def webhook_state(self, subject: str) -> WebhookState | None:
        """How the callback of a conversion or a batch is being delivered, or None."""
        with storage_errors():
            return state_of(self._redis, subject)

    def callback_for(self, owner: str, asked: str | None) -> str | None:
        """The callback URL of a submission: the one asked, else the key's default; checked,
        and only when the key has a secret to sign with (InvalidOption otherwise)."""
        with storage_errors():
            url = asked or self.webhooks.default_url(owner)
            if url is None:
                return None
            if self.webhooks.secret(owner) is None:
                raise InvalidOption(
                    "callback_url needs a webhook secret to sign with: make one first with "
                    "POST /api/webhooks/secret."
                )
        return check_url(url, self._settings)

    async def submit(
        self,
        submission: Submission,
        owner: str,
        idempotency_key: str | None,
        *,
        charged: int = 0,
        kinds: Kinds | None = None,
        conversion_id: str | None = None,
    ) -> tuple[str, bool]:
        """Queue one conversion that cost its owner ``charged`` quota documents; returns its id
        and whether it is new (False: an earlier one, for a repeated Idempotency-Key). ``kinds``:
        where its type is looked up (the owner's types, where it may use its own).
        ``conversion_id``: the id reserved for it (an upload confirmed), else a new one. The
        document is at hand (``service.lifecycle.submit`` fetched a URL before the charge).
        """
        check_document_type(submission.options.document_type_code, kinds=kinds)
        passwords.check_keepable(submission.options.password, self._settings.secret)
        callback = await anyio.to_thread.run_sync(self.callback_for, owner, submission.callback_url)
        submission = msgspec.structs.replace(submission, callback_url=callback)
        conversion_id = conversion_id or new_id()
        if idempotency_key:
            claimed = await anyio.to_thread.run_sync(
                self._claim, owner, idempotency_key, submission.fingerprint, conversion_id
            )
            if claimed != conversion_id:
                return claimed, False
        try:
            await anyio.to_thread.run_sync(self.create, submission, owner, conversion_id, charged)
        except BaseException:
            if idempotency_key:
                await anyio.to_thread.run_sync(self._release, owner, idempotency_key)
            raise
        return conversion_id, True

    def submit_batch(
        self, batch: BatchSubmission, owner: str, *, charged_each: int = 0, ids: Sequence[str] = ()
    ) -> Batch:
        """Queue every item of a batch (each its own conversion, which cost its owner
        ``charged_each`` quota documents), then the batch record. ``ids``: the items'
        conversion ids, when they were chosen before (else new ones)."""
        # A batch's CSV has one type's columns.
        check_document_type(batch.options.document_type_code, auto=False)
        passwords.check_keepable(batch.options.password, self._settings.secret)
        callback = self.callback_for(owner, batch.callback_url)
        items = [
            BatchItem(index=index, conversion_id=ids[index] if ids else new_id(), filename=item.filename)
            for index, item in enumerate(batch.items)
        ]
        # The record (and its count of items left) first: an item may end before the last starts.
        with storage_errors():
            record = self.batches.create(owner, batch.options.document_type_code, items, callback)
        for item, submission in zip(items, batch.items, strict=True):
            one = msgspec.structs.replace(submission, options=batch.options)
            self.create(one, owner, item.conversion_id, charged_each, batch_id=record.batch_id)
        return record

    def create(
        self,
        submission: Submission,
        owner: str,
        conversion_id: str,
        charged: int = 0,
        *,
        batch_id: str | None = None,
    ) -> Conversion:
        """Store the document (or the URL a worker will fetch), the record and the password,
        then queue the job. Undoes what it stored when a step fails."""
        options = submission.options
        ttl_s = self._settings.result_ttl_s
        record = Conversion(
            conversion_id=conversion_id,
            owner=owner,
            document_type_code=options.document_type_code,
            created_at=now_iso(),
            filename=submission.filename,
            size=size_of(submission.document) if submission.document is not None else None,
            sniffed=submission.sniffed,
            source_url=submission.url,
            options=msgspec.structs.replace(options, password=None),
            work=submission.work,
            charged=charged,
            types=submission.types,
            callback_url=submission.callback_url,
            batch_id=batch_id,
            note=note_checked(submission.note),
        )
        if media_kind(record.sniffed) is not None:
            timeout = media_job_timeout(self._settings.max_media_seconds)
        elif submission.page_count is not None:
            timeout = job_timeout(submission.page_count)
        elif submission.document is not None:
            pages = selected_pages(submission.document, options, self._settings.max_pages, record.sniffed)
            timeout = job_timeout(pages)
        else:  # unknown until fetched: the largest allowance
            timeout = job_timeout(MAX_URL_PAGES_ESTIMATE)
        try:
            with storage_errors():
                if submission.document is not None:
                    record.document_key = new_key(Space.DOCUMENTS)
                    self._storage.put(record.document_key, submission.document)
                if options.password:
                    passwords.keep(self._redis, conversion_id, options.password, ttl_s, self._settings.secret)
                self.jobs.create(record)
                enqueue(self._redis, conversion_id, timeout, ttl_s, sniffed=record.sniffed)
        except BaseException:
            self._undo(record)
            raise
        return record

    def _undo(self, record: Conversion) -> None:
        try:
            self._storage.delete(*record.stored_keys)
            passwords.forget(self._redis, record.conversion_id)
            self.jobs.delete(record.conversion_id)
        except (RedisError, OSError, StoreUnavailable):
            pass  # a store is down: Redis's keys expire, the workers sweep the store

    def _claim(self, owner: str, key: str, fingerprint: str, conversion_id: str) -> str:
        with storage_errors():
            return idempotency.claim(
                self._redis, owner, key, fingerprint, conversion_id, self._settings.result_ttl_s
            )

    def _release(self, owner: str, key: str) -> None:
        with suppress(RedisError):  # else the claim expires with its time to live
            idempotency.release(self._redis, owner, key)
