"""The steps of the lifecycle that both ways of running it share: the document fetched from
its URL, the pair a conversion is, its count in the pair rollups, and booking what the work
used."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import msgspec
from redis import Redis

from service.convert.formats import input_name, pair
from service.downloads import fetch_document
from service.engines import Engines
from service.jobs import rollups
from service.jobs.intake import Submission
from service.metrics import JobSummary, summarize_extraction
from service.models import Status
from service.perform import Outcome
from service.settings import Settings
from service.storage import Storage
from service.tenants.billing import Tenancy
from service.work import ConvertFile, Work


class Here(NamedTuple):
    """What the lifecycle runs with in one process (an API process, or a worker)."""

    settings: Settings
    engines: Engines
    tenancy: Tenancy
    redis: Redis
    storage: Storage


def pair_of(work: Work, sniffed: str) -> str | None:
    """The pair a file conversion of a document of the format ``sniffed`` is (``png-jpg``),
    which key scopes name; None for other work."""
    if not isinstance(work, ConvertFile):
        return None
    return pair(input_name(sniffed), work.target.target_format)


@contextmanager
def counted(
    redis: Redis,
    work: Work,
    sniffed: str | None,
    *,
    cohort: str | None = None,
    ends: tuple[type[BaseException], ...] = (BaseException,),
) -> Iterator[None]:
    """Count a file conversion done inside, of a document of the format ``sniffed``, in the
    pair rollups (with the client's ``cohort``, when known): failed when it raises one of
    ``ends``, the failures that end it."""
    if not isinstance(work, ConvertFile):
        yield
        return
    with rollups.counted(redis, sniffed, work.target.target_format, cohort=cohort, ends=ends):
        yield


def book(tenancy: Tenancy, owner: str, outcome: Outcome) -> JobSummary:
    """Book what the work used to ``owner``; what it did, for the metrics."""
    if outcome.reading is None:  # no engine ran (an image converted to another image)
        return JobSummary(status=Status.SUCCESS)
    tenancy.book(owner, outcome.reading)
    return summarize_extraction(outcome.reading)


async def with_document(submission: Submission, settings: Settings) -> Submission:
    """The submission with its document's bytes: a URL is fetched now, so the pair is known."""
    if submission.document is not None:
        return submission
    document = await fetch_document(submission.url or "", settings)
    filename = (submission.url or "").rsplit("/", 1)[-1][:255] or None
    return msgspec.structs.replace(submission, document=document, url=None, filename=filename)
