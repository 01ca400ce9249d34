"""``lector worker``: one RQ worker on Lector's queues (``--queues ocr,media``; both unless
told otherwise, the OCR queue first, so a receipt waiting goes before a video waiting).

The process is prepared once (``service.startup``) and hands its engine registry to the
tasks. Jobs run in a work horse, a child process that stays for many jobs
(``service.resident``), so that an engine crash or the OOM killer takes the job and not the
worker; whatever the parent loads before forking, every horse inherits for free. So the
parent loads what every job needs (``warm_process``): the core's modules, Pillow's decoders,
Tesseract, ``lang=auto``'s language model (1.5 s to load with the invoice set's eight
languages installed) and the local engines of the auto table (ppocr's models take about 1.4 s
to load, longer than OCR of a receipt). Measured before this: a horse spent more time compiling and
importing modules than reading its receipt. The vision-model engine is built on its first
job, as it holds only a client.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

import msgspec
from PIL import Image
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job, JobStatus

from service.engines import Engines
from service.errors import EngineUnavailable, SettingsError, StoreUnavailable
from service.exporter import serve_metrics
from service.jobs import runtime
from service.jobs.retention import sweep_if_due
from service.jobs.routing import QUEUES
from service.jobs.store import JobStore
from service.logging import configure_logging, get_logger
from service.metrics import JobSummary, metrics
from service.models import Status
from service.redis_access import location, probe
from service.resident import ResidentHorseWorker
from service.settings import Settings
from service.startup import prepare_process
from service.storage import Storage

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


class LectorWorker(ResidentHorseWorker):
    """An RQ worker that notices a dead colleague's job within half a minute, counts what
    each of its jobs did (the horse returns a summary; see ``service.metrics``), and on
    SIGTERM gives its job ``shutdown_timeout_s`` to finish before putting it back on the queue.

    RQ's own warm shutdown waits for the job however long it takes, and its cold shutdown
    leaves the job to be found abandoned, as a failure that spends a retry. A job given back
    is neither: it goes to the front of the queue as it was, and its record to ENQUEUED.
    """

    def __init__(
        self, *args: Any, shutdown_timeout_s: float = 30, job_store: JobStore, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._shutdown_timeout_s = shutdown_timeout_s
        self._job_store = job_store
        self._given_back: str | None = None
        self._give_back_timer: threading.Timer | None = None

    def handle_warm_shutdown_request(self) -> None:
        """On the first SIGTERM: let the running job finish, up to the timeout."""
        super().handle_warm_shutdown_request()  # type: ignore[no-untyped-call]
        if self.horse_pid and self._give_back_timer is None:
            self._give_back_timer = threading.Timer(self._shutdown_timeout_s, self._give_back)
            self._give_back_timer.daemon = True
            self._give_back_timer.start()

    def _give_back(self) -> None:
        job = self.get_current_job()
        if job is None or not self.horse_pid:
            return
        log.warning("job given back at shutdown", conversion_id=job.id)
        self._given_back = job.id
        self.kill_horse(signal.SIGKILL)

    def handle_job_failure(
        self,
        job: Job,
        queue: Queue,
        started_job_registry: Any = None,
        exc_string: str = "",
        execution: Any = None,
    ) -> None:
        """A job given back at shutdown returns to the queue; any other failure is RQ's."""
        if job.id != self._given_back:
            super().handle_job_failure(job, queue, started_job_registry, exc_string, execution)
            return
        self._given_back = None
        with self.connection.pipeline() as pipeline:
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            pipeline.execute()
        queue.enqueue_job(job, at_front=True)
        self._job_store.update(job.id, status=Status.ENQUEUED, progress=0.0)

    def run_maintenance_tasks(self) -> None:
        """RQ's maintenance, then the store's sweep when it is this worker's turn."""
        super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        try:
            sweep_if_due(self.connection, runtime.settings())
        except RedisError as exc:  # the next turn sweeps
            log.warning("store not swept", error=type(exc).__name__)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """Seconds a started job stays claimed without a heartbeat."""
        return int(self.job_monitoring_interval) + HEARTBEAT_GRACE_S

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job in a work horse, then count its summary."""
        super().execute_job(job, queue)
        try:
            count_job(job)
        except (RedisError, msgspec.ValidationError) as exc:  # a metric is never worth a job
            log.warning("job not counted", error=type(exc).__name__)


def count_job(job: Job) -> None:
    """Record a finished job's summary; a job that failed for good counts as FAILED."""
    returned = job.return_value(refresh=True)
    if isinstance(returned, dict):
        metrics().record(msgspec.convert(returned, JobSummary), as_job=True)
    elif job.get_status(refresh=True) == JobStatus.FAILED and not job.retries_left:
        metrics().jobs.labels(status=Status.FAILED.value, engine="none").inc()


