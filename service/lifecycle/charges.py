"""What a piece of work costs its key: the charge before it runs, given back when it is not
taken in, and refunded when it fails on Lector's side; and the concurrency slot media work
holds until it ends."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

import anyio

from service.doctypes import Kinds, document_types
from service.engines import Engines
from service.errors import Forbidden, TooManyPages, ValidationFailed, is_client_fault
from service.jobs.record import new_id
from service.jobs.routing import media_kind
from service.options import Options
from service.tenants.billing import Charge, Tenancy
from service.tenants.limits import Slots
from service.tenants.store import Caller

#: How long the slot of media work done here and now is held at most: it is freed when the
#: request ends, and this lease frees it only when the API process died holding it.
SYNC_SLOT_LEASE_S = 3600


def media_slots(documents: Iterable[tuple[str, str | None]], lease_s: int) -> tuple[Slots, ...]:
    """The concurrency slots work on ``documents`` holds, given as (holder, sniffed format)
    pairs: one slot for each media document, by kind, held by its holder (its job id) for at
    most ``lease_s`` seconds."""
    held: dict[str, list[str]] = {}
    for holder, sniffed in documents:
        kind = media_kind(sniffed)
        if kind is not None:
            held.setdefault(kind.value, []).append(holder)
    return tuple(Slots(kind, tuple(holders), lease_s) for kind, holders in held.items())


@asynccontextmanager
async def charged(
    tenancy: Tenancy,
    engines: Engines,
    caller: Caller,
    options: Options,
    cost: int,
    *,
    pair: str | None = None,
    kinds: Kinds | None = None,
    slots: Sequence[Slots] = (),
) -> AsyncIterator[Charge]:
    """Charge ``cost`` documents for work with ``options``, and the concurrency ``slots`` its
    media holds (403 or 429 when the key may not), and give them back if the submission is
    then refused before it is queued (a refused callback URL, a reused Idempotency-Key, the
    store down): no document was taken in."""
    uses_model = engines.uses_model(options.engine, options.document_type_code)
    charge = await anyio.to_thread.run_sync(
        lambda: tenancy.charge(
            caller,
            cost,
            options.document_type_code,
            uses_model=uses_model,
            pair=pair,
            kinds=kinds,
            slots=slots,
        )
    )
    try:
        yield charge
    except BaseException:
        await anyio.to_thread.run_sync(tenancy.release, charge)
        raise


@contextmanager
def charged_now(
    tenancy: Tenancy,
    engines: Engines,
    caller: Caller,
    options: Options,
    *,
    queued_route: str,
    pair: str | None = None,
    kinds: Kinds | None = None,
    sniffed: str | None = None,
) -> Iterator[Charge]:
    """Charge one document for work done in this request (in a worker thread), and a
    concurrency slot while it runs when the document (of the format ``sniffed``) is media.
    If the work raises, the failure is booked and refunded unless it was the client's fault;
    too many pages for a sync route is answered with ``queued_route`` as the way to go."""
    uses_model = engines.uses_model(options.engine, options.document_type_code)
    slots = media_slots([(new_id(), sniffed)], SYNC_SLOT_LEASE_S)
    charge = tenancy.charge(
        caller, 1, options.document_type_code, uses_model=uses_model, pair=pair, kinds=kinds, slots=slots
    )
    try:
        yield charge
    except BaseException as exc:
        tenancy.failed(caller.owner, charge.guard, charge.units, refund=not is_client_fault(exc))
        if isinstance(exc, TooManyPages):
            advice = f"Send it to {queued_route}, or select fewer pages with `pages`."
            raise TooManyPages(exc.count, exc.limit, advice=advice, more=exc.more) from None
        raise
    finally:
        tenancy.free(charge)


def allowed_types(asked: list[str] | None, caller: Caller, kinds: Kinds | None = None) -> list[str] | None:
    """The types a document may be identified as, from ``kinds`` (default: the built-in types):
    those the key may use (its own always), narrowed to those asked (Docutray's
    `document_type_code_options`); None for every type."""
    registry = document_types() if kinds is None else kinds
    scoped = caller.document_types
    allowed = (
        None if scoped is None else [*scoped, *(code for code in registry if code not in document_types())]
    )
    if asked is None:
        return allowed
    unknown = [code for code in asked if code not in registry]
    if unknown:
        raise ValidationFailed(
            [
                f"document_type_code_options: unknown code {unknown[0][:64]!r}; valid codes: "
                + ", ".join(sorted(registry))
            ]
        )
    chosen = [code for code in asked if allowed is None or code in allowed]
    if not chosen:
        raise Forbidden("This API key is not authorized for any type in document_type_code_options.")
    return chosen
