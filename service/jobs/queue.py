"""How a conversion goes onto its RQ queue (``service.jobs.routing``): by dotted path, with
its timeout and retries."""

from __future__ import annotations

from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import Job

from service.errors import LectorError
from service.jobs.routing import queue_name
from service.media.transcode import BASE_SECONDS, SECONDS_PER_SECOND
from service.options import Options
from service.pages import Source, open_document

#: Retries run at once: a delayed one would wait for RQ's scheduler, whose lock a dead worker
#: may still hold for a minute. Engines back off on their own (per call) where it helps.
MAX_RETRIES = 2
#: Seconds a job may run: a base plus a share per page.
JOB_BASE_TIMEOUT_S = 120
JOB_PAGE_TIMEOUT_S = 60
#: The page count a job timeout assumes for a document not fetched yet.
MAX_URL_PAGES_ESTIMATE = 50
#: Where the task lives; the API never imports it.
TASK = "service.lifecycle.task.run_conversion"
ON_FAILURE = "service.lifecycle.task.on_failure"


def job_timeout(page_count: int) -> int:
    """How long a job over ``page_count`` pages may run."""
    return JOB_BASE_TIMEOUT_S + JOB_PAGE_TIMEOUT_S * max(page_count, 1)


def media_job_timeout(max_media_seconds: int) -> int:
    """How long a media job may run: ffmpeg's own time limit for the longest media taken
    (``service.media.transcode``; its playing time is not known until a worker probes it),
    and the base."""
    return JOB_BASE_TIMEOUT_S + int(BASE_SECONDS + SECONDS_PER_SECOND * max_media_seconds)


def enqueue(
    redis: Redis, conversion_id: str, timeout_s: int, ttl_s: int, *, sniffed: str | None = None
) -> Job:
    """Queue the conversion by dotted path on its queue (by its document's format
    ``sniffed``), with its timeout (seconds) and retry policy."""
    return Queue(queue_name(sniffed), connection=redis).enqueue_call(
        TASK,
        args=(conversion_id,),
        job_id=conversion_id,
        timeout=timeout_s,
        result_ttl=600,
        failure_ttl=ttl_s,
        retry=Retry(max=MAX_RETRIES),
        on_failure=Callback(ON_FAILURE),
    )


def selected_pages(document: Source, options: Options, max_pages: int, sniffed: str | None = None) -> int:
    """How many pages the job will read: the selection after the cap, so a 10,000-page PDF
    does not earn a 600,000 s timeout. 1 when the document does not open (the worker will
    report what is wrong)."""
    try:
        with open_document(
            document, password=options.password, sniffed=sniffed, max_pages=max_pages
        ) as opened:
            return len(opened.select(options.pages, max_pages))
    except LectorError:
        return 1
