"""The real Redis, API and workers a benchmark runs against.

A full benchmark starts its own, with the settings it asks for, and stops them when it is done.
In the smoke form every benchmark of the process shares one set, started once with the
settings of all of them (``SMOKE_SETTINGS``): starting the API is much of a smoke run's time.
"""

from __future__ import annotations

import atexit
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from tests.helpers import Server as ApiServer
from tests.helpers import start_redis, start_server, start_worker, stop_process

ADMIN_KEY = "bench-admin-key-0123456789"
#: make run's default number of workers (LECTOR_WORKERS).
WORKERS = 2
#: The shared smoke set's settings: every benchmark's asks must be among them.
SMOKE_SETTINGS = {
    "LECTOR_LOG_LEVEL": "warning",
    "LECTOR_SYNC_MAX_PAGES": "200",
    "LECTOR_ADMIN_KEY": ADMIN_KEY,
    "LECTOR_MAX_BATCH_ITEMS": "1000",
}


@dataclass
class Services:
    """A running Redis, API and workers, and the folder their logs go to."""

    work: Path
    redis: Popen[bytes]
    redis_url: str
    server: ApiServer
    workers: list[Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the workers, the API, then Redis."""
        for worker in self.workers:
            stop_process(worker)
        self.server.stop()
        self.redis.terminate()
        self.redis.wait(timeout=10)


def start(work: Path, workers: int, settings: dict[str, str]) -> Services:
    """Redis, then the API and ``workers`` workers on it."""
    redis, redis_url = start_redis(work)
    try:
        server = start_server(work, LECTOR_REDIS_URL=redis_url, **settings)
    except BaseException:
        redis.terminate()
        raise
    started = [start_worker(work, redis_url, **settings) for _ in range(workers)]
    return Services(work, redis, redis_url, server, started)


_shared: Services | None = None


def _smoke_services(workers: int) -> Services:
    """The shared set, with at least ``workers`` workers: they start when a benchmark first
    needs them, since a starting worker loads the engines and slows everything beside it."""
    global _shared
    if _shared is None:
        _shared = start(Path(tempfile.mkdtemp(prefix="lector-bench-smoke-")), 0, SMOKE_SETTINGS)
        atexit.register(_shared.stop)
    while len(_shared.workers) < workers:
        _shared.workers.append(start_worker(_shared.work, _shared.redis_url, **SMOKE_SETTINGS))
    return _shared


@contextmanager
def services(*, smoke: bool, workers: int = 0, **settings: str) -> Iterator[Services]:
    """Redis, the API (with ``settings``, LECTOR_* names) and ``workers`` workers, for one
    benchmark; in the smoke form, the process's shared set."""
    settings = {"LECTOR_LOG_LEVEL": "warning", **settings}
    if smoke:
        unknown = {name: value for name, value in settings.items() if SMOKE_SETTINGS.get(name) != value}
        if unknown:
            raise ValueError(f"the smoke services are not started with {unknown}: add it to SMOKE_SETTINGS")
        yield _smoke_services(workers)
        return
    running = start(Path(tempfile.mkdtemp(prefix="lector-bench-")), workers, settings)
    try:
        yield running
    finally:
        running.stop()
