"""Managed keys in Redis: create, list, show, update, revoke, rotate, and authenticate.

``lector:key:<id>`` holds the record (JSON), ``lector:keys`` the set of ids, and the limits'
own counters live beside them (``service.tenants.limits``). A record also holds the key's
AWS credentials (``service.tenants.aws_credentials``), each found by its access key id at
``lector:aws-access-key:<access key id>``; revoking a key withdraws them, and rotating it
gives them the old key's grace. Changes to a record are optimistic transactions (WATCH), so
two operators updating one key cannot lose a change.
Every API process reads the record on every request (one MGET with the rate windows), so a
revocation or an expiry holds on all of them at once, with no cache to wait out.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from redis import Redis
from redis.client import Pipeline

from service.errors import InvalidOption, NotFound, Unauthorized
from service.options import sentence
from service.tenants import keys, usage
from service.tenants.limits import Limits, Reading, quota_key, windows
from service.tenants.records import (
    ANY,
    AwsCredential,
    KeyInfo,
    KeyRecord,
    KeySecret,
    KeySettings,
    KeySpec,
    check_scopes,
    has_passed,
)

INDEX = "lector:keys"
#: Each key's record, and its markers beside it (``:last-used``, ``:touched``).
RECORD_PREFIX = "lector:key:"
#: Where an AWS access key id points to its key's id.
AWS_ACCESS_KEY_PREFIX = "lector:aws-access-key:"
#: ``last_used_at`` is written at most this often per key, across every process.
TOUCH_EVERY_S = 60
NOT_VALID = "The API key is not valid."

_decode_record = msgspec.json.Decoder(KeyRecord).decode
_encode = msgspec.json.Encoder().encode


def record_key(key_id: str) -> str:
    """Where ``key_id``'s record is stored."""
    return RECORD_PREFIX + key_id


def aws_access_key_key(access_key_id: str) -> str:
    """Where ``access_key_id``'s key id is stored."""
    return AWS_ACCESS_KEY_PREFIX + access_key_id


def _last_used_key(key_id: str) -> str:
    return f"{RECORD_PREFIX}{key_id}:last-used"


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def limits_of(record: KeySettings) -> Limits:
    """The limits a record sets."""
    return Limits(
        per_minute=record.per_minute,
        per_day=record.per_day,
        quota=record.quota,
        llm_token_budget=record.llm_token_budget,
    )


@dataclass
class Caller:
    """Who sent a request: the owner of what it creates, and the key's record and limits
    (None for a static key, which has no limits)."""

    owner: str
    reading: Reading
    record: KeyRecord | None = None
    static_id: str | None = None

    @property
    def key_id(self) -> str | None:
        """The key's public id: a managed key's own, a static key's hashed one (None with
        authentication off)."""
        return self.record.key_id if self.record else self.static_id

    @property
    def document_types(self) -> list[str] | None:
        """The document types the key may use (None: every type), which ``auto`` may identify."""
        if self.record is None or ANY in self.record.types:
            return None
        return list(self.record.types)


def static_caller(owner: str) -> Caller:
    """An unauthenticated install's caller: no limits, no key id."""
    return Caller(owner=owner, reading=Reading(limits=Limits(), windows=windows(owner)))


def static_key_caller(key: str) -> Caller:
    """The holder of static key ``key`` (LECTOR_API_KEYS): no limits; its hashed id owns its
    jobs and its usage."""
    key_id = keys.static_key_id(key)
    return Caller(owner=key_id, reading=Reading(limits=Limits(), windows=windows(key_id)), static_id=key_id)


