"""Prometheus metrics, shared by the API processes and every worker.

prometheus-client runs in multiprocess mode: each process writes its samples to memory-mapped
files in one directory (``LECTOR_METRICS_DIR``; ``lector up`` uses ``./var/metrics`` and empties
it at start), and ``GET /metrics`` adds them up. The library reads the directory from
``PROMETHEUS_MULTIPROC_DIR``, which ``configure_metrics`` sets before any metric is made; a
process that is not configured (``lector ocr``) counts in memory.

Work horses write nothing: every horse would leave its own files behind (one set per job's
pid, read again at each scrape). A task returns a small summary instead (``JobSummary``), and
the worker that forked it records it (``service.worker``).

Label values are fixed vocabularies only: route templates, statuses, engine names, page
sources, limit types, outcomes. Never a key, a job id, a label or document content.
"""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Any

import msgspec

from service.models import TEXT_LAYER
from service.settings import Settings

if TYPE_CHECKING:
    from service.models import Extraction

ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Seconds buckets: requests from a health probe (ms) to a long synchronous PDF (minutes).
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
PAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)


class JobSummary(msgspec.Struct, omit_defaults=True):
    """What a job did, for its worker to count: plain data, returned by the task."""

    kind: str = "conversion"  # "conversion" or "webhook"
    status: str = ""  # SUCCESS or FAILED for a conversion; the outcome for a webhook
    engine: str = "none"
    pages: dict[str, int] = {}  # by source: ocr, text-layer
    ocr_seconds_per_page: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0

    def as_data(self) -> dict[str, Any]:
        """Plain data, for RQ to keep as the job's return value."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


def summarize_extraction(extraction: Extraction, status: str = "SUCCESS") -> JobSummary:
    """The countable facts of one extraction."""
    pages: dict[str, int] = {}
    for page in extraction.pages:
        pages[page.source] = pages.get(page.source, 0) + 1
    ocr_pages = pages.get("ocr", 0)
    return JobSummary(
        status=status,
        engine=extraction.engine,
        pages=pages,
        ocr_seconds_per_page=extraction.processing_time / ocr_pages if ocr_pages else None,
        prompt_tokens=extraction.tokens.prompt,
        completion_tokens=extraction.tokens.completion,
        model_calls=extraction.llm_calls,
    )


class Metrics:
    """Every metric Lector exports; made once per process by ``configure_metrics``."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.requests = Counter(
            "lector_http_requests", "HTTP requests answered", ["route", "method", "status"]
        )
        self.request_seconds = Histogram(
            "lector_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["route", "method"],
            buckets=REQUEST_BUCKETS,
        )
        self.jobs = Counter("lector_jobs", "Jobs ended, by final status and engine", ["status", "engine"])
        self.pages = Counter("lector_pages", "Pages read, by engine and source", ["engine", "source"])
        self.page_seconds = Histogram(
            "lector_engine_page_seconds",
            "Engine time per OCR page (a document's time over its OCR pages)",
            ["engine"],
            buckets=PAGE_BUCKETS,
        )
        self.model_tokens = Counter("lector_model_tokens", "Vision-model tokens spent", ["kind"])
        self.model_calls = Counter("lector_model_calls", "Vision-model calls made")
        self.refusals = Counter("lector_refusals", "Requests refused by a limit, by limit type", ["limit"])
        self.webhooks = Counter(
            "lector_webhook_deliveries", "Webhook delivery attempts, by outcome", ["outcome"]
        )
        self.sync_in_flight = Gauge(
            "lector_sync_extractions_in_flight",
            "Synchronous extractions running now",
            multiprocess_mode="livesum",
        )

    def record(self, summary: JobSummary, *, as_job: bool) -> None:
        """Count an extraction (``as_job``: also one job ended) or a webhook attempt."""
        if summary.kind == "webhook":
            self.webhooks.labels(outcome=summary.status).inc()
            return
        if as_job:
            self.jobs.labels(status=summary.status, engine=summary.engine).inc()
        for source, count in summary.pages.items():
            # A page that gave its own text was read by no engine, whichever one the rest went to.
            engine = TEXT_LAYER if source == TEXT_LAYER else summary.engine
            self.pages.labels(engine=engine, source=source).inc(count)
        if summary.ocr_seconds_per_page is not None:
            histogram = self.page_seconds.labels(engine=summary.engine)
            for _ in range(summary.pages.get("ocr", 0)):
                histogram.observe(summary.ocr_seconds_per_page)
        if summary.prompt_tokens or summary.completion_tokens:
            self.model_tokens.labels(kind="prompt").inc(summary.prompt_tokens)
            self.model_tokens.labels(kind="completion").inc(summary.completion_tokens)
        if summary.model_calls:
            self.model_calls.inc(summary.model_calls)


_metrics: Metrics | None = None


def configure_metrics(settings: Settings) -> Metrics:
    """Point prometheus-client at the shared directory (a private one when none is set) and
    make this process's metrics. Call once, before anything imports prometheus_client."""
    global _metrics
    if _metrics is None:
        directory = settings.metrics_dir or tempfile.mkdtemp(prefix="lector-metrics-")
        os.makedirs(directory, exist_ok=True)
        os.environ[ENV] = directory
        from prometheus_client import values

        # The library chose its value class when first imported, perhaps before this (the API
        # imports its collector types); choose again now that the directory is known.
        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
        _metrics = Metrics()
    return _metrics


def metrics() -> Metrics:
    """This process's metrics (in memory when the process was not configured)."""
    global _metrics
    if _metrics is None:
        _metrics = Metrics()
    return _metrics


def exposition(extra: Any = None) -> tuple[bytes, str]:
    """The Prometheus text of every process's metrics (and ``extra``, a collector of live
    values), with its content type. A registry is made per scrape, as multiprocess mode asks."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if os.environ.get(ENV):  # unset only in a process never configured: nothing shared to read
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    if extra is not None:
        registry.register(extra)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_dead(pid: int, directory: str) -> None:
    """Drop the live gauges of a process that exited (``lector up`` calls it for its children)."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
