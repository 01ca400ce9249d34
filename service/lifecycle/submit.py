"""The lifecycle's first step for queued work: charge the key and take the work in (one
piece of work, or a batch of them)."""

from __future__ import annotations

from contextlib import suppress

import anyio
import msgspec

from service.convert.formats import Family, input_name
from service.convert.media import media_info
from service.convert.run import reads_text
from service.doctypes import Kinds
from service.engines import Engines
from service.errors import LectorError
from service.extract import check_options, first_page_only
from service.jobs.batches import Batch
from service.jobs.intake import BatchSubmission, Intake, Submission
from service.jobs.record import new_id
from service.lifecycle.charges import allowed_types, charged, media_slots
from service.lifecycle.steps import Here, pair_of, with_document
from service.pages import open_document, sniff
from service.perform import check_work
from service.tenants.billing import Charge
from service.tenants.store import Caller
from service.work import ConvertFile, Identify


async def submit(
    submission: Submission,
    intake: Intake,
    here: Here,
    caller: Caller,
    *,
    idempotency_key: str | None,
    kinds: Kinds | None = None,
    job_id: str | None = None,
) -> str:
    """Charge one document (and, for media, a concurrency slot its job holds until it ends)
    and queue ``submission`` (as ``job_id`` when one was reserved); its job id. A repeated
    Idempotency-Key answers the earlier job and is not charged again. ``kinds``: the
    caller's types, where it may use its own."""
    types = allowed_types(submission.types, caller, kinds)
    # Fetched and checked as the sync routes do, before the charge: what the worker would
    # refuse is refused now, and costs nothing.
    submission = await with_document(submission, here.settings)
    submission = msgspec.structs.replace(submission, types=types, sniffed=_sniffed(submission))
    page_count = await anyio.to_thread.run_sync(
        lambda: check_submission(submission, here.engines, kinds=kinds)
    )
    submission = msgspec.structs.replace(submission, page_count=page_count)
    pair = pair_of(submission.work, submission.sniffed) if submission.sniffed is not None else None
    tenancy = here.tenancy
    job_id = job_id or new_id()
    slots = media_slots([(job_id, submission.sniffed)], here.settings.result_ttl_s)
    async with charged(
        tenancy, here.engines, caller, submission.options, 1, pair=pair, kinds=kinds, slots=slots
    ) as charge:
        conversion_id, created = await intake.submit(
            submission,
            caller.owner,
            idempotency_key,
            charged=charge.units,
            kinds=kinds,
            conversion_id=job_id,
        )
    if not created:  # the first request paid
        await anyio.to_thread.run_sync(tenancy.release, charge)
    return conversion_id


async def submit_batch(
    batch: BatchSubmission, intake: Intake, here: Here, caller: Caller
) -> tuple[Batch, Charge]:
    """Charge one document per item (and a concurrency slot per media item) and queue every
    item of ``batch``; the batch record and the charge (whose ``quota_left`` some dialects
    answer). Items that are file conversions are charged as the first item's pair, whose
    scope every item's was checked against."""
    # The shared options, as each item's job would check them; each item's pages on its worker.
    await anyio.to_thread.run_sync(lambda: check_submission(Submission(options=batch.options), here.engines))
    # An item of no known format is not refused here: it fails on its own, as a batch's items do.
    items = [msgspec.structs.replace(item, sniffed=_known_format(item)) for item in batch.items]
    batch = msgspec.structs.replace(batch, items=items)
    first = items[0] if items else None
    pair = pair_of(first.work, first.sniffed) if first is not None and first.sniffed is not None else None
    cost = len(batch.items)
    ids = [new_id() for _ in items]
    slots = media_slots(zip(ids, (item.sniffed for item in items), strict=True), here.settings.result_ttl_s)
    async with charged(
        here.tenancy, here.engines, caller, batch.options, cost, pair=pair, slots=slots
    ) as charge:
        created = await anyio.to_thread.run_sync(
            lambda: intake.submit_batch(batch, caller.owner, charged_each=1 if charge.units else 0, ids=ids)
        )
    return created, charge


def _sniffed(submission: Submission) -> str | None:
    """The submission's format, sniffed now if nobody did (an unknown format is refused here,
    before anything is charged); None for a URL not fetched yet."""
    if submission.sniffed is not None or submission.document is None:
        return submission.sniffed
    return sniff(submission.document)


def _known_format(submission: Submission) -> str | None:
    """The submission's format, or None when it has none Lector reads (or no document yet)."""
    try:
        return _sniffed(submission)
    except LectorError:
        return None


def check_submission(submission: Submission, engines: Engines, *, kinds: Kinds | None = None) -> int | None:
    """Refuse what the worker would refuse about a submission's options, as the sync routes
    refuse it (``service.extract.check_options``): before it is charged, queued or answered.
    Returns how many pages the work will read (None when that is not known here).

    The document's pages are checked when it is at hand and opens; a document that does not
    open is left to the worker, which reports what is wrong with it.
    """
    work = submission.work
    options = first_page_only(submission.options) if isinstance(work, Identify) else submission.options
    reads, page_count, uncounted = True, None, False
    counted = engines.settings.max_pages
    if submission.document is not None:
        sniffed = submission.sniffed or _known_format(submission)
        if sniffed is not None and check_work(work, sniffed) in (Family.AUDIO, Family.VIDEO):
            # What the worker's ffprobe would refuse (damaged, too long, too large a picture)
            # is refused now; the document has no pages to count.
            media_info(submission.document, sniffed, engines.settings)
            return None
        if sniffed is not None:
            if isinstance(work, ConvertFile):
                reads = reads_text(input_name(sniffed), work.target)
            # An office document has no pages here: LibreOffice makes them on the worker.
            with (
                suppress(LectorError),
                open_document(
                    submission.document, password=options.password, sniffed=sniffed, max_pages=counted
                ) as document,
            ):
                page_count, uncounted = document.page_count, document.uncounted
    numbers = check_options(
        options, engines, page_count, max_pages=counted, reads=reads, kinds=kinds, uncounted=uncounted
    )
    return len(numbers) if numbers is not None else None
