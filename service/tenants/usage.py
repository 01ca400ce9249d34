"""Usage per key (or static-key owner) and UTC day, and its cost.

Each day is one Redis hash, ``lector:usage:<owner>:<YYYY-MM-DD>``, kept
``LECTOR_USAGE_DAYS`` days; ``lector:usage:<owner>:total`` keeps the totals. Requests and
documents are booked by the charge itself (``service.tenants.limits``), atomically with the
limits; what a document cost (pages, engine time, tokens, calls, failures) is booked here when
it ends, by the API process for a sync request and by the worker for a job.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import msgspec
from msgspec import Meta
from redis import Redis

from service.errors import InvalidOption
from service.models import Extraction

#: Each owner's days and totals, and the set of owners.
PREFIX = "lector:usage:"
OWNERS = PREFIX + "owners"
#: Each owner's model tokens spent in all.
TOKENS_PREFIX = "lector:tokens:"


class Usage(msgspec.Struct, kw_only=True):
    """What a key used in a period: the counters of one day, or the totals."""

    requests: Annotated[int, Meta(description="requests that were charged")] = 0
    documents: Annotated[int, Meta(description="documents charged (refunds are not subtracted)")] = 0
    pages_text_layer: Annotated[int, Meta(description="PDF pages read from their text layer")] = 0
    pages_ocr: Annotated[int, Meta(description="pages read by an OCR engine or the vision model")] = 0
    engine_seconds: Annotated[float, Meta(description="seconds spent extracting")] = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    failures: Annotated[int, Meta(description="documents that ended in failure")] = 0
    cost: Annotated[
        float, Meta(description="tokens at LECTOR_LLM_PRICE_IN / _OUT per million, when they are set")
    ] = 0.0


class UsageDay(Usage, kw_only=True):
    """One row of ``GET /api/usage``."""

    date: str
    key_id: str | None = None


class UsageReport(msgspec.Struct):
    """Answer of the usage routes in JSON: one row per day, oldest first."""

    start: Annotated[str, Meta(description="the first day (the `from` parameter)")]
    end: Annotated[str, Meta(description="the last day (the `to` parameter)")]
    days: list[UsageDay]


#: The counters, in the order of a CSV row.
FIELDS = tuple(Usage.__struct_fields__)
_FLOATS = {"engine_seconds", "cost"}


def day_key(owner: str, day: date) -> str:
    """The Redis hash of ``owner``'s usage on ``day``."""
    return f"{PREFIX}{owner}:{day.isoformat()}"


def total_key(owner: str) -> str:
    """The Redis hash of ``owner``'s totals."""
    return f"{PREFIX}{owner}:total"


def tokens_key(owner: str) -> str:
    """``owner``'s model tokens spent in all: what a token budget is checked against."""
    return TOKENS_PREFIX + owner


def today() -> date:
    """The current UTC day."""
    return datetime.now(UTC).date()


def of_extraction(extraction: Extraction, price_in: float | None, price_out: float | None) -> Usage:
    """What one finished extraction used."""
    text_layer = sum(1 for page in extraction.pages if page.source == "text-layer")
    tokens = extraction.tokens
    cost = 0.0
    if price_in is not None or price_out is not None:
        cost = (tokens.prompt * (price_in or 0) + tokens.completion * (price_out or 0)) / 1_000_000
    return Usage(
        pages_text_layer=text_layer,
        pages_ocr=len(extraction.pages) - text_layer,
        engine_seconds=extraction.processing_time,
        prompt_tokens=tokens.prompt,
        completion_tokens=tokens.completion,
        model_calls=extraction.llm_calls,
        cost=cost,
    )


FAILURE = Usage(failures=1)


def book(redis: Redis, owner: str, usage: Usage, keep_days: int) -> None:
    """Add ``usage`` to ``owner``'s day and totals, and its tokens to the budget counter."""
    day = day_key(owner, today())
    pipe = redis.pipeline(transaction=True)
    for name in FIELDS:
        value = getattr(usage, name)
        if not value:
            continue
        for key in (day, total_key(owner)):
            if name in _FLOATS:
                pipe.hincrbyfloat(key, name, value)
            else:
                pipe.hincrby(key, name, value)
    if usage.prompt_tokens or usage.completion_tokens:
        pipe.incrby(tokens_key(owner), usage.prompt_tokens + usage.completion_tokens)
    pipe.expire(day, keep_seconds(keep_days))
    pipe.sadd(OWNERS, owner)
    pipe.execute()


def keep_seconds(keep_days: int) -> int:
    """How long a day's hash lives: its days, and one more so the last is whole."""
    return (keep_days + 1) * 86400


def _decode(raw: dict[bytes, bytes]) -> dict[str, float | int]:
    values: dict[str, float | int] = {}
    for name, value in raw.items():
        field = name.decode()
        if field in FIELDS:
            values[field] = round(float(value), 6) if field in _FLOATS else int(value)
    return values


def totals(redis: Redis, owner: str) -> Usage:
    """``owner``'s usage since the key was made."""
    return Usage(**_decode(redis.hgetall(total_key(owner))))  # type: ignore[arg-type]


def days(redis: Redis, owner: str, first: date, last: date, *, key_id: str | None = None) -> list[UsageDay]:
    """One row per day from ``first`` to ``last`` (inclusive), zeros where nothing was used."""
    span = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    pipe = redis.pipeline(transaction=False)
    for day in span:
        pipe.hgetall(day_key(owner, day))
    return [
        UsageDay(date=day.isoformat(), key_id=key_id, **_decode(raw))  # type: ignore[arg-type]
        for day, raw in zip(span, pipe.execute(), strict=True)
    ]


def span(first: str | None, last: str | None, keep_days: int) -> tuple[date, date]:
    """The days a usage request covers (``from`` and ``to`` as YYYY-MM-DD): by default the
    30 up to today, at most ``keep_days``; InvalidOption names a bad one."""
    end = _day(last, "to") or today()
    start = _day(first, "from") or end - timedelta(days=29)
    if start > end:
        raise InvalidOption("`from` must not be after `to`.")
    if (end - start).days >= keep_days:
        raise InvalidOption(f"Ask for at most {keep_days} days (LECTOR_USAGE_DAYS) at once.")
    return start, end


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidOption(f"`{name}` must be a date written YYYY-MM-DD.") from None


def owners(redis: Redis) -> list[str]:
    """Every owner that has booked usage."""
    return sorted(as_text(member) for member in redis.smembers(OWNERS))


def as_text(value: bytes | str) -> str:
    """A Redis reply as text (the client answers bytes)."""
    return value.decode() if isinstance(value, bytes) else value


def as_csv(rows: list[UsageDay]) -> str:
    """The rows as CSV with a header (every cell a number, a date or a key id)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = ("date", "key_id", *FIELDS)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if getattr(row, name) is None else getattr(row, name) for name in columns])
    return out.getvalue()
