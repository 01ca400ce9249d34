"""The caller's own account: its key, limits and quota left, and its usage per day."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Parameter, QueryParameter

from service.api.auth import KeyController
from service.api.bodies import answer_schema, operation_with
from service.api.responses import AUTH_ERRORS, error_spec
from service.api.services import Lector
from service.tenants import usage
from service.tenants.accounts import Account, account_of
from service.tenants.store import Caller
from service.tenants.usage import UsageDay, UsageReport

UsageFormat = Literal["json", "csv"]
USAGE_ERRORS = {**AUTH_ERRORS, 422: error_spec("A bad date, `from` after `to`, or a range too long")}
#: The usage routes answer JSON, or CSV for `format=csv`.
UsageOperation = operation_with(
    answers={
        "application/json": answer_schema(UsageReport),
        "text/csv": Schema(type=OpenAPIType.STRING, description="a header, then one row per day"),
    }
)


def usage_answer(
    rows: list[UsageDay], start: date, end: date, answer_format: UsageFormat, name: str
) -> Response[UsageReport] | Response[str]:
    """The rows as JSON, or as a CSV file named for ``name``."""
    if answer_format == "csv":
        disposition = f'attachment; filename="usage-{name}-{start}-{end}.csv"'
        return Response(
            usage.as_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition},
        )
    return Response(UsageReport(start=start.isoformat(), end=end.isoformat(), days=rows))


#: A day as the usage routes read it (``date.fromisoformat``; empty for the default), for the
#: OpenAPI document only: usage.span checks it, in its own words. A pattern, not the `date`
#: format, which would refuse the empty value.
_DAY = {"pattern": r"^$|^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"}
From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        max_length=10,
        description="first day, YYYY-MM-DD (default: 29 days before `to`)",
        schema_extra=_DAY,
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to", max_length=10, description="last day, YYYY-MM-DD (default: today, UTC)", schema_extra=_DAY
    ),
]
Format = Annotated[UsageFormat, Parameter(description="json, or csv (one row per day)")]


class AccountController(KeyController):
    """What the caller's key may do and what it used."""

    path = "/api"
    tags = ("Account",)

    @get("/account", responses=AUTH_ERRORS, sync_to_thread=True)
    def account(self, lector: NamedDependency[Lector], caller: NamedDependency[Caller]) -> Account:
        """The key's name, limits, quota left, today's usage, totals and expiry."""
        return account_of(caller, lector.keys, lector.redis)

    @get("/usage", responses=USAGE_ERRORS, sync_to_thread=True, operation_class=UsageOperation)
    def usage(
        self,
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        start: From = None,
        end: To = None,
        format: Format = "json",
    ) -> Response[UsageReport] | Response[str]:
        """The key's usage, one row per UTC day (JSON, or `format=csv`)."""
        first, last = usage.span(start, end, lector.settings.usage_days)
        rows = usage.days(lector.redis, caller.owner, first, last, key_id=caller.key_id)
        return usage_answer(rows, first, last, format, caller.key_id or "static")
