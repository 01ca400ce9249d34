"""What a request or a job costs a key: scopes, the charge, refunds and booked usage.

The API charges before it does any work (``Tenancy.charge``) and a worker books what a job
used when it ends; both call this one class, so the rules (who pays, what is refunded)
live in one place:

- a sync request or an async submission costs one document, a batch one per item;
- media work also holds one of the key's concurrency slots of its kind (video, audio) from
  its charge until it ends, as Convertr counts "simultaneous processing tasks";
- a submission refused before it is queued gives its documents back;
- a document that fails on Lector's side (an engine crash after its retries, the model
  server down, the store down) is refunded, once; one refused as bad input is not.

A managed key's charge needs Redis (its limits must hold: without Redis the request is a
503). A static key has no limits, so when Redis is down its request still runs, and what it
used is not booked (logged as a warning); the same holds for booking after any request,
whose work is done by then.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from redis import Redis
from redis.exceptions import RedisError

from service.convert.formats import Family
from service.doctypes import AUTO, Kinds, check_document_type, document_types
from service.errors import Forbidden
from service.logging import get_logger
from service.models import Extraction
from service.settings import Settings
from service.tenants import usage
from service.tenants.limits import Ledger, Slots
from service.tenants.store import Caller

log = get_logger("lector.tenants")


@dataclass
class Charge:
    """What one charge took: ``units`` quota documents (0 when the key has no quota),
    refundable once under ``guard``; ``quota_left`` after it (-1: no quota); the concurrency
    ``slots`` it holds."""

    owner: str
    guard: str
    units: int
    quota_left: int
    slots: tuple[Slots, ...] = field(default=())


class Tenancy:
    """Charges, refunds and usage for one process, on one Redis."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self._redis = redis
        self._settings = settings
        self.ledger = Ledger(redis, settings.usage_days)

    def charge(
        self,
        caller: Caller,
        cost: int,
        document_type_code: str,
        *,
        uses_model: bool,
        pair: str | None = None,
        kinds: Kinds | None = None,
        slots: Sequence[Slots] = (),
    ) -> Charge:
        """Check the key's scopes for ``document_type_code`` (and a file conversion's
        ``pair``, such as ``png-jpg``), then take one request and ``cost`` documents from its
        limits, and the concurrency ``slots`` (at the key's limit for their kind), or raise
        Forbidden or LimitExceeded. ``kinds``: the caller's types, when it may use its own;
        those are always its to use."""
        check_document_type(document_type_code, kinds=kinds)  # unknown: a 422 before anything is taken
        own = document_type_code not in document_types() and document_type_code != AUTO
        if caller.record is not None and not own and not caller.record.allows_type(document_type_code):
            raise Forbidden(f"This API key is not authorized for {document_type_code} documents.")
        if pair is not None and caller.record is not None and not caller.record.allows_pair(pair):
            raise Forbidden(f"This API key is not authorized for {pair} conversions.")
        slots = tuple(replace(slot, limit=self.concurrency(caller, slot.kind)) for slot in slots)
        try:
            left = self.ledger.charge(caller.owner, caller.reading, cost, uses_model=uses_model, slots=slots)
        except RedisError:
            if caller.record is not None:
                raise
            log.warning("usage not booked: the store is unavailable", owner=caller.owner)
            left, slots = -1, ()
        return Charge(
            owner=caller.owner,
            guard=secrets.token_hex(16),
            units=cost if left >= 0 else 0,
            quota_left=left,
            slots=slots,
        )

    def concurrency(self, caller: Caller, kind: str) -> int:
        """How many ``kind`` (``video``, ``audio``) conversions the caller's key may have
        queued or running at once: its own limit, else the install's (-1: no limit)."""
        record, settings = caller.record, self._settings
        if kind == Family.VIDEO:
            own, default = record.video_concurrency if record else None, settings.media_video_concurrency
        elif kind == Family.AUDIO:
            own, default = record.audio_concurrency if record else None, settings.media_audio_concurrency
        else:
            return -1
        return own if own is not None else default

    def release(self, charge: Charge) -> None:
        """Give a charge's documents and slots back: its submission was never taken in
        (refused before it was queued, or an idempotent replay of one that was). Once per
        charge."""
        self.ledger.refund(charge.owner, charge.guard, charge.units)
        self.free(charge)

    def free(self, charge: Charge) -> None:
        """Give back the concurrency slots ``charge`` holds (each once)."""
        for slot in charge.slots:
            self._free(charge.owner, slot.kind, slot.holders)

    def ended(self, owner: str, kind: str | None, holder: str) -> None:
        """Free the ``kind`` slot (None: none) job ``holder`` held: it has ended, for good."""
        if kind is not None:
            self._free(owner, kind, [holder])

    def _free(self, owner: str, kind: str, holders: Sequence[str]) -> None:
        try:
            self.ledger.free(owner, kind, holders)
        except RedisError:  # the work has ended; its slot's lease frees it in time
            log.warning("slot not freed: the store is unavailable", owner=owner, kind=kind)

    def book(self, owner: str, extraction: Extraction) -> None:
        """Book what a finished extraction used."""
        prices = self._settings.llm_price_in, self._settings.llm_price_out
        self._book(owner, usage.of_extraction(extraction, *prices))

    def failed(self, owner: str, guard: str, units: int, *, refund: bool) -> None:
        """Book a document that failed; refund its ``units`` (once per ``guard``) when the
        failure was on Lector's side."""
        self._book(owner, usage.FAILURE)
        if refund:
            self.ledger.refund(owner, guard, units)

    def _book(self, owner: str, used: usage.Usage) -> None:
        try:
            usage.book(self._redis, owner, used, self._settings.usage_days)
        except RedisError:
            log.warning("usage not booked: the store is unavailable", owner=owner)
