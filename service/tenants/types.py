"""A key's own document types, in Redis: ``lector:types:<owner>`` maps each code to its
definition (JSON). They sit beside the built-in types for that owner only: another key
neither sees nor uses them.

Adding one is a single Lua script (at most ``MAX_OWN_TYPES`` per owner, never the same code
twice), so two processes adding at once can neither pass the bound nor overwrite a type.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from redis import Redis

from service.doctypes import DocumentType, Kinds, document_types
from service.errors import Conflict, InvalidOption

#: How many types of its own an owner may define.
MAX_OWN_TYPES = 50
#: Each owner's types: one hash per owner.
PREFIX = "lector:types:"

_ADD = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return -1 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class OwnType(msgspec.Struct):
    """A stored definition: the type, and when it was made."""

    kind: DocumentType
    created_at: str


def _key(owner: str) -> str:
    return PREFIX + owner


class OwnTypes:
    """The document types each owner defined."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._add = redis.register_script(_ADD)

    def add(self, owner: str, kind: DocumentType) -> OwnType:
        """Keep ``kind`` for ``owner``; Conflict when the code is taken, InvalidOption past the bound."""
        made = OwnType(kind=kind, created_at=datetime.now(UTC).isoformat(timespec="seconds"))
        added = self._add(keys=[_key(owner)], args=[kind.code, msgspec.json.encode(made), MAX_OWN_TYPES])
        if added == 0:
            raise Conflict(f"A document type with codeType {kind.code!r} exists already.")
        if added == -1:
            raise InvalidOption(
                f"This API key has {MAX_OWN_TYPES} document types of its own, the most it may have."
            )
        return made

    def of(self, owner: str) -> dict[str, OwnType]:
        """The owner's types by code, in code order."""
        stored: dict[bytes, bytes] = self._redis.hgetall(_key(owner))  # type: ignore[assignment]
        found = {code.decode(): msgspec.json.decode(value, type=OwnType) for code, value in stored.items()}
        return dict(sorted(found.items()))

    def registry(self, owner: str) -> Kinds:
        """Where the owner's documents look their type up: the built-in types, then its own."""
        return {**document_types(), **{code: own.kind for code, own in self.of(owner).items()}}