def warm_process(engines: Engines) -> None:
    """Load, once and before any job forks, the modules, decoders and engines jobs use."""
    # Imported for their effect: loaded here, before the fork, rather than in every horse.
    import service.convert.run
    import service.extract  # noqa: F401
    from service.engines.detected import prepare as prepare_languages
    from service.engines.tesseract import installed_languages, version

    Image.init()  # Pillow imports its format plugins on the first open otherwise, in every horse
    engines.get("tesseract")
    try:
        # Both are run once and kept by pytesseract (its TSV call asks the version first).
        log.info(
            "engine ready", engine="tesseract", version=version(), languages=sorted(installed_languages())
        )
        prepare_languages()
    except EngineUnavailable as exc:
        log.warning("engine unavailable", engine="tesseract", message=exc.message)
    for name in sorted(engines.local_auto_engines() - {"tesseract"}):
        try:
            engines.get(name)
            log.info("engine ready", engine=name)
        except EngineUnavailable as exc:
            log.warning("engine unavailable", engine=name, message=exc.message)


def run_worker(
    settings: Settings, *, queues: Sequence[str] = tuple(QUEUES), metrics_at: tuple[str, int] | None = None
) -> int:
    """Work on ``queues`` (by their ``--queues`` names: ``ocr``, ``media``) until stopped,
    serving this worker's metrics at ``metrics_at`` (host, port) when given; returns the exit
    status."""
    configure_logging(settings.log_format, settings.log_level)
    try:
        answers = probe(settings.redis_url)
    except SettingsError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 2
    if not answers:
        print(f"lector: Redis does not answer at {location(settings.redis_url)}.", file=sys.stderr)
        return 1
    connection = Redis.from_url(settings.redis_url)
    if metrics_at is not None:
        # Its own port reports it, so it leaves a shared directory: the API's /metrics sums that
        # one, and no job may be counted by two targets.
        settings = msgspec.structs.replace(settings, metrics_dir=None)
    engines = prepare_process(settings)
    if metrics_at is not None:
        host, port = metrics_at
        try:
            serve_metrics(settings, host, port)
        except OSError as exc:
            print(f"lector: cannot serve metrics on {host}:{port}: {exc.strerror or exc}.", file=sys.stderr)
            return 1
        log.info("serving metrics", host=host, port=port)
    if "ocr" in queues:  # a media worker runs no OCR engine: its horses need not carry one
        warm_process(engines)
    runtime.configure(engines)
    try:
        runtime.storage()
    except SettingsError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 2
    if not runtime.with_storage(_check_store):
        return 1
    os.register_at_fork(after_in_child=engines.after_fork)
    worker = LectorWorker(
        # In QUEUES' order, whatever order they were given in: OCR work first.
        [Queue(name, connection=connection) for kind, name in QUEUES.items() if kind in queues],
        shutdown_timeout_s=settings.shutdown_timeout_s,
        job_store=JobStore(connection, settings.result_ttl_s, runtime.storage()),
        connection=connection,
        job_monitoring_interval=HEARTBEAT_S,
        maintenance_interval=MAINTENANCE_S,
        worker_ttl=WORKER_TTL_S,
    )
    # The scheduler runs the webhook retries queued for later (one worker holds its lock).
    worker.work(logging_level=settings.log_level.upper(), with_scheduler=True)
    return 0


def _check_store(storage: Storage) -> None:
    """Write, read and delete a test object; StoreUnavailable, said on stderr, when it fails."""
    failed = storage.check()
    if failed:
        print(f"lector: {failed}", file=sys.stderr)
        raise StoreUnavailable(failed)
