"""How long each kind of object stays in the store, and the sweep that removes what expired.

A document is deleted when its job ends (``service.lifecycle.task``) and a conversion at its
owner's request (``DELETE``); the sweep removes what is left once its retention has passed:
files and results with their records, uploads never confirmed, and documents whose deletion
failed (a store down at that moment, a worker killed). The workers sweep, one at a time and
at most every ``SWEEP_EVERY_S`` (a Redis lock says whose turn it is), in a child process
(``service.jobs.runtime.with_storage``).
"""

from __future__ import annotations

from datetime import timedelta

from redis import Redis

from service.jobs import runtime
from service.jobs.uploads import UPLOAD_KEEP_S
from service.logging import get_logger
from service.settings import Settings
from service.storage import Space, Storage

SWEEP_EVERY_S = 600
_LOCK = "lector:sweep"
#: Added to a record's time to live before its objects are swept: the record's clock restarts
#: at its last update, a moment after its file or result was written.
_SLACK = timedelta(hours=1)

log = get_logger("lector.retention")


def retention(space: Space, settings: Settings) -> timedelta:
    """How long an object of ``space`` may stay in the store, at most."""
    if space is Space.UPLOADS:
        return timedelta(seconds=UPLOAD_KEEP_S) + _SLACK
    return timedelta(seconds=settings.result_ttl_s) + _SLACK


def sweep_if_due(redis: Redis, settings: Settings) -> bool:
    """Sweep every space when no worker has in the last SWEEP_EVERY_S; False when it was not
    this worker's turn, or the sweep failed (it is logged)."""
    if not redis.set(_LOCK, 1, nx=True, ex=SWEEP_EVERY_S):
        return False
    return runtime.with_storage(lambda storage: sweep(storage, settings))


def sweep(storage: Storage, settings: Settings) -> dict[str, int]:
    """Remove every object older than its space's retention; returns how many of each space."""
    removed = {space.value: storage.sweep(space, retention(space, settings)) for space in Space}
    log.info("store swept", **removed)
    return removed
