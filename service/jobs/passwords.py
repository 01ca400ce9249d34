"""PDF passwords wait here, encrypted, apart from the job record, only while the job is unfinished.

The record (kept for the whole retention) never holds the password. The worker reads it when
the job starts, and it is deleted as soon as the job ends, either way, so it outlives the
job only if the job never runs (then it expires with the record). Retries after a crash
still find it.

A password is sealed with the server secret (LECTOR_SECRET, ``service.sealing``) before it
reaches Redis and bound to its job, so the API and every worker need the same secret; without
one, a password is not taken for a queued job at all (a worker elsewhere could not read it).
"""

from __future__ import annotations

from redis import Redis

from service import sealing
from service.errors import InvalidOption, SettingsError

_KEY = "lector:password:"
_PURPOSE = "pdf-password"
#: The first byte of a password kept by an earlier version (an HMAC-only construction), which
#: a job queued across an upgrade may still hold: it is refused by name, not as a wrong secret.
_FORMER = b"\x01"


def check_keepable(password: str | None, secret: str | None) -> None:
    """Refuse (InvalidOption) a password for a queued job when there is no secret to encrypt it."""
    if password and not secret:
        raise InvalidOption(
            "This server keeps no PDF password for a queued job, as it has no secret (LECTOR_SECRET) "
            "to encrypt it with; send the document to a synchronous route instead."
        )


def keep(redis: Redis, conversion_id: str, password: str, ttl_s: int, secret: str | None) -> None:
    """Hold ``password`` for the job ``conversion_id`` until it ends, encrypted with ``secret``;
    InvalidOption without a secret (which ``check_keepable`` says before anything is stored)."""
    if not secret:
        check_keepable(password, secret)
        return  # an empty password: nothing to keep
    redis.set(
        _KEY + conversion_id,
        sealing.seal(secret, _PURPOSE, password.encode(), bound_to=conversion_id),
        ex=ttl_s,
    )


def read(redis: Redis, conversion_id: str, secret: str | None) -> str | None:
    """The job's password; None when it has none. SettingsError when ``secret`` is not the one
    it was encrypted with (this worker's LECTOR_SECRET is missing or differs from the API's)."""
    value = redis.get(_KEY + conversion_id)
    if not isinstance(value, bytes):
        return None
    if value[:1] == _FORMER:
        raise SettingsError(
            "The document's PDF password was kept by an earlier Lector version, which this worker "
            "cannot read: submit the document again."
        )
    password = sealing.unseal(secret, _PURPOSE, value, bound_to=conversion_id) if secret else None
    if password is None:
        raise SettingsError(
            "The worker cannot decrypt the document's PDF password: its LECTOR_SECRET is not the API's."
        )
    return password.decode()


def forget(redis: Redis, conversion_id: str) -> None:
    """Delete the job's password: the job has ended."""
    redis.delete(_KEY + conversion_id)
