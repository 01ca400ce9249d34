"""Anonymous callers (Convertr's anonymous API): no key, only an optional client label.

A label is normalized (trimmed, lower-cased, runs of spaces made one), cut to 80 characters
and hashed with HMAC-SHA256 under LECTOR_SECRET into a cohort id, ``cohort_`` and 16 hex
digits. Only the cohort is kept or logged; the raw label never leaves the request. A cohort
is the owner of what it does (``anon:<cohort>``), limited per minute like a key, and every
cohort together is limited per UTC day (``take_anonymous_day``), one Redis counter shared
by every process.
"""

from __future__ import annotations

import hashlib
import hmac

from redis import Redis

from service.errors import LimitExceeded
from service.settings import Settings
from service.tenants.limits import Limits, Reading, windows
from service.tenants.store import Caller

#: The most characters of a label that count.
MAX_LABEL = 80


def normalize_label(label: str) -> str:
    """The label as it is hashed: trimmed, lower-cased, runs of whitespace made one space, cut."""
    return " ".join(label.split()).lower()[:MAX_LABEL]


def cohort_of(label: str | None, secret: str) -> str:
    """The cohort id of a client label (no label: the cohort of the empty one)."""
    digest = hmac.new(secret.encode(), normalize_label(label or "").encode(), hashlib.sha256).hexdigest()
    return f"cohort_{digest[:16]}"


def anonymous_caller(cohort: str, settings: Settings) -> Caller:
    """The caller of an anonymous request from ``cohort``, with its per-minute limit."""
    owner = f"anon:{cohort}"
    limits = Limits(per_minute=settings.anonymous_per_minute)
    return Caller(owner=owner, reading=Reading(limits=limits, windows=windows(owner)))


def take_anonymous_day(redis: Redis, settings: Settings) -> None:
    """Count one anonymous request against today's limit for all of them; LimitExceeded (and
    nothing taken) when it is spent."""
    window = windows("anonymous")
    with redis.pipeline() as pipe:
        pipe.incr(window.day_key)
        pipe.expire(window.day_key, 2 * 86400)
        used, _ = pipe.execute()
    if int(used) > settings.anonymous_per_day:
        redis.decr(window.day_key)
        raise LimitExceeded(
            f"Rate limit exceeded: {settings.anonymous_per_day} anonymous requests per day, all clients "
            "together; register for a key.",
            limit_type="day",
            limit=settings.anonymous_per_day,
            remaining=0,
            reset_at=window.day_reset,
        )


def give_back_anonymous_day(redis: Redis) -> None:
    """Return one request to today's anonymous count (its own limit refused it after all)."""
    redis.decr(windows("anonymous").day_key)
