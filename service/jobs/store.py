"""Conversion records in Redis: one hash per conversion, one JSON value per field, and each
owner's conversions by time (``lector:conversions-of:<owner>``, for listing them).

A worker updates progress without rewriting the rest. Reads never write: a status request
works while Redis refuses writes (full, ``maxmemory``), and a record that fails to decode
is logged and reported as a corrupt record, never quietly turned into "not found".

A result larger than ``SMALL_RESULT_BYTES`` (a page's words, many pages of text) is kept in
the store (``service.storage``) under ``results/<conversion id>``, and only its key in the
record: Redis is sized by records, not by documents.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, cast

import msgspec
from redis import Redis

from service.errors import JobStoreError
from service.jobs.record import Conversion
from service.logging import get_logger
from service.storage import Space, Storage

_KEY = "lector:conversion:"
_OWNED = "lector:conversions-of:"
#: A listing reads at most this many of the owner's records, newest first.
MAX_LISTED_SCAN = 5000
#: A result whose JSON is larger than this is kept in the store rather than in its record.
SMALL_RESULT_BYTES = 4096

log = get_logger("lector.jobs")


class JobStore:
    """Conversion records in Redis, each expiring ``ttl_s`` after its last update, and their
    large results in ``storage``."""

    def __init__(self, redis: Redis, ttl_s: int, storage: Storage) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._storage = storage

    def create(self, record: Conversion) -> None:
        """Store a new record."""
        fields = _encoded(msgspec.structs.asdict(record))
        owned = _OWNED + record.owner
        with self._redis.pipeline() as pipe:
            pipe.hset(_KEY + record.conversion_id, mapping=fields)
            pipe.expire(_KEY + record.conversion_id, self._ttl_s)
            pipe.zadd(owned, {record.conversion_id: time.time()})
            # The index lives as long as its newest record; older entries are dropped as read.
            pipe.expire(owned, self._ttl_s)
            pipe.execute()

    def of_owner(
        self, owner: str, *, offset: int, limit: int, keep: Callable[[Conversion], bool]
    ) -> list[Conversion]:
        """The owner's records that ``keep`` accepts, newest first, skipping ``offset`` of them
        and answering at most ``limit`` (reading at most MAX_LISTED_SCAN records)."""
        owned, skipped, start = _OWNED + owner, 0, 0
        found: list[Conversion] = []
        while len(found) < limit and start < MAX_LISTED_SCAN:
            page = cast(list[bytes], self._redis.zrevrange(owned, start, start + 199))
            ids = [raw.decode() for raw in page]
            if not ids:
                break
            start += len(ids)
            records = self.get_many(ids)
            gone = [job_id for job_id, record in zip(ids, records, strict=True) if record is None]
            if gone:
                self._redis.zrem(owned, *gone)
                start -= len(gone)
            for record in records:
                if record is None or not keep(record):
                    continue
                if skipped < offset:
                    skipped += 1
                elif len(found) < limit:
                    found.append(record)
        return found

    def update(self, conversion_id: str, **fields: Any) -> bool:
        """Change some fields of an existing record, and restart its time to live; a large
        ``data`` goes to the store. False when the record no longer exists (expired or
        deleted meanwhile): the caller removes what it stored for it."""
        key = _KEY + conversion_id
        encoded = _encoded(fields)
        if len(encoded.get("data", b"")) > SMALL_RESULT_BYTES:
            result_key = f"{Space.RESULTS.value}/{conversion_id}"
            self._storage.put(result_key, encoded["data"])
            encoded = {**encoded, "data": b"null", "result_key": msgspec.json.encode(result_key)}
        with self._redis.pipeline() as pipe:
            pipe.exists(key)
            pipe.hset(key, mapping=encoded)
            pipe.expire(key, self._ttl_s)
            existed, *_ = pipe.execute()
        if not existed:  # expired meanwhile: don't leave a fragment behind
            self._redis.delete(key)
            if "result_key" in encoded:
                self._storage.delete(f"{Space.RESULTS.value}/{conversion_id}")
        return bool(existed)

    def get(self, conversion_id: str) -> Conversion | None:
        """The record, or None when it does not exist (or expired)."""
        return self.get_many([conversion_id])[0]

    def get_many(self, conversion_ids: list[str]) -> list[Conversion | None]:
        """Several records in one round trip, in order (no transaction: reads only)."""
        with self._redis.pipeline(transaction=False) as pipe:
            for conversion_id in conversion_ids:
                pipe.hgetall(_KEY + conversion_id)
            raw = pipe.execute()
        records = [
            _decode(conversion_id, fields) for conversion_id, fields in zip(conversion_ids, raw, strict=True)
        ]
        return [self._with_result(record) if record else None for record in records]

    def _with_result(self, record: Conversion) -> Conversion:
        """The record with its result read back from the store, when it was kept there."""
        if record.result_key is None or record.data is not None:
            return record
        stored = self._storage.read(record.result_key)
        if stored is None:  # swept with the retention, a moment before its record expired
            return record
        record.data = msgspec.json.decode(stored)
        return record

    def summaries(self, conversion_ids: list[str]) -> list[dict[str, Any] | None]:
        """Status, progress, error and tokens of several records, without their results."""
        names = ("status", "progress", "error", "tokens_used")
        with self._redis.pipeline(transaction=False) as pipe:
            for conversion_id in conversion_ids:
                pipe.hmget(_KEY + conversion_id, names)
            raw = pipe.execute()
        return [_decode_fields(names, values) for values in raw]

    def delete(self, conversion_id: str) -> None:
        """Forget a record now (a submission that failed before it was queued)."""
        self._redis.delete(_KEY + conversion_id)

    def remove(self, record: Conversion) -> None:
        """Delete a conversion at its owner's request: what it holds in the store, then its
        record and its place in the owner's list."""
        self._storage.delete(*record.stored_keys)
        with self._redis.pipeline() as pipe:
            pipe.delete(_KEY + record.conversion_id)
            pipe.zrem(_OWNED + record.owner, record.conversion_id)
            pipe.execute()


def _encoded(fields: dict[str, Any]) -> Mapping[Any, bytes]:
    """Each field as its own JSON value, as the hash stores it."""
    return {name: msgspec.json.encode(value) for name, value in fields.items()}


def _decode_fields(names: tuple[str, ...], values: list[bytes | None]) -> dict[str, Any] | None:
    if values[0] is None:  # no status: no record
        return None
    return {
        name: msgspec.json.decode(value) if value else None for name, value in zip(names, values, strict=True)
    }


def _decode(conversion_id: str, fields: dict[bytes, bytes]) -> Conversion | None:
    if not fields:
        return None
    try:
        values = {name.decode(): msgspec.json.decode(value) for name, value in fields.items()}
        return msgspec.convert(values, Conversion)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError) as exc:
        log.error("conversion record does not decode", conversion_id=conversion_id, reason=str(exc)[:200])
        raise JobStoreError(
            f"The record of conversion {conversion_id} is damaged and cannot be read; it was logged."
        ) from None
