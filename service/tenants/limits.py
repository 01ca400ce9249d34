"""Rate limits, quota, token budget and concurrency: checked and taken in one atomic Redis call.

Windows are fixed: the current UTC minute and the current UTC day, each a counter that
expires after its window. A charge (one Lua script, so every API process and worker sees
one order) checks the per-minute limit, the per-day limit, the document quota, for a
request that will use the vision model the token budget, and for media work the key's
concurrency slots; it takes from all of them only when all pass, and books the request and
its documents as usage in the same step. A refusal names the first limit that failed.

A refund gives quota back once per charge: the script sets a guard key first, so a retried
job, two workers or a repeated call cannot refund twice.

A concurrency slot is a member of a sorted set per key and kind (``video``, ``audio``): its
holder (a job id, or a random id for a sync request), scored with when its lease lapses.
Freeing it removes the member, which happens once however often it is asked. The lease is
the backstop for a holder that never ends (its record expired, Redis lost a job): a charge
first drops the lapsed ones. A worker that dies does not need it: RQ finds the abandoned
job, and the job's end (after its retries) frees the slot.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from redis import Redis

from service.errors import LimitExceeded
from service.tenants import usage

_MINUTE_S = 60
_DAY_S = 86400
#: How long a refund guard is kept: longer than any job can run or be retried.
REFUND_GUARD_S = 7 * _DAY_S
#: Each owner's documents left (``lector:quota:<owner>``).
QUOTA_PREFIX = "lector:quota:"
#: Each owner's rate windows (``lector:rate:<owner>:m:<minute>`` and ``:d:<YYYYMMDD>``).
RATE_PREFIX = "lector:rate:"
#: Each owner's concurrency slots of one kind (``lector:slots:<owner>:<kind>``).
SLOTS_PREFIX = "lector:slots:"

_CHARGE = """
local cost = tonumber(ARGV[1])
local per_minute, per_day, budget = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local minute = tonumber(redis.call('GET', KEYS[1]) or '0')
local day = tonumber(redis.call('GET', KEYS[2]) or '0')
if per_minute >= 0 and minute >= per_minute then return {'minute', minute, day, -1} end
if per_day >= 0 and day >= per_day then return {'day', minute, day, -1} end
local quota = redis.call('GET', KEYS[3])
if quota and tonumber(quota) < cost then return {'quota', minute, day, tonumber(quota)} end
if ARGV[5] == '1' and budget >= 0 then
  local spent = tonumber(redis.call('GET', KEYS[4]) or '0')
  if spent >= budget then return {'tokens', minute, day, spent} end
end
-- Slots: ARGV[9] groups from ARGV[10], each a limit type, a limit, a lease (s), a count and
-- that many holders; group g's set is KEYS[7 + g].
local now, slots, at = tonumber(ARGV[8]), {}, 10
for g = 1, tonumber(ARGV[9]) do
  local slot = {key = KEYS[7 + g], limit = tonumber(ARGV[at + 1]), lease = tonumber(ARGV[at + 2]),
                first = at + 4, count = tonumber(ARGV[at + 3])}
  redis.call('ZREMRANGEBYSCORE', slot.key, '-inf', now)
  local held = redis.call('ZCARD', slot.key)
  if slot.limit >= 0 and held + slot.count > slot.limit then return {ARGV[at], minute, day, held} end
  slots[g] = slot
  at = slot.first + slot.count
end
minute = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 2 * 60)
day = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], 2 * 86400)
local left = -1
if quota then left = redis.call('DECRBY', KEYS[3], cost) end
for _, key in ipairs({KEYS[5], KEYS[6]}) do
  redis.call('HINCRBY', key, 'requests', 1)
  redis.call('HINCRBY', key, 'documents', cost)
end
redis.call('EXPIRE', KEYS[5], ARGV[6])
redis.call('SADD', KEYS[7], ARGV[7])
for _, slot in ipairs(slots) do
  for i = slot.first, slot.first + slot.count - 1 do
    redis.call('ZADD', slot.key, now + slot.lease, ARGV[i])
  end
  -- The set lives as long as its longest lease.
  if redis.call('TTL', slot.key) < slot.lease then redis.call('EXPIRE', slot.key, slot.lease) end
end
return {'ok', minute, day, left}
"""

_REFUND = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('INCRBY', KEYS[2], ARGV[1]) end
  return 1
end
return 0
"""


def quota_key(owner: str) -> str:
    """The counter of documents ``owner`` may still submit (absent: no quota)."""
    return QUOTA_PREFIX + owner


def slots_key(owner: str, kind: str) -> str:
    """The sorted set of ``owner``'s holders of a ``kind`` slot, scored by when each lapses."""
    return f"{SLOTS_PREFIX}{owner}:{kind}"


@dataclass(frozen=True)
class Slots:
    """Concurrency slots of one ``kind`` (``video``, ``audio``) a charge takes: one for each
    of ``holders`` (job ids, or a sync request's own id), each until it is freed or for
    ``lease_s`` seconds at most, while the key holds no more than ``limit`` (-1: no limit)."""

    kind: str
    holders: tuple[str, ...]
    lease_s: int
    limit: int = -1

    @property
    def limit_type(self) -> str:
        """The limit's name in a refusal (``LimitType``): ``video_concurrency``..."""
        return f"{self.kind}_concurrency"


@dataclass(frozen=True)
class Windows:
    """The counters of the current minute and day, and when each ends (epoch seconds)."""

    minute_key: str
    day_key: str
    minute_reset: int
    day_reset: int


