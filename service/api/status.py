"""A queued conversion's status: ``GET /api/convert-async/status/{id}``, for extractions and
file conversions alike, whichever route queued them."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter

from service.api.addresses import links
from service.api.auth import KeyController
from service.api.queued import STATUS_ERRORS, STATUS_ROUTE, wait_for_change
from service.api.services import Lector
from service.jobs.record import conversion_status
from service.models import ConversionStatus
from service.tenants.store import Caller


class StatusController(KeyController):
    """Where a queued conversion stands and, once it has ended, what it produced."""

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
