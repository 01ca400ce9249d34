"""Queued work at the API: the 202 answer with the status URL, the names of the status routes,
and reading a job's record for its status (waiting for a change when asked)."""

from __future__ import annotations

import time
from typing import Any

import anyio
from litestar import Request, Response

from service.api.addresses import url_for
from service.api.responses import AUTH_ERRORS, error_spec
from service.doctypes import Kinds
from service.errors import NotFound
from service.jobs.intake import Intake, Submission, storage_errors
from service.jobs.record import Conversion
from service.lifecycle.steps import Here
from service.lifecycle.submit import submit
from service.models import Submitted
from service.tenants.store import Caller
from service.work import Identify

STATUS_ERRORS = {
    **AUTH_ERRORS,
    422: error_spec("An invalid query parameter (e.g. `wait` outside 0 to 30)"),
    404: error_spec("No such conversion for this API key, or it expired"),
    503: error_spec("The job store is unavailable; try again after Retry-After seconds"),
}
#: How often a waiting status request looks again.
_POLL_S = 0.2

#: The name of the route every queued conversion's status is read at.
STATUS_ROUTE = "conversion-status"
#: ... and every queued identification's (Docutray's identify-async).
IDENTIFY_STATUS_ROUTE = "identification-status"


async def queue_one(
    request: Request[Any, Any, Any],
    submission: Submission,
    intake: Intake,
    here: Here,
    caller: Caller,
    *,
    kinds: Kinds | None = None,
) -> Response[Submitted]:
    """Charge one document and queue ``submission``; 202 with its status URL. A repeated
    Idempotency-Key answers the earlier conversion and is not charged again."""
    conversion_id = await submit(
        submission, intake, here, caller, idempotency_key=request.headers.get("idempotency-key"), kinds=kinds
    )
    url = url_for(request, STATUS_ROUTE, conversion_id=conversion_id)
    body = Submitted(conversion_id=conversion_id, status_url=url, status="ENQUEUED")
    return Response(body, status_code=202, headers={"Location": url})


async def wait_for_change(
    intake: Intake, caller: Caller, job_id: str, wait: int, *, identify: bool = False
) -> Conversion:
    """The caller's conversion (or, with ``identify``, identification) record, once its status
    changes or after ``wait`` seconds (at once when it has finished); NotFound for another
    key's job, another kind of job, or one that expired."""
    owner = caller.owner
    what = "identification" if identify else "conversion"

    async def load() -> Conversion:
        with storage_errors():
            record = await anyio.to_thread.run_sync(intake.jobs.get, job_id)
        if record is None or record.owner != owner or isinstance(record.work, Identify) != identify:
            raise NotFound(f"No {what} {job_id[:64]!r} for this API key (it may have expired).")
        return record

    record = await load()
    deadline = time.monotonic() + wait
    first_status = record.status
    # A finished job's status will not change again: answer at once.
    while record.status == first_status and not record.status.finished and time.monotonic() < deadline:
        await anyio.sleep(_POLL_S)
        record = await load()
    return record
