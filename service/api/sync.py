"""Work done inside the request: charge the key one document, extract, book what it used.

Shared by every route that answers a document's text or fields at once (Lector's sync OCR,
Docutray's ``POST /api/convert``); the caller holds a ``SyncGate`` slot around it.
"""

from __future__ import annotations

from typing import NamedTuple

from service.api.charges import allowed_types, charged_now
from service.doctypes import Kinds
from service.engines import Engines
from service.extract import extract
from service.metrics import metrics, summarize_extraction
from service.models import Extraction
from service.options import Options
from service.settings import Settings
from service.tenants.billing import Tenancy
from service.tenants.store import Caller


class Sync(NamedTuple):
    """What a sync request runs with."""

    settings: Settings
    engines: Engines
    tenancy: Tenancy
    caller: Caller


def extract_now(
    document: bytes, options: Options, context: Sync, *, queued_route: str, kinds: Kinds | None = None
) -> Extraction:
    """Charge the key one document, extract (at most LECTOR_SYNC_MAX_PAGES pages; more is a
    413 that names ``queued_route``), and book what it used, or the failure. ``kinds``: the
    caller's types, where it may use its own."""
    settings, engines, tenancy, caller = context
    limit = min(settings.sync_max_pages, settings.max_pages)
    types = allowed_types(None, caller, kinds)
    with charged_now(tenancy, engines, caller, options, queued_route=queued_route, kinds=kinds):
        extraction = extract(document, options, engines, max_pages=limit, types=types, kinds=kinds)
    tenancy.book(caller.owner, extraction)
    metrics().record(summarize_extraction(extraction), as_job=False)
    return extraction
