"""Pair reliability rollups: per UTC day, how each conversion pair fared, kept as conversions end.

``lector:pairs:<day>`` is a hash of counters per pair (``<pair>|requests``, ``|succeeded``,
``|failed``, ``|runtime_ms``), and ``lector:cohorts:<day>`` the set of client cohorts seen
(hashed labels, never a raw one). Both expire after ``KEEP_DAYS``. ``report`` adds the days
of a window up: each pair's requests, success and error rates, average runtime and the days
it was seen in, and the totals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import msgspec
from redis import Redis
from redis.exceptions import RedisError

from service.convert.formats import input_name, pair
from service.logging import get_logger

#: Days of counters kept: the longest window a report may cover.
KEEP_DAYS = 90
_COUNTERS = ("requests", "succeeded", "failed", "runtime_ms")

log = get_logger("lector.jobs")


def _day(day: date) -> str:
    return day.strftime("%Y%m%d")


def record(redis: Redis, pair: str, *, succeeded: bool, runtime_ms: int, cohort: str | None = None) -> None:
    """Count one conversion of ``pair`` (``png-jpg``) that ended; a Redis error is logged, since
    a rollup is never worth failing a conversion for."""
    today = _day(datetime.now(UTC).date())
    counters, cohorts = f"lector:pairs:{today}", f"lector:cohorts:{today}"
    try:
        with redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(counters, f"{pair}|requests", 1)
            pipe.hincrby(counters, f"{pair}|{'succeeded' if succeeded else 'failed'}", 1)
            pipe.hincrby(counters, f"{pair}|runtime_ms", max(runtime_ms, 0))
            pipe.expire(counters, KEEP_DAYS * 86400)
            if cohort is not None:
                pipe.sadd(cohorts, cohort)
                pipe.expire(cohorts, KEEP_DAYS * 86400)
            pipe.execute()
    except RedisError as exc:
        log.warning("pair rollup not counted", error=type(exc).__name__)


@contextmanager
def counted(
    redis: Redis,
    sniffed: str | None,
    target_format: str,
    *,
    cohort: str | None = None,
    ends: tuple[type[BaseException], ...] = (BaseException,),
) -> Iterator[None]:
    """Count the conversion done inside, of a document of the format ``sniffed`` (None: bytes
    of no format Lector reads): succeeded unless it raises one of ``ends`` (the failures that
    end it; another is retried, and counted when it ends)."""
    name = pair(input_name(sniffed) if sniffed else "unknown", target_format)
    started = time.monotonic()
    try:
        yield
    except ends:
        record(redis, name, succeeded=False, runtime_ms=_since(started), cohort=cohort)
        raise
    record(redis, name, succeeded=True, runtime_ms=_since(started), cohort=cohort)


def _since(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


class PairRollup(msgspec.Struct):
    """One pair over the window."""

    pair: str
    input_format: str
    output_format: str
    requests: int
    success_rate: float
    error_rate: float
    average_runtime_ms: int
    window_days: int


class Totals(msgspec.Struct):
    """The whole window."""

    requests: int
    cohorts: int
    most_used_pair: str | None


class PairsReport(msgspec.Struct):
    """Every pair seen in the last ``days`` days, the most requested first, and the totals."""

    days: int
    pairs: list[PairRollup]
    totals: Totals


def report(redis: Redis, days: int) -> PairsReport:
    """The rollups of the last ``days`` days (today included)."""
    today = datetime.now(UTC).date()
    keys = [_day(today - timedelta(days=back)) for back in range(days)]
    with redis.pipeline(transaction=False) as pipe:
        for day in keys:
            pipe.hgetall(f"lector:pairs:{day}")
        daily = pipe.execute()
    cohorts = redis.sunion([f"lector:cohorts:{day}" for day in keys])
    sums: dict[str, dict[str, int]] = {}
    oldest: dict[str, int] = {}
    for back, counters in enumerate(daily):
        for field, value in counters.items():
            pair, _, name = field.decode().rpartition("|")
            if name in _COUNTERS:
                sums.setdefault(pair, dict.fromkeys(_COUNTERS, 0))[name] += int(value)
                oldest[pair] = max(oldest.get(pair, 0), back)
    rollups = []
    for pair, counts in sums.items():
        asked = counts["requests"] or 1
        source, _, target = pair.partition("-")
        rollups.append(
            PairRollup(
                pair=f"{source.upper()} -> {target.upper()}",
                input_format=source,
                output_format=target,
                requests=counts["requests"],
                success_rate=round(counts["succeeded"] / asked, 4),
                error_rate=round(counts["failed"] / asked, 4),
                average_runtime_ms=round(counts["runtime_ms"] / asked),
                window_days=oldest[pair] + 1,
            )
        )
    rollups.sort(key=lambda rollup: (-rollup.requests, rollup.pair))
    totals = Totals(
        requests=sum(rollup.requests for rollup in rollups),
        cohorts=len(cohorts),
        most_used_pair=rollups[0].pair if rollups else None,
    )
    return PairsReport(days=days, pairs=rollups, totals=totals)
