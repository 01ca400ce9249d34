"""A key as an account: its name, limits, quota left, today's usage, totals and expiry.

Lector's ``GET /api/account`` answers it as it is; dialects map it onto their own account
shapes (Convertorio's ``GET /v1/account``).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta
from redis import Redis

from service.tenants import usage
from service.tenants.records import ANY
from service.tenants.store import Caller, KeyStore
from service.tenants.usage import Usage, UsageDay


class Account(msgspec.Struct, kw_only=True):
    """Answer of ``GET /api/account``; -1 means no limit."""

    key_id: Annotated[
        str | None,
        Meta(description="the key's public id; a static key's is hashed from it (null: authentication off)"),
    ]
    name: str
    email: Annotated[str | None, Meta(description="the key's contact email, when it has one")] = None
    state: str
    quota: int = -1
    quota_remaining: int = -1
    per_minute: int = -1
    per_day: int = -1
    llm_token_budget: int = -1
    tokens_used: int = 0
    types: list[str] = msgspec.field(default_factory=lambda: [ANY])
    pairs: list[str] = msgspec.field(default_factory=lambda: [ANY])
    created_at: str | None = None
    expires_at: str | None = None
    today: UsageDay
    totals: Usage


def account_of(caller: Caller, keys: KeyStore, redis: Redis) -> Account:
    """The caller's key: its name, limits, quota left, today's usage, totals and expiry."""
    current = usage.days(redis, caller.owner, usage.today(), usage.today(), key_id=caller.key_id)[0]
    totals = usage.totals(redis, caller.owner)
    if caller.record is None:
        return Account(key_id=caller.key_id, name="static key", state="active", today=current, totals=totals)
    info = keys.info(caller.record)
    shown = {name: getattr(info, name) for name in Account.__struct_fields__ if hasattr(info, name)}
    return Account(**shown, today=current, totals=totals)
