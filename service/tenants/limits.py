"""Rate limits, quota and token budget: checked and taken in one atomic Redis call.

Windows are fixed: the current UTC minute and the current UTC day, each a counter that
expires after its window. A charge (one Lua script, so every API process and worker sees
one order) checks the per-minute limit, the per-day limit, the document quota and, for a
request that will use the vision model, the token budget; it takes from all of them only
when all pass, and books the request and its documents as usage in the same step. A
refusal names the first limit that failed.

A refund gives quota back once per charge: the script sets a guard key first, so a retried
job, two workers or a repeated call cannot refund twice.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

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

    def charge(self, owner: str, reading: Reading, cost: int, *, uses_model: bool) -> int:
        """Take one request and ``cost`` documents from ``owner``'s limits, or raise
        LimitExceeded naming the first that failed; updates ``reading``. Returns the
        quota left (-1: no quota)."""
        limits, win = reading.limits, reading.windows
        today = usage.today()
        outcome, minute, day, value = self._charge(
            keys=[
                win.minute_key,
                win.day_key,
                quota_key(owner),
                usage.tokens_key(owner),
                usage.day_key(owner, today),
                usage.total_key(owner),
                usage.OWNERS,
            ],
            args=[
                *(cost, limits.per_minute, limits.per_day, limits.llm_token_budget),
                *(int(uses_model), self._usage_ttl, owner),
            ],
        )
        reading.minute_used, reading.day_used = int(minute), int(day)
        outcome = outcome.decode() if isinstance(outcome, bytes) else outcome
        if outcome != "ok":
            raise refusal(outcome, limits, win, cost, int(value))
        return int(value)

    def refund(self, owner: str, guard: str, units: int) -> bool:
        """Give ``units`` documents back to ``owner``'s quota, once per ``guard`` (a job or
        request id); returns whether this call refunded."""
        if units <= 0:
            return False
        done = self._refund(keys=[f"lector:refund:{guard}", quota_key(owner)], args=[units, REFUND_GUARD_S])
        return bool(done)


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
