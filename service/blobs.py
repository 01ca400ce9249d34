"""Where submitted documents wait for a worker: Redis (default) or a shared directory.

Job payloads stay small plain data; the document itself is stored once here under a random
id and read by whichever worker, on whichever host, runs the job. Both stores forget a
document after its time to live.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Protocol

from redis import Redis

_PREFIX = "lector:blob:"


class BlobStore(Protocol):
    """Stores documents by id for a limited time."""

    def put(self, data: bytes, ttl_s: int) -> str:
        """Store ``data`` for ``ttl_s`` seconds; returns its id."""
        ...

    def get(self, blob_id: str) -> bytes | None:
        """The stored bytes, or None once expired or deleted."""
        ...

    def delete(self, blob_id: str) -> None:
        """Forget ``blob_id`` now."""
        ...


def new_blob_id() -> str:
    """A random, unguessable id."""
    return secrets.token_hex(16)


class RedisBlobStore:
    """Documents as Redis strings with an expiry, reachable by workers on any host."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    def put(self, data: bytes, ttl_s: int) -> str:
        """Store ``data`` under a new id with an expiry."""
        blob_id = new_blob_id()
        self._redis.set(_PREFIX + blob_id, data, ex=ttl_s)
        return blob_id

    def get(self, blob_id: str) -> bytes | None:
        """The stored bytes, or None."""
        value = self._redis.get(_PREFIX + blob_id)
        return value if isinstance(value, bytes) else None

    def delete(self, blob_id: str) -> None:
        """Forget ``blob_id``."""
        self._redis.delete(_PREFIX + blob_id)


class DirectoryBlobStore:
    """Documents as files in a directory that every worker mounts (``LECTOR_BLOB_DIR``).

    The expiry time is the file's modification time; expired files are removed when read,
    and swept at most once a minute when new ones are stored.
    """

    _SWEEP_EVERY_S = 60
    #: A `.partial` file this old was left by a writer that died.
    _ABANDONED_S = 3600

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._directory.mkdir(parents=True, exist_ok=True)
        self._last_sweep = 0.0

    def put(self, data: bytes, ttl_s: int) -> str:
        """Write ``data`` to a new file whose mtime is its expiry."""
        blob_id = new_blob_id()
        path = self._directory / blob_id
        partial = path.with_suffix(".partial")
        partial.write_bytes(data)
        expires = time.time() + ttl_s
        os.utime(partial, (expires, expires))
        partial.rename(path)  # readers never see a half-written file
        self._sweep()
        return blob_id

    def get(self, blob_id: str) -> bytes | None:
        """The stored bytes, or None once expired."""
        path = self._directory / blob_id
        try:
            if path.stat().st_mtime < time.time():
                path.unlink(missing_ok=True)
                return None
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, blob_id: str) -> None:
        """Remove the file."""
        (self._directory / blob_id).unlink(missing_ok=True)

    def _sweep(self) -> None:
        """Remove expired documents. A ``.partial`` file is another writer's document being
        written (its mtime is not an expiry yet): only one abandoned for an hour is removed."""
        now = time.time()
        if now - self._last_sweep < self._SWEEP_EVERY_S:
            return
        self._last_sweep = now
        for path in self._directory.iterdir():
            try:
                mtime = path.stat().st_mtime
                expired = mtime < now - self._ABANDONED_S if path.suffix == ".partial" else mtime < now
                if expired:
                    path.unlink(missing_ok=True)
            except FileNotFoundError:
                pass


def blob_store(redis: Redis, directory: str | None) -> BlobStore:
    """The configured store: a directory when ``directory`` is set, else Redis."""
    return DirectoryBlobStore(Path(directory)) if directory else RedisBlobStore(redis)
