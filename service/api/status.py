"""A queued conversion's status, ``GET /api/convert-async/status/{id}``, and its deletion,
``DELETE /api/convert-async/{id}``: for extractions and file conversions alike, whichever
route queued them."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Request, delete, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from service.api.addresses import links
from service.api.auth import KeyController
from service.api.queued import STATUS_ERRORS, STATUS_ROUTE, wait_for_change
from service.api.responses import error_spec
from service.api.services import Lector
from service.errors import NotFound, NotReady
from service.jobs.intake import storage_errors
from service.jobs.record import conversion_status
from service.models import ConversionStatus
from service.tenants.store import Caller


class StatusController(KeyController):
    """Where a queued conversion stands and, once it has ended, what it produced; and its
    deletion."""

    path = "/api"
    tags = ("Conversion (Docutray)",)

    @get("/convert-async/status/{conversion_id:str}", name=STATUS_ROUTE, responses=STATUS_ERRORS)
    async def status(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        conversion_id: FromPath[str],
        wait: Annotated[int, Parameter(ge=0, le=30, description="Seconds to hold for a status change")] = 0,
    ) -> ConversionStatus:
        """A conversion's status, progress and (once SUCCESS) its fields in `data`, or its
        file's download URLs for a file conversion."""
        record = await wait_for_change(lector.intake, caller, conversion_id, wait)
        webhook = await anyio.to_thread.run_sync(lector.intake.webhook_state, conversion_id)
        here = links(request)
        return conversion_status(
            record, here.file_info(record, lector.settings), webhook, status_url=here.status_url(record)
        )

    @delete(
        "/convert-async/{conversion_id:str}",
        responses={**STATUS_ERRORS, 409: error_spec("The conversion has not ended yet")},
    )
    async def delete(
        self, lector: NamedDependency[Lector], caller: NamedDependency[Caller], conversion_id: FromPath[str]
    ) -> None:
        """Delete an ended conversion now: its record, its result and its files (a document
        still stored goes too). 409 while it is queued or running."""
        jobs = lector.intake.jobs
        with storage_errors():
            record = await anyio.to_thread.run_sync(jobs.get, conversion_id)
        if record is None or record.owner != caller.owner:
            raise NotFound(f"No conversion {conversion_id[:64]!r} for this API key (it may have expired).")
        if not record.status.finished:
            raise NotReady(f"The conversion is {record.status.value}; delete it once it has ended.")
        with storage_errors():
            await anyio.to_thread.run_sync(jobs.remove, record)
