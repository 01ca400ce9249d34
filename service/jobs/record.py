"""The stored record of one asynchronous conversion, and how ids and times are made."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from service.models import ConversionStatus, FileInfo, Status, WebhookState
from service.options import Options
from service.work import Extract, Work


class StoredFile(msgspec.Struct):
    """A converted file, kept in the store (``service.storage``) until the record expires."""

    name: str
    media_type: str
    size: int
    #: Its key in the store.
    key: str


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
    #: The document's size in bytes (None: a URL a worker fetches).
    size: int | None = None
    #: The document's format, sniffed when it was taken in (None: a URL a worker fetches).
    sniffed: str | None = None
    #: The submitted document's key in the store, until the job ends (None: a URL).
    document_key: str | None = None
    source_url: str | None = None
    options: Options
    #: What the job does: an extraction, a file conversion or an identification.
    work: Work = Extract()
    #: A finished file conversion's file, kept in the store.
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
    #: A dialect's note on the job: what the client asked in that dialect's words (which of
    #: its operations started the job, with what options), so its status answers can be given
    #: in them later. The core only stores it: it never reads it nor shows it on Lector's own
    #: routes. It holds the request's parameters, never the document's content, and is at
    #: most NOTE_MAX_BYTES as JSON (``note_checked``). None for Lector's own routes.
    note: dict[str, Any] | None = None
    #: An extraction's or an identification's result (``service.work.Outcome.result``); a
    #: large one is kept in the store under ``result_key`` (``service.jobs.store``).
    data: dict[str, Any] | None = None
    result_key: str | None = None
    error: dict[str, Any] | None = None

    @property
    def failure(self) -> str | None:
        """Why the work failed, once it has (None while it may still succeed)."""
        return (self.error or {}).get("message") if self.status is Status.FAILED else None

    @property
    def stored_keys(self) -> list[str]:
        """Every key the conversion holds in the store: its document, its file, its result."""
        keys = [self.document_key, self.output.key if self.output else None, self.result_key]
        return [key for key in keys if key]


def now_iso() -> str:
    """The current time in ISO 8601, UTC."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: The most a job's ``note`` may take, as JSON.
NOTE_MAX_BYTES = 32_768


def note_checked(note: dict[str, Any] | None) -> dict[str, Any] | None:
    """``note`` as a record may keep it; ValueError when it is over NOTE_MAX_BYTES (a dialect
    bounds what it notes, so this is the dialect's mistake, not the client's)."""
    if note is not None and len(msgspec.json.encode(note)) > NOTE_MAX_BYTES:
        raise ValueError(f"A job's note may take at most {NOTE_MAX_BYTES} bytes as JSON.")
    return note


#: What every id ``new_id`` makes looks like: 32 lowercase hexadecimal digits.
ID_FORM = re.compile(r"[0-9a-f]{32}")


def new_id() -> str:
    """A random, unguessable job id: a version 4 UUID's 122 random bits (from ``os.urandom``),
    written as its 32 hexadecimal digits (Convertorio shows it as the UUID it is)."""
    return uuid.uuid4().hex


def is_id(text: str) -> bool:
    """Whether ``text`` has the form of an id ``new_id`` makes."""
    return ID_FORM.fullmatch(text) is not None


def conversion_status(
    record: Conversion,
    file: FileInfo | None = None,
    webhook: WebhookState | None = None,
    *,
    status_url: str | None = None,
) -> ConversionStatus:
    """The wire form of a stored conversion (``file``: a file conversion's, once it exists),
    as its status answer and its webhook event carry it."""
    succeeded = record.status is Status.SUCCESS
    result = record.data if succeeded else None
    return ConversionStatus(
        conversion_id=record.conversion_id,
        status=record.status.job_state,
        status_url=status_url,
        document_type_code=record.document_type_code,
        original_filename=record.filename,
        request_timestamp=record.created_at,
        response_timestamp=record.completed_at,
        data=fields_of(result) if result is not None else None,
        error=record.failure,
        progress=record.progress,
        started_at=record.started_at,
        tokens_used=record.tokens_used,
        result=result,
        file=file,
        webhook=webhook,
    )


def fields_of(result: dict[str, Any]) -> dict[str, Any]:
    """A finished conversion's ``data``: a typed document's fields, or a plain text's text."""
    fields = result.get("fields")
    return fields if isinstance(fields, dict) else {"text": result.get("text", "")}
