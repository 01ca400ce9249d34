"""The stored record of a managed key, and what an operator sets on one.

``KeySettings`` holds each thing an operator may set, with its constraint, once: the
``lector keys`` flags, the admin routes' bodies and the README are derived from it.
Every numeric limit uses -1 for "no limit" (Converter App's convention for quotas).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from service.doctypes import AUTO, document_types
from service.errors import InvalidOption

Unlimited = Annotated[int, Meta(ge=-1, le=10**12)]
#: What an email address looks like, enough to catch a typo (Convertr's registrations too).
EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}$"
#: Every scope list accepts this to mean "all".
ANY = "*"

KeyState = Literal["active", "revoked", "expired"]


class KeySettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What an operator sets on a key."""

    name: Annotated[str, Meta(min_length=1, max_length=100, description="who holds the key")]
    quota: Annotated[
        Unlimited, Meta(description="documents the key may still submit (-1: no quota); drops by one each")
    ] = -1
    per_minute: Annotated[Unlimited, Meta(description="requests per minute (-1: no limit)")] = -1
    per_day: Annotated[Unlimited, Meta(description="requests per UTC day (-1: no limit)")] = -1
    # Lists, and their items checked by check_scopes: a tuple, or constraints on the items,
    # come out of Litestar's OpenAPI as an ambiguous oneOf.
    types: Annotated[
        list[str], Meta(max_length=100, description="document type codes the key may use (`*`: all)")
    ] = msgspec.field(default_factory=lambda: [ANY])
    pairs: Annotated[
        list[str],
        Meta(max_length=200, description="conversion pairs such as `png-jpg` the key may use (`*`: all)"),
    ] = msgspec.field(default_factory=lambda: [ANY])
    llm_token_budget: Annotated[
        Unlimited, Meta(description="vision-model tokens the key may spend in all (-1: no budget)")
    ] = -1
    video_concurrency: Annotated[
        Unlimited | None,
        Meta(
            description="video conversions the key may have queued or running at once (-1: no limit; "
            "null: LECTOR_MEDIA_VIDEO_CONCURRENCY)"
        ),
    ] = None
    audio_concurrency: Annotated[
        Unlimited | None,
        Meta(
            description="audio conversions the key may have queued or running at once (-1: no limit; "
            "null: LECTOR_MEDIA_AUDIO_CONCURRENCY)"
        ),
    ] = None
    email: (
        Annotated[
            str,
            Meta(
                max_length=254,
                pattern=EMAIL_PATTERN,
                description="the holder's contact email (Convertorio's account shows it)",
                extra={"hint": "use an address such as dev@example.com"},
            ),
        ]
        | None
    ) = None


class KeySpec(KeySettings, kw_only=True, forbid_unknown_fields=True):
    """The body of a create or an update: the settings, and an expiry counted from now."""

    expires_days: Annotated[
        int, Meta(ge=-1, le=36500, description="days until the key expires (-1: never; 0: now)")
    ] = -1


class KeySecret(msgspec.Struct):
    """The hash of one key of a record; a rotated-out key keeps working until ``expires_at``."""

    hash: str
    expires_at: str | None = None


class AwsCredential(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An AWS access key of a managed key (``service.tenants.aws_credentials``): its id, its
    secret sealed with LECTOR_SECRET, and, once the key is rotated, when it stops working."""

    access_key_id: str
    #: AES-GCM under LECTOR_SECRET (``service.sealing``), bound to the access key id.
    sealed_secret: bytes
    created_at: str
    expires_at: str | None = None


class KeyRecord(KeySettings, kw_only=True, forbid_unknown_fields=True):
    """A managed key as stored: never the key itself, only the hashes of its current and
    (during a rotation's grace) previous key, and its AWS credentials' sealed secrets."""

    key_id: str
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    secrets: list[KeySecret]
    aws_credentials: list[AwsCredential] = msgspec.field(default_factory=list)

    def state(self, now: datetime) -> KeyState:
        """Whether the key is active, revoked or expired at ``now``."""
        if self.revoked_at:
            return "revoked"
        if has_passed(self.expires_at, now):
            return "expired"
        return "active"

    def allows_type(self, code: str) -> bool:
        """Whether the key may use document type ``code``."""
        return ANY in self.types or code in self.types

    def allows_pair(self, pair: str) -> bool:
        """Whether the key may convert along ``pair`` (``png-jpg``)."""
        return ANY in self.pairs or pair in self.pairs


class KeyInfo(KeySettings, kw_only=True):
    """A key as the CLI and the admin routes show it (``key`` only when just issued)."""

    key_id: str
    state: KeyState
    created_at: str
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None
    quota_remaining: int = -1
    tokens_used: int = 0
    previous_key_expires_at: str | None = None
    aws_access_key_ids: Annotated[
        list[str], Meta(description="the access key ids of the key's AWS credentials that work")
    ] = msgspec.field(default_factory=list)
    key: Annotated[
        str | msgspec.UnsetType, Meta(description="the new key: shown once, in the answer that made it")
    ] = msgspec.UNSET


def has_passed(moment: str | None, now: datetime) -> bool:
    """Whether the ISO time ``moment`` (None: never) is at or before ``now``."""
    return moment is not None and datetime.fromisoformat(moment) <= now


_PAIR = re.compile(r"^[a-z0-9]{1,10}-[a-z0-9]{1,10}$")


def check_scopes(settings: KeySettings) -> None:
    """Refuse a scope naming a document type Lector does not have, or a malformed pair."""
    known = document_types()
    unknown = [code for code in settings.types if code not in (ANY, AUTO) and code not in known]
    if unknown:
        choices = ", ".join(sorted(known))
        raise InvalidOption(
            f"Unknown document type {unknown[0][:64]!r} in types; choose from: {choices}, {AUTO} or *."
        )
    if any(pair != ANY and not _PAIR.match(pair) for pair in settings.pairs):
        raise InvalidOption(
            "Invalid field `pairs`: write each pair as two format names joined by a dash, "
            "such as png-jpg, or *."
        )