class KeyStore:
    """Managed keys on one Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._touched: dict[str, float] = {}
        self._touch_lock = threading.Lock()

    # --- the operator's side -----------------------------------------------------------

    def create(self, spec: KeySpec) -> KeyInfo:
        """A new key; the answer is the only place its secret ever appears."""
        check_scopes(spec)
        now = _now()
        while True:
            key_id = keys.new_key_id()
            key = keys.new_key(key_id)
            record = KeyRecord(
                **_settings_of(spec),
                key_id=key_id,
                created_at=_iso(now),
                expires_at=_expiry(spec.expires_days, now),
                secrets=[KeySecret(hash=keys.key_hash(key))],
            )
            pipe = self._redis.pipeline(transaction=True)
            pipe.set(record_key(key_id), _encode(record), nx=True)
            pipe.sadd(INDEX, key_id)
            if spec.quota >= 0:
                pipe.set(quota_key(key_id), spec.quota)
            created, *_ = pipe.execute()
            if created:  # else an id collision (a 62-bit id: practically never): draw again
                return msgspec.structs.replace(self.info(record), key=key)

    def get(self, key_id: str) -> KeyRecord:
        """The record of ``key_id``, or NotFound."""
        raw = self._redis.get(record_key(key_id))
        if raw is None:
            raise NotFound(f"No API key with id {key_id[:64]!r}.")
        return _decode_record(raw)

    def list(self) -> list[KeyInfo]:
        """Every key, oldest first."""
        ids = sorted(usage.as_text(member) for member in self._redis.smembers(INDEX))
        raws = self._redis.mget([record_key(key_id) for key_id in ids]) if ids else []
        records = [_decode_record(raw) for raw in raws if raw is not None]
        return [self.info(record) for record in sorted(records, key=lambda r: (r.created_at, r.key_id))]

    def info(self, record: KeyRecord) -> KeyInfo:
        """How the CLI and the admin routes show ``record``."""
        last_used, quota, tokens = self._redis.mget(
            [_last_used_key(record.key_id), quota_key(record.key_id), usage.tokens_key(record.key_id)]
        )
        previous = record.secrets[1].expires_at if len(record.secrets) > 1 else None
        now = _now()
        return KeyInfo(
            **_settings_of(record),
            key_id=record.key_id,
            state=record.state(now),
            created_at=record.created_at,
            expires_at=record.expires_at,
            revoked_at=record.revoked_at,
            last_used_at=usage.as_text(last_used) if last_used else None,
            quota_remaining=int(quota) if quota is not None else -1,
            tokens_used=int(tokens or 0),
            previous_key_expires_at=previous,
            aws_access_key_ids=[
                credential.access_key_id
                for credential in record.aws_credentials
                if not has_passed(credential.expires_at, now)
            ],
        )

    def update(self, key_id: str, changes: dict[str, Any]) -> KeyInfo:
        """Change some of a key's settings (any ``KeySpec`` field); a new ``quota`` is the
        number of documents left from now on."""
        if not isinstance(changes, dict) or not changes:
            raise InvalidOption('Send the settings to change as a JSON object, e.g. {"quota": 100}.')

        def change(record: KeyRecord, pipe: Pipeline) -> KeyRecord:
            try:
                spec = msgspec.convert({**_settings_of(record), **changes}, KeySpec)
            except msgspec.ValidationError as exc:
                raise InvalidOption(sentence(str(exc), struct=KeySpec)) from None
            check_scopes(spec)
            expires_at = (
                _expiry(spec.expires_days, _now()) if "expires_days" in changes else record.expires_at
            )
            if "quota" in changes:
                if spec.quota >= 0:
                    pipe.set(quota_key(key_id), spec.quota)
                else:
                    pipe.delete(quota_key(key_id))
            return msgspec.structs.replace(record, **_settings_of(spec), expires_at=expires_at)

        return self.info(self.change(key_id, change))

    def revoke(self, key_id: str) -> KeyInfo:
        """Refuse the key from now on, on every API process (the record stays, for its usage),
        and withdraw its AWS credentials."""

        def change(record: KeyRecord, pipe: Pipeline) -> KeyRecord:
            _withdraw(pipe, record.aws_credentials)
            return msgspec.structs.replace(
                record, revoked_at=record.revoked_at or _iso(_now()), aws_credentials=[]
            )

        return self.info(self.change(key_id, change))

    def rotate(self, key_id: str, grace_s: int) -> KeyInfo:
        """A new key for the same id, limits and usage; the old one keeps working for
        ``grace_s`` seconds (0: refused at once), and so do the AWS credentials made for it.
        An older previous key is dropped, with the credentials of its time."""
        key = keys.new_key(key_id)

        def change(record: KeyRecord, pipe: Pipeline) -> KeyRecord:
            if record.revoked_at:
                raise InvalidOption("A revoked key cannot be rotated; create a new one.")
            grace_ends = _iso(_now() + timedelta(seconds=grace_s))
            old = msgspec.structs.replace(record.secrets[0], expires_at=grace_ends)
            current = [c for c in record.aws_credentials if c.expires_at is None]
            _withdraw(pipe, [c for c in record.aws_credentials if c.expires_at is not None])
            return msgspec.structs.replace(
                record,
                secrets=[KeySecret(hash=keys.key_hash(key)), old],
                aws_credentials=[msgspec.structs.replace(c, expires_at=grace_ends) for c in current],
            )

        return msgspec.structs.replace(self.info(self.change(key_id, change)), key=key)

    def change(self, key_id: str, change: Callable[[KeyRecord, Pipeline], KeyRecord]) -> KeyRecord:
        """Apply ``change(record, pipe) -> record`` to ``key_id``'s record in an optimistic
        transaction (NotFound without one): ``change`` may queue more writes on ``pipe``, which
        happen together with the record's, or not at all."""
        updated: list[KeyRecord] = []

        def attempt(pipe: Pipeline) -> None:
            raw = pipe.get(record_key(key_id))
            if raw is None:
                raise NotFound(f"No API key with id {key_id[:64]!r}.")
            pipe.multi()
            record = change(_decode_record(raw), pipe)
            pipe.set(record_key(key_id), _encode(record))
            updated.append(record)

        self._redis.transaction(attempt, record_key(key_id))
        return updated[-1]

    # --- the request's side ------------------------------------------------------------

    def authenticate(self, presented: str) -> Caller:
        """The caller holding ``presented`` (a managed key), or Unauthorized with the reason."""
        key_id = keys.key_id_of(presented)
        if key_id is None:
            raise Unauthorized(NOT_VALID)
        record, reading = self._read(key_id)
        digest = keys.key_hash(presented)
        secret = next((s for s in record.secrets if hmac.compare_digest(s.hash, digest)), None)
        if secret is None:
            raise Unauthorized(NOT_VALID)
        now = _now()
        caller = _admitted(record, reading, now)
        if has_passed(secret.expires_at, now):
            raise Unauthorized("API key expired.")
        self.touch(key_id, now)
        return caller

    def caller_of(self, key_id: str) -> Caller:
        """The caller of managed key ``key_id``, with its limits and scopes, for a request
        that proved itself some other way than with the key (an AWS signature); Unauthorized
        when there is no such key, or it is revoked or expired. The use is not recorded:
        call ``touch`` once the request is admitted."""
        record, reading = self._read(key_id)
        return _admitted(record, reading, _now())

    def _read(self, key_id: str) -> tuple[KeyRecord, Reading]:
        """``key_id``'s record and its rate windows' counts, in one round trip."""
        win = windows(key_id)
        raw, minute, day = self._redis.mget([record_key(key_id), win.minute_key, win.day_key])
        if raw is None:
            raise Unauthorized(NOT_VALID)
        record = _decode_record(raw)
        return record, Reading(
            limits=limits_of(record), windows=win, minute_used=int(minute or 0), day_used=int(day or 0)
        )

    def touch(self, key_id: str, now: datetime | None = None) -> None:
        """Record ``last_used_at``, at most once a minute per key across every process: a
        per-process memo spares the round trip, a Redis marker settles it between processes."""
        now = now or _now()
        tick = time.monotonic()
        with self._touch_lock:
            if tick - self._touched.get(key_id, -TOUCH_EVERY_S) < TOUCH_EVERY_S:
                return
            self._touched[key_id] = tick
        if self._redis.set(f"{RECORD_PREFIX}{key_id}:touched", 1, nx=True, ex=TOUCH_EVERY_S):
            self._redis.set(_last_used_key(key_id), _iso(now))


def _admitted(record: KeyRecord, reading: Reading, now: datetime) -> Caller:
    """The caller of an active key's ``record``; Unauthorized for a revoked or expired one."""
    state = record.state(now)
    if state == "revoked":
        raise Unauthorized("API key revoked.")
    if state == "expired":
        raise Unauthorized("API key expired.")
    return Caller(owner=record.key_id, reading=reading, record=record)


def _withdraw(pipe: Pipeline, credentials: list[AwsCredential]) -> None:
    """Forget where ``credentials``' access key ids point (queued on ``pipe``)."""
    if credentials:
        pipe.delete(*(aws_access_key_key(c.access_key_id) for c in credentials))


def _settings_of(source: KeySettings) -> dict[str, Any]:
    """The operator-set fields of a record or a spec, as keyword arguments."""
    return {name: getattr(source, name) for name in KeySettings.__struct_fields__}


def _expiry(days: int, now: datetime) -> str | None:
    return None if days < 0 else _iso(now + timedelta(days=days))
