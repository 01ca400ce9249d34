"""``GET /metrics``: every process's metrics in the Prometheus text format, plus the live
values read from Redis at each scrape (each queue's depth and oldest queued job, live workers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import anyio
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from rq import Queue, Worker
from rq.job import Job

from service.api.auth import require_metrics_key
from service.api.services import Lector
from service.jobs.routing import QUEUES
from service.metrics import exposition


class QueueCollector(Collector):
    """The queues as they stand: read once per scrape, not counted by any process."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Each queue's depth and its oldest queued job's age in seconds (labelled ``queue``:
        ``ocr``, ``media``), and the workers alive."""
        depth = GaugeMetricFamily("lector_queue_depth", "Jobs waiting on the queue", labels=["queue"])
        age = GaugeMetricFamily(
            "lector_queue_oldest_age_seconds", "Age of the oldest job waiting on the queue", labels=["queue"]
        )
        for kind, name in QUEUES.items():
            queue = Queue(name, connection=self._redis)
            oldest = 0.0
            for job_id in queue.get_job_ids(0, 0):
                job = Job.fetch(job_id, connection=self._redis)
                if job.enqueued_at is not None:
                    enqueued = job.enqueued_at.replace(tzinfo=UTC)
                    oldest = max((datetime.now(UTC) - enqueued).total_seconds(), 0.0)
            depth.add_metric([kind], queue.count)
            age.add_metric([kind], oldest)
        yield depth
        yield age
        yield GaugeMetricFamily(
            "lector_workers_alive", "Workers registered and alive", value=Worker.count(connection=self._redis)
        )


class MetricsController(Controller):
    """Prometheus scrape target."""

    tags = ("Operations",)
    guards = (require_metrics_key,)

    @get("/metrics", summary="Metrics in the Prometheus text format", media_type="text/plain")
    async def scrape(self, lector: NamedDependency[Lector]) -> Response[bytes]:
        """Requests, jobs, pages, engine time, tokens, refusals, webhooks, queue and workers,
        summed over the API processes and every worker on this machine. No key, job id, label
        or document content is ever a label value."""
        body, content_type = await anyio.to_thread.run_sync(exposition, QueueCollector(lector.redis))
        return Response(body, media_type=content_type)
