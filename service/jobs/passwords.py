"""PDF passwords wait here, apart from the job record, only while the job is unfinished.

The record (kept for the whole retention) never holds the password. The worker reads it when
the job starts, and it is deleted as soon as the job ends, either way, so it outlives the
job only if the job never runs (then it expires with the record). Retries after a crash
still find it.
"""

from __future__ import annotations

from redis import Redis

_KEY = "lector:password:"


def keep(redis: Redis, conversion_id: str, password: str, ttl_s: int) -> None:
    """Hold ``password`` for the job ``conversion_id`` until it ends."""
    redis.set(_KEY + conversion_id, password.encode(), ex=ttl_s)


def read(redis: Redis, conversion_id: str) -> str | None:
    """The job's password; None when it has none."""
    value = redis.get(_KEY + conversion_id)
    return value.decode() if isinstance(value, bytes) else None


def forget(redis: Redis, conversion_id: str) -> None:
    """Delete the job's password: the job has ended."""
    redis.delete(_KEY + conversion_id)
