"""``lector worker``: one RQ worker on Lector's queue.

Engines are warmed once in the worker process, so each job does not pay for finding the
Tesseract binary and its languages again.
"""

from __future__ import annotations

import sys

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker

from service.errors import EngineUnavailable
from service.logging import configure_logging, get_logger
from service.settings import Settings

#: The queue every Lector job goes through.
QUEUE_NAME = "lector"

log = get_logger("lector.worker")


def warm_engines() -> None:
    """Load the engines this worker will use, once per process."""
    from service.engines import get_engine
    from service.engines.tesseract import installed_languages

    get_engine("tesseract")
    try:
        log.info("engine ready", engine="tesseract", languages=sorted(installed_languages()))
    except EngineUnavailable as exc:
        log.warning("engine unavailable", engine="tesseract", message=exc.message)


def run_worker(settings: Settings) -> int:
    """Work on the queue until stopped; returns the exit status."""
    configure_logging(settings.log_format, settings.log_level)
    connection = Redis.from_url(settings.redis_url)
    try:
        connection.ping()
    except RedisError:
        print(f"lector: Redis does not answer at {_without_password(settings.redis_url)}.", file=sys.stderr)
        return 1
    warm_engines()
    worker = Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
    worker.work(with_scheduler=True, logging_level=settings.log_level.upper())
    return 0


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    _credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{host}" if at else url
