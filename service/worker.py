"""``lector worker``: one RQ worker on Lector's queue.

The process is prepared once (``service.startup``) and hands its engine registry to the
tasks. Each job runs in a forked work horse, so that an engine crash or the OOM killer takes
the job and not the worker; whatever the parent loads before forking, every horse inherits
for free. So the parent loads what every job needs (``warm_process``): the core's modules,
Pillow's decoders, Tesseract and the local engines of the auto table (ppocr's models take
about 1.4 s to load, longer than OCR of a receipt). Measured before this: a horse spent more
time compiling and importing modules than reading its receipt. The vision-model engine is
built on its first job, as it holds only a client.
"""

from __future__ import annotations

import os
import sys

from PIL import Image
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job

from service.engines import Engines
from service.errors import EngineUnavailable
from service.jobs import task
from service.jobs.queue import QUEUE_NAME
from service.logging import configure_logging, get_logger
from service.settings import Settings
from service.startup import prepare_process

#: How often a busy worker tells Redis it is alive, and how long after its last word a job
#: counts as abandoned. RQ's own grace is 60 s; a job lost with its worker would wait that long.
HEARTBEAT_S = 5
HEARTBEAT_GRACE_S = 10
#: How often a worker looks for abandoned jobs (and requeues them while they have retries).
MAINTENANCE_S = 15
#: How long a worker's registration lives without a heartbeat. An idle worker wakes from its
#: blocking dequeue every WORKER_TTL_S - 15 s, and only then can it run maintenance.
WORKER_TTL_S = 30

log = get_logger("lector.worker")


class LectorWorker(Worker):
    """An RQ worker that notices a dead colleague's job within half a minute."""

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """Seconds a started job stays claimed without a heartbeat."""
        return int(self.job_monitoring_interval) + HEARTBEAT_GRACE_S


def warm_process(engines: Engines) -> None:
    """Load, once and before any job forks, the modules, decoders and engines jobs use."""
    import service.convert.run
    import service.extract  # noqa: F401
    from service.engines.tesseract import installed_languages

    Image.init()  # Pillow imports its format plugins on the first open otherwise, in every horse
    engines.get("tesseract")
    try:
        log.info("engine ready", engine="tesseract", languages=sorted(installed_languages()))
    except EngineUnavailable as exc:
        log.warning("engine unavailable", engine="tesseract", message=exc.message)
    for name in sorted(engines.local_auto_engines() - {"tesseract"}):
        try:
            engines.get(name)
            log.info("engine ready", engine=name)
        except EngineUnavailable as exc:
            log.warning("engine unavailable", engine=name, message=exc.message)


def run_worker(settings: Settings) -> int:
    """Work on the queue until stopped; returns the exit status."""
    configure_logging(settings.log_format, settings.log_level)
    connection = Redis.from_url(settings.redis_url)
    try:
        connection.ping()
    except RedisError:
        print(f"lector: Redis does not answer at {_without_password(settings.redis_url)}.", file=sys.stderr)
        return 1
    engines = prepare_process(settings)
    warm_process(engines)
    task.configure(engines)
    os.register_at_fork(after_in_child=engines.after_fork)
    worker = LectorWorker(
        [Queue(QUEUE_NAME, connection=connection)],
        connection=connection,
        job_monitoring_interval=HEARTBEAT_S,
        maintenance_interval=MAINTENANCE_S,
        worker_ttl=WORKER_TTL_S,
    )
    worker.work(logging_level=settings.log_level.upper())
    return 0


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    _credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{host}" if at else url
