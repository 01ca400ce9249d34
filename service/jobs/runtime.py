"""What a worker process runs its jobs with: its engines (and, through them, its settings),
and its document store.

The worker hands them over once, at start-up (``configure``); a forked child that runs the
jobs inherits them. A plain `rq worker` (rather than `lector worker`) gets them from the
environment on first use.

The worker's main process forks the children that run jobs, so it must never use the store
itself (``service.storage``: its client's threads do not survive a fork). What it does with
the store (the check at start-up, the sweep, a dead job's document) it does in a child of its
own, through ``with_storage``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from service.engines import Engines
from service.logging import get_logger
from service.settings import Settings, load_settings
from service.storage import Storage, open_storage

_engines: Engines | None = None
_storage: Storage | None = None
#: The worker's main process, which forks the job runners (None: not a worker).
_main_pid: int | None = None

log = get_logger("lector.worker")


def configure(engines: Engines) -> None:
    """Give the jobs of this process their engines (and, through them, the settings); this
    process is a worker's main process, which forks the children that run the jobs."""
    global _engines, _main_pid
    _engines = engines
    _main_pid = os.getpid()


def engines() -> Engines:
    """This worker process's engines, loaded from the environment when nobody configured them."""
    global _engines
    if _engines is None:
        from service.startup import prepare_process

        _engines = prepare_process(load_settings())
    return _engines


def settings() -> Settings:
    """This worker process's settings."""
    return engines().settings


def storage() -> Storage:
    """This worker process's document store, opened from its settings on first use."""
    global _storage
    if _storage is None:
        _storage = open_storage(settings().storage_url)
    return _storage


def with_storage(task: Callable[[Storage], object]) -> bool:
    """Run ``task`` with this process's store; in the worker's main process, in a child forked
    for it and waited for. True when it ran to its end (a failure is logged)."""
    if os.getpid() != _main_pid:
        task(storage())
        return True
    pid = os.fork()
    if pid == 0:  # the child: use the store, and leave without running the parent's exit handlers
        code = 1
        try:
            task(storage())
            code = 0
        except BaseException as exc:
            log.warning("store task failed", error=type(exc).__name__, message=str(exc)[:200])
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0
