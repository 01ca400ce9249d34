"""Work done in the request: the sync slot held around the lifecycle here and now."""

from __future__ import annotations

from service.api.gate import SyncGate
from service.convert.output import OutputFile
from service.jobs.intake import Submission
from service.lifecycle.now import run_now
from service.lifecycle.steps import Here
from service.tenants.store import Caller

#: Where a conversion too large to answer at once goes instead.
QUEUED_ROUTE = "POST /api/convert-file-async"


def convert_at_once(
    submission: Submission, here: Here, caller: Caller, gate: SyncGate, *, cohort: str | None = None
) -> OutputFile:
    """Convert one document in this request (in a worker thread, holding a sync slot), through
    the lifecycle here and now (``cohort``: the client's, for the pair rollups, when known)."""
    assert submission.document is not None
    with gate.slot():
        outcome = run_now(
            submission.work,
            submission.document,
            submission.options,
            here,
            caller,
            queued_route=QUEUED_ROUTE,
            filename=submission.filename,
            cohort=cohort,
            sniffed=submission.sniffed,
        )
    assert outcome.output is not None  # a file conversion always makes a file
    return outcome.output
