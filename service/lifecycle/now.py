"""The lifecycle here and now: work done inside the request.

Every route that answers at once runs this (Lector's sync OCR and file conversions, and each
dialect's sync routes); the route holds a sync slot (``service.api.gate``) around it.
"""

from __future__ import annotations

from service.doctypes import Kinds
from service.lifecycle.charges import allowed_types, charged_now
from service.lifecycle.steps import Here, book, counted, pair_of
from service.metrics import metrics
from service.options import Options
from service.pages import Source, sniff
from service.perform import Outcome, perform
from service.tenants.store import Caller
from service.work import Work


def run_now(
    work: Work,
    document: Source,
    options: Options,
    here: Here,
    caller: Caller,
    *,
    queued_route: str,
    asked_types: list[str] | None = None,
    kinds: Kinds | None = None,
    filename: str | None = None,
    cohort: str | None = None,
    sniffed: str | None = None,
    max_pages: int | None = None,
) -> Outcome:
    """Charge the caller one document (and a concurrency slot while it runs, for media), run
    ``work`` (at most LECTOR_SYNC_MAX_PAGES pages; more is a 413 that names
    ``queued_route``), count a file conversion in the pair rollups (with the client's
    ``cohort``), and book what it used, or the failure (refunded when it was on Lector's
    side). ``asked_types`` narrows what it may be identified as; ``kinds``: the
    caller's types, where it may use its own; ``sniffed``: the document's format, where the
    route found it already; ``max_pages``: the route's own page limit, where it takes fewer
    than LECTOR_SYNC_MAX_PAGES (refused as that limit is)."""
    settings, engines, tenancy, redis = here.settings, here.engines, here.tenancy, here.redis
    types = allowed_types(asked_types, caller, kinds)
    # Once: an unknown format is refused before anything is charged.
    sniffed = sniffed or sniff(document)
    with (
        charged_now(
            tenancy,
            engines,
            caller,
            options,
            queued_route=queued_route,
            pair=pair_of(work, sniffed),
            kinds=kinds,
            sniffed=sniffed,
        ),
        counted(redis, work, sniffed, cohort=cohort),
    ):
        outcome = perform(
            work,
            document,
            options,
            engines,
            max_pages=min(settings.sync_max_pages, settings.max_pages, max_pages or settings.max_pages),
            types=types,
            kinds=kinds,
            filename=filename,
            sniffed=sniffed,
        )
    summary = book(tenancy, caller.owner, outcome)
    if outcome.reading is not None:
        metrics().record(summary, as_job=False)
    return outcome
