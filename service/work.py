"""What a piece of work is.

A kind of work is a type, a msgspec tagged union, never inferred from flags:

- ``Extract``: a document's text and, for a typed document, its fields;
- ``ConvertFile``: the document in another format (``Target``);
- ``Identify``: which document type it is.

A submission, a job record and a sync request all carry one; ``service.perform`` runs it on
the core, whichever way it runs (here and now, or on a worker: ``service.lifecycle``).
"""

from __future__ import annotations

import msgspec

from service.convert.target import Target


class Extract(msgspec.Struct, frozen=True, tag="extract"):
    """Read the document: its text and, for a typed document, its fields."""


class ConvertFile(msgspec.Struct, frozen=True, tag="convert"):
    """Convert the document to ``target``."""

    target: Target


class Identify(msgspec.Struct, frozen=True, tag="identify"):
    """Say which of the allowed document types the document is."""


#: Every kind of work, tagged ``{"type": ...}`` where it is stored.
Work = Extract | ConvertFile | Identify
