"""Convertorio's wire: its request bodies, its answers, its status names and its error body.

Every answer carries ``success``; an error is ``{"success": false, "error": "<sentence>"}``.
Lector's errors keep their sentences and map onto Convertorio's statuses: a request the
client must fix is a 400 (Lector's 413 and 422 included), a spent quota is a 402. A job id is
shown as the UUID it is (``550e8400-e29b-41d4-a716-446655440000``), and taken in that form or
as its 32 digits. A `conversion_metadata` key Lector does not know is ignored, and the
upload URL's answer says so in `warnings` (a list of sentences, absent when empty).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from msgspec import Meta

from service.api.responses import in_other_words
from service.convert.formats import IMAGE_TARGETS, SPELLINGS, TEXT_TARGETS
from service.convert.target import TARGET_NAMES, Target
from service.errors import InvalidOption, LimitExceeded, ValidationFailed
from service.jobs.record import Conversion, is_id
from service.models import Status
from service.options import OPTION_NAMES, Options, item
from service.work import ConvertFile

#: The largest file Convertorio takes (its documents say 20 MB); Lector's own limit may be lower.
MAX_FILE_BYTES = 20 * 1024 * 1024
#: How long an upload URL is valid, in seconds.
UPLOAD_URL_S = 600

JobStatus = Literal["uploading", "queued", "processing", "completed", "failed", "expired"]
#: A job's status in Convertorio's words, from Lector's.
JOB_STATUS: dict[Status, JobStatus] = {
    Status.ENQUEUED: "queued",
    Status.PROCESSING: "processing",
    Status.SUCCESS: "completed",
    Status.FAILED: "failed",
}
#: Convertorio's name of Lector's text targets.
OCR = "ocr"
#: What a key without a limit shows as its points and its conversions left today: -1 (Lector's
#: "no limit") would read as "none left" to a client that checks ``points <= 0``, and this is
#: the largest number every SDK's integer holds (Java's and .NET's int are 32 bits).
UNLIMITED = 2**31 - 1
#: The `conversion_metadata` keys Lector reads: the target's, the options' and `ocr_format`.
_KNOWN_METADATA = frozenset({*TARGET_NAMES, *OPTION_NAMES, "ocr_format"})
#: At most this many ignored keys are named in `warnings`.
_MAX_WARNINGS = 20


class UploadUrlRequest(msgspec.Struct):
    """Body of ``POST /v1/convert/upload-url``."""

    filename: Annotated[str, Meta(min_length=1, max_length=255)]
    source_format: Annotated[str, Meta(max_length=20)]
    target_format: Annotated[str, Meta(min_length=1, max_length=20)]
    file_size: Annotated[int, Meta(ge=1, description="Bytes (at most 20 MB)")]
    conversion_metadata: dict[str, Any] | None = None


class UploadUrl(msgspec.Struct, omit_defaults=True):
    """Answer of ``POST /v1/convert/upload-url``: where to PUT the file, for how long."""

    success: bool
    job_id: Annotated[str, Meta(description="A UUID")]
    upload_url: Annotated[str, Meta(description="PUT the file here, without a key, before it expires")]
    expires_in: Annotated[int, Meta(description="Seconds")]
    warnings: Annotated[
        list[str], Meta(description="What was ignored in conversion_metadata (absent when nothing was)")
    ] = msgspec.field(default_factory=list)


class ConfirmRequest(msgspec.Struct):
    """Body of ``POST /v1/convert/confirm``."""

    job_id: Annotated[str, Meta(min_length=1, max_length=64, description="A UUID")]


class Confirmed(msgspec.Struct):
    """Answer of ``POST /v1/convert/confirm``."""

    success: bool
    job_id: str
    status: JobStatus
    message: str


class Job(msgspec.Struct):
    """A conversion job, as Convertorio describes it."""

    id: Annotated[str, Meta(description="A UUID")]
    status: JobStatus
    original_filename: str | None
    source_format: str | None
    target_format: str
    file_size: int | None
    points_cost: int
    points_used: int
    tokens_used: int
    processing_time_ms: int | None
    created_at: str
    completed_at: str | None
    download_url: Annotated[str | None, Meta(description="Signed: download without a key until it expires")]
    can_download: bool
    is_expired: Annotated[
        bool, Meta(description="Its file is gone: LECTOR_RESULT_TTL_HOURS have passed since it ended")
    ]
    error_message: str | None = None


class JobAnswer(msgspec.Struct):
    """Answer of ``GET /v1/jobs/{id}``."""

    success: bool
    job: Job


class Page(msgspec.Struct):
    """Where a list starts and how long it may be."""

    limit: int
    offset: int


class JobList(msgspec.Struct):
    """Answer of ``GET /v1/jobs``."""

    success: bool
    jobs: list[Job]
    count: int
    pagination: Page


class AccountInfo(msgspec.Struct):
    """The key's account; 2147483647 is no limit."""

    id: str
    email: Annotated[str | None, Meta(description="The key's contact email, when it has one")]
    name: str
    plan: str
    points: Annotated[int, Meta(description="Documents left on the key's quota (2147483647: no quota)")]
    daily_conversions_remaining: Annotated[
        int, Meta(description="Requests left today (2147483647: no limit)")
    ]
    total_conversions: int


class AccountAnswer(msgspec.Struct):
    """Answer of ``GET /v1/account``."""

    success: bool
    account: AccountInfo


class Failure(msgspec.Struct):
    """Every error answer."""

    success: bool
    error: str