def windows(owner: str, now: float | None = None) -> Windows:
    """``owner``'s rate windows at ``now`` (default: the current time)."""
    now = time.time() if now is None else now
    minute = int(now // _MINUTE_S)
    day = int(now // _DAY_S)
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    return Windows(
        minute_key=f"{RATE_PREFIX}{owner}:m:{minute}",
        day_key=f"{RATE_PREFIX}{owner}:d:{stamp}",
        minute_reset=(minute + 1) * _MINUTE_S,
        day_reset=(day + 1) * _DAY_S,
    )


@dataclass(frozen=True)
class Limits:
    """One key's limits (-1: none)."""

    per_minute: int = -1
    per_day: int = -1
    quota: int = -1
    llm_token_budget: int = -1


@dataclass
class Reading:
    """Where a key stands in its windows (what the RateLimit headers report)."""

    limits: Limits
    windows: Windows
    minute_used: int = 0
    day_used: int = 0


class Ledger:
    """Charges and refunds against the limits, on one Redis."""

    def __init__(self, redis: Redis, usage_days: int) -> None:
        self._redis = redis
        self._usage_ttl = usage.keep_seconds(usage_days)
        self._charge = redis.register_script(_CHARGE)
        self._refund = redis.register_script(_REFUND)

    def charge(
        self, owner: str, reading: Reading, cost: int, *, uses_model: bool, slots: Sequence[Slots] = ()
    ) -> int:
        """Take one request and ``cost`` documents from ``owner``'s limits, and the ``slots``,
        or raise LimitExceeded naming the first that failed; updates ``reading``. Returns the
        quota left (-1: no quota)."""
        limits, win = reading.limits, reading.windows
        today = usage.today()
        slot_args: list[str | int | float] = [time.time(), len(slots)]
        for slot in slots:
            slot_args += [slot.limit_type, slot.limit, slot.lease_s, len(slot.holders), *slot.holders]
        outcome, minute, day, value = self._charge(
            keys=[
                win.minute_key,
                win.day_key,
                quota_key(owner),
                usage.tokens_key(owner),
                usage.day_key(owner, today),
                usage.total_key(owner),
                usage.OWNERS,
                *(slots_key(owner, slot.kind) for slot in slots),
            ],
            args=[
                *(cost, limits.per_minute, limits.per_day, limits.llm_token_budget),
                *(int(uses_model), self._usage_ttl, owner),
                *slot_args,
            ],
        )
        reading.minute_used, reading.day_used = int(minute), int(day)
        outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
        if outcome != "ok":
            full = next((slot for slot in slots if slot.limit_type == outcome), None)
            if full is not None:
                raise too_many_at_once(full, int(value))
            raise refusal(outcome, limits, win, cost, int(value))
        return int(value)

    def free(self, owner: str, kind: str, holders: Sequence[str]) -> int:
        """Give back the ``kind`` slots of ``holders``; each is freed once, however often this
        is called. Returns how many this call freed."""
        if not holders:
            return 0
        return int(self._redis.zrem(slots_key(owner, kind), *holders))

    def holders(self, owner: str, kind: str) -> list[str]:
        """Who holds ``owner``'s ``kind`` slots now, lapsed leases left out."""
        members = self._redis.zrangebyscore(slots_key(owner, kind), time.time(), "+inf")
        return [usage.as_text(cast(bytes, member)) for member in members]

    def refund(self, owner: str, guard: str, units: int) -> bool:
        """Give ``units`` documents back to ``owner``'s quota, once per ``guard`` (a job or
        request id); returns whether this call refunded."""
        if units <= 0:
            return False
        done = self._refund(keys=[f"lector:refund:{guard}", quota_key(owner)], args=[units, REFUND_GUARD_S])
        return bool(done)


def too_many_at_once(slot: Slots, held: int) -> LimitExceeded:
    """The 429 for a charge that would hold more ``slot.kind`` slots than the key may."""
    limit, work = slot.limit, f"{slot.kind} conversion{'' if slot.limit == 1 else 's'}"
    if len(slot.holders) == 1:
        message = (
            f"Concurrency limit reached: this API key may have {limit} {work} queued or running at "
            "once; send this one when one of them has ended."
        )
    else:
        message = (
            f"Concurrency limit exceeded: the request holds {len(slot.holders)} {slot.kind} "
            f"conversions, and this API key may have {limit} queued or running at once ({held} now)."
        )
    return LimitExceeded(message, limit_type=slot.limit_type, limit=limit, remaining=max(limit - held, 0))


def refusal(limit_type: str, limits: Limits, win: Windows, cost: int, value: int) -> LimitExceeded:
    """The 429 for a failed charge, with the sentence the client reads."""
    if limit_type in ("minute", "day"):
        limit = limits.per_minute if limit_type == "minute" else limits.per_day
        reset = win.minute_reset if limit_type == "minute" else win.day_reset
        return LimitExceeded(
            f"Rate limit exceeded: {limit} requests per {limit_type}.",
            limit_type=limit_type,
            limit=limit,
            remaining=0,
            reset_at=reset,
        )
    if limit_type == "quota":
        message = (
            "Quota exhausted: this API key has no documents left."
            if value <= 0
            else f"Quota exceeded: the request needs {cost} documents and this API key has {value} left."
        )
        return LimitExceeded(message, limit_type="quota", limit=limits.quota, remaining=max(value, 0))
    budget = limits.llm_token_budget
    return LimitExceeded(
        f"Token budget spent: this API key has used {value} of its {budget} model tokens.",
        limit_type="tokens",
        limit=budget,
        remaining=max(budget - value, 0),
    )
