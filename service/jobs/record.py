"""The stored record of one asynchronous conversion, and how ids and times are made."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec

from service.convert.target import Target
from service.models import ConversionStatus, FileInfo, Status, WebhookState
from service.options import Options


class StoredFile(msgspec.Struct):
    """A converted file, kept in the blob store until the record expires."""

    name: str
    media_type: str
    size: int
    blob_id: str


class Conversion(msgspec.Struct, kw_only=True):
    """The stored record of one asynchronous conversion.

    ``options`` never holds the PDF password: it waits in ``service.jobs.passwords`` until
    the job ends.
    """

    conversion_id: str
    owner: str
    document_type_code: str
    status: Status = Status.ENQUEUED
    progress: float = 0.0
    created_at: str
    started_at: str | None = None
    completed_at: str | None = None
    filename: str | None = None
    blob_id: str | None = None
    source_url: str | None = None
    options: Options
    #: A file conversion's target (None: an extraction).
    target: Target | None = None
    #: A finished file conversion's file, kept in the blob store.
    output: StoredFile | None = None
    #: Quota documents its owner paid (0: no quota); refunded once if it fails on our side.
    charged: int = 0
    #: The document types the submitting key may use (None: every type), for ``auto``.
    types: list[str] | None = None
    tokens_used: int = 0
    #: Where the end of the conversion is announced (``service.jobs.webhooks``).
    callback_url: str | None = None
    #: The batch the conversion is an item of.
    batch_id: str | None = None
    data: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


def now_iso() -> str:
    """The current time in ISO 8601, UTC."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A random, unguessable job id."""
    return secrets.token_hex(16)


def conversion_status(
    record: Conversion, file: FileInfo | None = None, webhook: WebhookState | None = None
) -> ConversionStatus:
    """The wire form of a stored conversion (``file``: a file conversion's, once it exists),
    as its status answer and its webhook event carry it."""
    return ConversionStatus(
        conversion_id=record.conversion_id,
        status=record.status,
        progress=record.progress,
        document_type_code=record.document_type_code,
        created_at=record.created_at,
        started_at=record.started_at,
        completed_at=record.completed_at,
        data=record.data if record.status is Status.SUCCESS else None,
        error=record.error if record.status is Status.FAILED else None,
        file=file,
        webhook=webhook,
    )