def wanted(body: UploadUrlRequest) -> tuple[Target, Options, list[str]]:
    """The target and the options a request asks for, and a warning for each key of
    `conversion_metadata` that was ignored; InvalidOption or ValidationFailed.

    `aspect_ratio: custom` is the ratio of `resize_width` to `resize_height`, which then
    must both be given; the result is exactly that size (``service.convert.images.shape``)."""
    metadata = dict(body.conversion_metadata or {})
    ignored = [name for name in metadata if name not in _KNOWN_METADATA]
    for name in ignored:
        del metadata[name]
    warnings = [
        f"conversion_metadata.{name[:40]} is not an option Lector knows, so it was ignored."
        for name in ignored[:_MAX_WARNINGS]
    ]
    if metadata.get("aspect_ratio") == "custom":
        metadata["aspect_ratio"] = _custom_ratio(metadata.get("resize_width"), metadata.get("resize_height"))
    asked = SPELLINGS.get(body.target_format.lower(), body.target_format.lower())
    ocr_format = metadata.pop("ocr_format", "txt")
    if asked == OCR:
        if ocr_format not in ("txt", "json"):
            raise InvalidOption("conversion_metadata.ocr_format must be txt or json.")
        asked = ocr_format
        metadata.setdefault("structured", ocr_format == "json")
    elif asked not in IMAGE_TARGETS:
        raise InvalidOption(
            f"target_format {body.target_format[:20]!r} is not supported; use ocr or one of: "
            + ", ".join(IMAGE_TARGETS)
            + "."
        )
    shaping = {name: metadata.pop(name) for name in TARGET_NAMES if name in metadata}
    struct: type[msgspec.Struct] = Target
    try:
        target = msgspec.convert({**shaping, "target_format": asked}, Target)
        struct = Options
        options = msgspec.convert(metadata, Options)
    except msgspec.ValidationError as exc:
        raise ValidationFailed([f"conversion_metadata: {item(str(exc), struct)}"]) from None
    return target, options, warnings


def _custom_ratio(width: Any, height: Any) -> str:
    """`aspect_ratio: custom` as Lector's ratio: `resize_width:resize_height`."""
    sides = (width, height)
    if not all(isinstance(side, int) and not isinstance(side, bool) and side >= 1 for side in sides):
        raise InvalidOption(
            "conversion_metadata.aspect_ratio custom is the ratio of resize_width to resize_height: "
            "give both, as whole numbers from 1, or give the ratio itself, such as 16:10."
        )
    return f"{width}:{height}"


def shown_id(conversion_id: str) -> str:
    """A job id as Convertorio shows it: the UUID of its 32 digits."""
    return str(uuid.UUID(hex=conversion_id)) if is_id(conversion_id) else conversion_id


def job_id_of(given: str) -> str:
    """The job id a client sent (a UUID, or its 32 digits) as Lector's; InvalidOption (400)
    for anything else."""
    try:
        return uuid.UUID(given.strip()).hex
    except ValueError:
        raise InvalidOption(
            f"Invalid job id {given[:64]!r}: a job id is the UUID POST /v1/convert/upload-url answered."
        ) from None


def job_of(record: Conversion, download_url: str | None, *, expired: bool = False) -> Job:
    """A stored file conversion as Convertorio's job; ``expired``: one remembered after its
    record expired (``service.jobs.remembered``), shown as it last stood, without its file
    (``expired`` when it was last seen unfinished)."""
    work = record.work
    assert isinstance(work, ConvertFile)  # the routes answer file conversions only
    status = JOB_STATUS.get(record.status, "processing")
    if expired and not record.status.finished:
        status = "expired"
    return Job(
        id=shown_id(record.conversion_id),
        status=status,
        original_filename=record.filename,
        source_format=_extension(record.filename),
        target_format=target_name(work.target.target_format),
        file_size=record.size,
        points_cost=1,
        points_used=1 if record.charged else 0,
        tokens_used=record.tokens_used,
        processing_time_ms=_milliseconds(record.started_at, record.completed_at),
        created_at=record.created_at,
        completed_at=record.completed_at,
        download_url=None if expired else download_url,
        can_download=download_url is not None and not expired,
        is_expired=expired,
        error_message=record.failure,
    )


def target_name(fmt: str) -> str:
    """A Lector target's name in Convertorio's words (its text targets are all ``ocr``)."""
    return OCR if fmt in TEXT_TARGETS else fmt


def _extension(filename: str | None) -> str | None:
    if not filename or "." not in filename:
        return None
    return filename.rsplit(".", 1)[1].lower()[:20]


def _milliseconds(start: str | None, end: str | None) -> int | None:
    if start is None or end is None:
        return None
    span = datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(
        start.replace("Z", "+00:00")
    )
    return round(span.total_seconds() * 1000)


def _status(exc: Exception, status: int) -> int:
    """Convertorio's status for an error: 400 for what the client must fix, 402 for no quota."""
    if isinstance(exc, LimitExceeded) and exc.limit_type == "quota":
        return 402
    return 400 if status in (413, 422) else status


#: The error handlers of the dialect's routes.
ERRORS = in_other_words(lambda message: Failure(success=False, error=message), _status)


def failure_spec(description: str) -> ResponseSpec:
    """An OpenAPI response entry with the error body."""
    return ResponseSpec(data_container=Failure, description=description, generate_examples=False)


AUTH = {401: failure_spec("Missing or wrong API key"), 500: failure_spec("Unexpected error (logged)")}
