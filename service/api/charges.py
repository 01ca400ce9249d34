"""Charging documents to the caller's key: for work done in the request, and for work queued."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import msgspec
from litestar import Request, Response

from service.doctypes import Kinds, document_types
from service.engines import Engines
from service.errors import Forbidden, TooManyPages, ValidationFailed, is_client_fault
from service.jobs.intake import Intake, Submission
from service.models import Submitted
from service.options import Options
from service.tenants.billing import Charge, Tenancy
from service.tenants.store import Caller

#: The name of the route every queued conversion's status is read at.
STATUS_ROUTE = "conversion-status"
#: ... and every queued identification's (Docutray's identify-async).
IDENTIFY_STATUS_ROUTE = "identification-status"


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
) -> AsyncIterator[Charge]:
    """Charge ``cost`` documents for work with ``options`` (403 or 429 when the key may not),
    and give them back if the submission is then refused before it is queued (a URL that
    cannot be fetched, a reused Idempotency-Key, the store down): no document was taken in."""
    uses_model = engines.uses_model(options.engine)
    charge = await anyio.to_thread.run_sync(
        lambda: tenancy.charge(
            caller, cost, options.document_type_code, uses_model=uses_model, pair=pair, kinds=kinds
        )
    )
    try:
        yield charge
    except BaseException:
        await anyio.to_thread.run_sync(tenancy.release, charge)
        raise


async def queue_one(
    request: Request[Any, Any, Any],
    submission: Submission,
    intake: Intake,
    engines: Engines,
    tenancy: Tenancy,
    caller: Caller,
    *,
    pair: str | None = None,
    kinds: Kinds | None = None,
) -> Response[Submitted]:
    """Charge one document and queue ``submission``; 202 with its status URL. A repeated
    Idempotency-Key answers the earlier conversion and is not charged again. ``kinds``: the
    caller's types, where it may use its own."""
    conversion_id = await queue_job(
        request, submission, intake, engines, tenancy, caller, pair=pair, kinds=kinds
    )
    url = request.url_for(STATUS_ROUTE, conversion_id=conversion_id)
    body = Submitted(conversion_id=conversion_id, status_url=url, status="ENQUEUED")
    return Response(body, status_code=202, headers={"Location": url})


async def queue_job(
    request: Request[Any, Any, Any],
    submission: Submission,
    intake: Intake,
    engines: Engines,
    tenancy: Tenancy,
    caller: Caller,
    *,
    pair: str | None = None,
    kinds: Kinds | None = None,
    job_id: str | None = None,
) -> str:
    """Charge one document and queue ``submission`` (as ``job_id`` when one was reserved);
    its job id. A repeated Idempotency-Key answers the earlier job and is not charged again."""
    submission = msgspec.structs.replace(submission, types=allowed_types(submission.types, caller, kinds))
    async with charged(tenancy, engines, caller, submission.options, 1, pair=pair, kinds=kinds) as charge:
        conversion_id, created = await intake.submit(
            submission,
            caller.owner,
            request.headers.get("idempotency-key"),
            charged=charge.units,
            kinds=kinds,
            conversion_id=job_id,
        )
    if not created:  # the first request paid
        await anyio.to_thread.run_sync(tenancy.release, charge)
    return conversion_id


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
) -> Iterator[Charge]:
    """Charge one document for work done in this request (in a worker thread). If the work
    raises, the failure is booked and refunded unless it was the client's fault; too many
    pages for a sync route is answered with ``queued_route`` as the way to go."""
    uses_model = engines.uses_model(options.engine)
    charge = tenancy.charge(
        caller, 1, options.document_type_code, uses_model=uses_model, pair=pair, kinds=kinds
    )
    try:
        yield charge
    except BaseException as exc:
        tenancy.failed(caller.owner, charge.guard, charge.units, refund=not is_client_fault(exc))
        if isinstance(exc, TooManyPages):
            advice = f"Send it to {queued_route}, or select fewer pages with `pages`."
            raise TooManyPages(exc.count, exc.limit, advice=advice, more=exc.more) from None
        raise
