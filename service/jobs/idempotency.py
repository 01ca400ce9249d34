"""``Idempotency-Key``: the same request sent twice under one key makes one conversion."""

from __future__ import annotations

import hashlib

import msgspec
from redis import Redis

from service.errors import IdempotencyConflict

_KEY = "lector:idempotency:"


def _redis_key(owner: str, key: str) -> str:
    return _KEY + owner + ":" + hashlib.sha256(key.encode()).hexdigest()


def claim(redis: Redis, owner: str, key: str, fingerprint: str, conversion_id: str, ttl_s: int) -> str:
    """The conversion id for this Idempotency-Key: ``conversion_id`` when the key is new,
    the earlier one when the same request was made before.

    Raises IdempotencyConflict when the key was used with a different request.
    """
    redis_key = _redis_key(owner, key)
    record = msgspec.json.encode({"fingerprint": fingerprint, "conversion_id": conversion_id})
    if redis.set(redis_key, record, nx=True, ex=ttl_s):
        return conversion_id
    earlier = msgspec.json.decode(redis.get(redis_key) or b"null")
    if earlier is None:  # expired between the two calls: the key is free again
        redis.set(redis_key, record, ex=ttl_s)
        return conversion_id
    if earlier["fingerprint"] != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was already used with a different request.")
    return str(earlier["conversion_id"])


def release(redis: Redis, owner: str, key: str) -> None:
    """Forget a claim whose request failed before anything was queued."""
    redis.delete(_redis_key(owner, key))
