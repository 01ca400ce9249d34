"""Client registrations: a person signs up with a name, an email and a password, and gets a
managed key of their own (Convertr's ``/api/client-registrations``).

``lector:registration:<sha256 of the email>`` holds the registration: the name, the email,
the password's argon2id hash (never the password), the key's id and the client cohort of
the label it was made from. The email is claimed with SET NX first, so two registrations
with one email cannot both succeed, whichever processes they reach.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import msgspec
from argon2 import PasswordHasher
from redis import Redis

from service.errors import InvalidOption
from service.tenants.records import EMAIL_PATTERN, KeyInfo, KeySpec
from service.tenants.store import KeyStore

_EMAIL = re.compile(EMAIL_PATTERN)
#: How long an email stays claimed by a registration that is being made.
_CLAIM_S = 60
_HASHER = PasswordHasher()
#: Each registration, by the SHA-256 of its email.
PREFIX = "lector:registration:"


class Registration(msgspec.Struct):
    """A registered client (the password only as its hash)."""

    name: str
    email: str
    password_hash: str
    key_id: str
    cohort: str
    created_at: str


def _key(email: str) -> str:
    return PREFIX + hashlib.sha256(email.encode()).hexdigest()


def problems_of(name: str, email: str, password: str, confirmation: str) -> dict[str, list[str]]:
    """What is wrong with a registration, by field (empty: nothing)."""
    problems: dict[str, list[str]] = {}
    if not 1 <= len(name.strip()) <= 100:
        problems["name"] = ["The name must be 1 to 100 characters."]
    if len(email) > 254 or not _EMAIL.match(email.strip()):
        problems["email"] = ["The email must be a valid email address."]
    if not 8 <= len(password) <= 1024:
        problems["password"] = ["The password must be 8 to 1024 characters."]
    elif password != confirmation:
        problems["password"] = ["The password confirmation does not match."]
    return problems


class Registrations:
    """Registrations on one Redis, and the keys they make."""

    def __init__(self, redis: Redis, keys: KeyStore) -> None:
        self._redis = redis
        self._keys = keys

    def register(self, name: str, email: str, password: str, confirmation: str, cohort: str) -> KeyInfo:
        """Make a key for a new client; InvalidOption (422, with the problems by field) for a
        bad field, a confirmation that differs, or an email already registered."""
        problems = problems_of(name, email, password, confirmation)
        if problems:
            first = next(iter(problems.values()))[0]
            raise InvalidOption(first, details=problems)
        address = email.strip().lower()
        key = _key(address)
        if not self._redis.set(key, b"", nx=True, ex=_CLAIM_S):
            taken = "The email has already been taken."
            raise InvalidOption(taken, details={"email": [taken]})
        try:
            info = self._keys.create(KeySpec(name=name.strip(), email=address))
            registration = Registration(
                name=name.strip(),
                email=address,
                password_hash=_HASHER.hash(password),
                key_id=info.key_id,
                cohort=cohort,
                created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            self._redis.set(key, msgspec.json.encode(registration))
        except BaseException:
            self._redis.delete(key)
            raise
        return info

    def get(self, email: str) -> Registration | None:
        """The registration of ``email``, or None."""
        raw = self._redis.get(_key(email.strip().lower()))
        return msgspec.json.decode(raw, type=Registration) if raw else None

    @staticmethod
    def password_matches(registration: Registration, password: str) -> bool:
        """Whether ``password`` is the registration's (checked against its hash)."""
        try:
            return _HASHER.verify(registration.password_hash, password)
        except Exception:  # argon2's VerifyMismatchError, or a damaged hash
            return False
