"""The tenants' durable data: the Redis keys that must outlive every restart, and that
``lector backup`` copies.

They are the managed keys (records with their secrets' hashes and their AWS credentials'
sealed secrets, the index, where each AWS access key id points, when each key was last used),
the quota each key has left, the model tokens it spent, its usage by day and in all, the rate
windows of the current minute and day, its own document types and the client registrations.
Each pattern is made from the prefix its module defines.

Anonymous callers keep nothing of their own beyond usage and rate windows, which these cover.
The refund guards (``lector:refund:*``) and the media concurrency slots (``lector:slots:*``)
are left out: they belong to jobs in flight, and jobs are not backed up.
"""

from __future__ import annotations

from service.tenants import limits, registrations, store, types, usage

#: Glob patterns (as Redis's SCAN MATCH reads them) of every durable tenant key.
PATTERNS: tuple[str, ...] = (
    store.INDEX,
    store.RECORD_PREFIX + "*",
    store.AWS_ACCESS_KEY_PREFIX + "*",
    limits.QUOTA_PREFIX + "*",
    limits.RATE_PREFIX + "*",
    usage.PREFIX + "*",
    usage.TOKENS_PREFIX + "*",
    types.PREFIX + "*",
    registrations.PREFIX + "*",
)
