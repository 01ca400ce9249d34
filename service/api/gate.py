"""Backpressure on the synchronous endpoints: a bounded number of extractions at once.

A synchronous extraction holds a decoded document and its page images in memory; twenty
81-megapixel PNGs at once took an API process to 1.6 GB. So each process runs at most
``LECTOR_SYNC_CONCURRENCY`` of them (default: the cores), lets ``LECTOR_SYNC_QUEUE`` more wait
for a slot (up to ``WAIT_S``), and answers any other at once with 503 and Retry-After. A
request waits before its document is read into memory: a waiting upload stays in its spooled
temporary file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from service.engines.base import cores
from service.errors import ServerBusy
from service.metrics import metrics
from service.settings import Settings

#: The longest a request waits for a slot before it is told the server is busy.
WAIT_S = 30.0


class SyncGate:
    """At most ``concurrency`` holders at once, at most ``queue`` more waiting; thread-safe."""

    def __init__(self, concurrency: int, queue: int, wait_s: float = WAIT_S) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._admitted = 0
        self._most = concurrency + queue
        self._lock = threading.Lock()
        self._wait_s = wait_s

    @classmethod
    def from_settings(cls, settings: Settings) -> SyncGate:
        """The gate the settings ask for."""
        return cls(settings.sync_concurrency or cores(), settings.sync_queue)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the block; ServerBusy when the queue is full or the wait too long."""
        with self._lock:
            if self._admitted >= self._most:
                metrics().refusals.labels(limit="busy").inc()
                raise ServerBusy()
            self._admitted += 1
        try:
            if not self._slots.acquire(timeout=self._wait_s):
                metrics().refusals.labels(limit="busy").inc()
                raise ServerBusy()
            in_flight = metrics().sync_in_flight
            in_flight.inc()
            try:
                yield
            finally:
                in_flight.dec()
                self._slots.release()
        finally:
            with self._lock:
                self._admitted -= 1
