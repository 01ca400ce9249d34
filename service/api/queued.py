"""Answering a queued submission: 202 with the status URL, and the names of the status routes."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from service.doctypes import Kinds
from service.jobs.intake import Intake, Submission
from service.lifecycle.steps import Here
from service.lifecycle.submit import submit
from service.models import Submitted
from service.tenants.store import Caller

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
    url = request.url_for(STATUS_ROUTE, conversion_id=conversion_id)
    body = Submitted(conversion_id=conversion_id, status_url=url, status="ENQUEUED")
    return Response(body, status_code=202, headers={"Location": url})
