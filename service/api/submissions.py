"""Reading a submitted document: conversions (sync and queued), identifications, file
conversions and batches (``POST /api/batches/``).

multipart/form-data (the file in ``image`` or ``file``), JSON with ``image_base64`` (or
``image``, the sync endpoints' name), or JSON with ``image_url``. All become a
``service.jobs.intake.Submission``; options are checked by the one ``Options`` type, exactly
as on the sync endpoints, and every problem is reported at once, as a list of sentences.
Decoding a large body (JSON, base64) and hashing it run in a worker thread, never on the
event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Annotated, Any, NamedTuple

import anyio
import msgspec
from litestar import Request
from litestar.datastructures import UploadFile
from msgspec import Meta

from service.api.payloads import (
    check_size,
    clean_filename,
    decode_base64_document,
    decode_form_metadata,
    decode_json_body,
)
from service.convert.formats import TARGETS
from service.convert.target import TARGET_NAMES, Target
from service.doctypes import AUTO
from service.errors import InvalidBase64, InvalidOption, TooLarge, UnsupportedMediaType, ValidationFailed
from service.jobs.intake import BatchSubmission, Submission
from service.jobs.webhooks import check_url
from service.options import Options, every_problem, item
from service.pages import Source
from service.settings import Settings
from service.typeinfo import fields_of
from service.work import ConvertFile, Extract, Identify, Work

_FILE_FIELDS = ("image", "file")
#: A JSON body larger than this is spooled to a temporary file (``spooled_body``).
SPOOL_BYTES = 1024 * 1024
#: At most this many codes in `document_type_code_options`.
_MAX_CODE_OPTIONS = 100
#: JSON names of the base64 document: Docutray's and ImageToTextConverter's.
BASE64_FIELDS = ("image_base64", "image")
#: The target's fields that hold a list (``icon_sizes``).
_TARGET_LISTS = tuple(
    field.name for field in fields_of(Target) if isinstance(field.kind, msgspec.inspect.ListType)
)


class BatchItemBody(msgspec.Struct, forbid_unknown_fields=True):
    """One item of a JSON batch: a URL, or base64 (under either name) with a filename."""

    image_url: Annotated[str, Meta(max_length=8192)] | None = None
    image_base64: str | None = None
    image: str | None = None
    filename: str | None = None


class Reading(NamedTuple):
    """What kind of submission a route reads."""

    #: A file conversion: `target_format` and its options make a ``ConvertFile`` (and
    #: `document_type_code` may be left out).
    with_target: bool = False
    #: An identification: no `document_type_code`; Docutray's `document_type_code_options`
    #: (a list, or a JSON list in a form) limits the candidates (``Submission.types``).
    identify: bool = False


async def read_submission(
    request: Request[Any, Any, Any], settings: Settings, *, with_target: bool = False, identify: bool = False
) -> Submission:
    """Parse the request by its Content-Type; raises UnsupportedMediaType or ValidationFailed.

    Docutray's `image_content_type` is accepted and not needed: Lector sniffs the bytes.
    """
    reading = Reading(with_target, identify)
    content_type = request.content_type[0]
    if content_type == "multipart/form-data":
        return await _from_form(request, settings, reading)
    if content_type == "application/json":
        async with spooled_body(request) as body:
            return await anyio.to_thread.run_sync(_from_json, body, settings, reading)
    raise UnsupportedMediaType("Unsupported Content-Type. Use multipart/form-data or application/json.")


@asynccontextmanager
async def spooled_body(request: Request[Any, Any, Any]) -> AsyncIterator[bytearray | memoryview]:
    """The request body, read chunk by chunk: in memory up to SPOOL_BYTES, beyond that in a
    temporary file, read through a memory map (valid inside the ``with``).

    A large JSON body (a base64 document) so lives in the page cache, which the kernel may
    drop and reread, rather than in the process's own memory beside the decoded document:
    the decoding reads its base64 straight from the map, copying nothing but the result.
    Not ``Request.body()``: its single ``b"".join`` of a 100 MB body lets go of the GIL for
    the copy and then queues behind the threads decoding other bodies to get it back, which
    held /health for a second in a test; appending each chunk as it arrives never waits.
    """
    body = bytearray()
    spool: IO[bytes] | None = None
    with contextlib.ExitStack() as closing:
        async for chunk in request.stream():
            if spool is None and len(body) + len(chunk) > SPOOL_BYTES:
                spool = closing.enter_context(tempfile.TemporaryFile(prefix="lector-body-"))
                spool.write(body)
                body = bytearray()
            if spool is not None:
                spool.write(chunk)
            else:
                body += chunk
        if spool is None:
            yield body
            return
        spool.flush()
        mapped = mmap.mmap(spool.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)
        try:
            yield view
        finally:
            # A part still held (by an error's traceback) keeps the map open until it is collected.
            with contextlib.suppress(BufferError):
                view.release()
                mapped.close()


async def _from_form(request: Request[Any, Any, Any], settings: Settings, reading: Reading) -> Submission:
    form = await request.form()
    problems: list[str] = []
    upload = next((form.get(name) for name in _FILE_FIELDS if isinstance(form.get(name), UploadFile)), None)
    if upload is None:
        problems.append("image is required: send the file in the multipart field `image` (or `file`)")
    fields: dict[str, Any] = {name: value for name, value in form.items() if name not in _FILE_FIELDS}
    callback = _callback(fields, problems)
    target = _target(fields, problems) if reading.with_target else None
    candidates = _docutray_fields(fields, problems, reading)
    options = form_options(fields, problems, require_type=not (reading.with_target or reading.identify))
    if problems or options is None or upload is None:
        raise ValidationFailed(problems)
    document = await anyio.to_thread.run_sync(read_upload, upload, settings)
    digest = await anyio.to_thread.run_sync(_sha256, document)
    return Submission(
        options=options,
        document=document,
        filename=clean_filename(upload.filename),
        fingerprint=fingerprint(options, digest, target),
        work=_work(reading, target),
        callback_url=callback,
        types=candidates,
    )


def _work(reading: Reading, target: Target | None) -> Work:
    """The kind of work a submission asks for."""
    if target is not None:
        return ConvertFile(target)
    return Identify() if reading.identify else Extract()


def _docutray_fields(fields: dict[str, Any], problems: list[str], reading: Reading) -> list[str] | None:
    """Take Docutray's own fields out of ``fields``: `image_content_type` (checked, unused) and,
    for an identification, `document_type_code_options` (returned; the codes are checked
    against the caller's types later) and `document_type_code=auto`."""
    content_type = fields.pop("image_content_type", None)
    if content_type is not None and (not isinstance(content_type, str) or len(content_type) > 255):
        problems.append("image_content_type: must be a media type such as image/png")
    if not reading.identify:
        return None
    fields["document_type_code"] = AUTO
    given = fields.pop("document_type_code_options", None)
    if isinstance(given, str):  # a form field holds the list as JSON
        try:
            given = msgspec.json.decode(given)
        except msgspec.DecodeError:  # or as comma-separated codes
            given = [code.strip() for code in given.split(",") if code.strip()] or None
    if given is None:
        return None
    if (
        not isinstance(given, list)
        or not 0 < len(given) <= _MAX_CODE_OPTIONS
        or not all(isinstance(code, str) for code in given)
    ):
        problems.append(
            f"document_type_code_options: must be a list of 1 to {_MAX_CODE_OPTIONS} document type codes"
        )
        return None
    return list(dict.fromkeys(given))


def form_options(fields: dict[str, Any], problems: list[str], *, require_type: bool = True) -> Options | None:
    """Options from multipart form fields or a JSON body's, where ``document_metadata`` may
    arrive as a JSON string: a form can carry nothing else, and Docutray's field table types
    it so ("Additional document metadata as JSON string"), in JSON bodies too."""
    if not decode_form_metadata(fields):
        problems.append("document_metadata: must be a JSON object")
    return _options(fields, problems, require_type=require_type)


def _from_json(body: bytes | bytearray | memoryview, settings: Settings, reading: Reading) -> Submission:
    fields = decode_json_body(body, verbatim=BASE64_FIELDS)
    problems: list[str] = []
    callback = _callback(fields, problems)
    target = _target(fields, problems) if reading.with_target else None
    candidates = _docutray_fields(fields, problems, reading)
    encoded = _base64_field(fields, problems)
    image_url = fields.pop("image_url", None)
    if image_url is not None and not isinstance(image_url, str):
        problems.append("image_url: must be a string")
    if not encoded and not image_url:
        problems.append("image_base64 (or image) or image_url is required")
    if encoded and image_url:
        problems.append("send only one of image_base64 and image_url")
    options = form_options(fields, problems, require_type=not (reading.with_target or reading.identify))
    if problems or options is None:
        raise ValidationFailed(problems)
    shared = Submission(options=options, work=_work(reading, target), callback_url=callback, types=candidates)
    if image_url:
        identity = fingerprint(options, image_url, target)
        return msgspec.structs.replace(shared, url=image_url, fingerprint=identity)
    assert encoded is not None  # no URL, so the base64 field was given (checked above)
    field, value = encoded
    document = decode_base64_document(value, field=field, max_bytes=settings.max_upload_bytes)
    identity = fingerprint(options, _sha256(document), target)
    return msgspec.structs.replace(shared, document=document, fingerprint=identity)


def _base64_field(fields: dict[str, Any], problems: list[str]) -> tuple[str, str | memoryview] | None:
    """(name, value) of the base64 document under either accepted name (its JSON token, or
    the string itself)."""
    given = [(name, fields.pop(name)) for name in BASE64_FIELDS if fields.get(name) is not None]
    for name, value in given:
        if not isinstance(value, str | memoryview):
            problems.append(f"{name}: must be a string")
            return None
    if len(given) > 1:
        problems.append("send the document in one of image_base64 and image, not both")
        return None
    return given[0] if given else None


def _target(fields: dict[str, Any], problems: list[str]) -> Target | None:
    """Take a file conversion's fields out of ``fields`` as its Target."""
    given = {name: fields.pop(name) for name in TARGET_NAMES if name in fields}
    for name in _TARGET_LISTS:  # a form writes a list as `16,32`
        if isinstance(given.get(name), str):
            given[name] = [part.strip() for part in given[name].split(",") if part.strip()]
    if "target_format" not in given:
        problems.append("target_format is required: one of " + ", ".join(TARGETS))
        return None
    try:
        return msgspec.convert(given, Target, strict=False)
    except msgspec.ValidationError as exc:
        problems.append(item(str(exc), Target))
        return None


def _options(fields: dict[str, Any], problems: list[str], *, require_type: bool = True) -> Options | None:
    """Convert ``fields`` to options, adding a sentence to ``problems`` for each that does not fit."""
    if require_type and not fields.get("document_type_code"):
        problems.append("document_type_code is required")
        fields = {name: value for name, value in fields.items() if name != "document_type_code"}
        problems.extend(every_problem(fields))
        return None
    try:
        return msgspec.convert(fields, Options, strict=False)
    except msgspec.ValidationError as exc:
        problems.extend(every_problem(fields) or [item(str(exc))])
        return None


def fingerprint(options: Options, document_identity: str, target: Target | None = None) -> str:
    """What makes two submissions the same request, for Idempotency-Key."""
    encoded = msgspec.json.encode(msgspec.to_builtins([options, target]), order="sorted")
    return hashlib.sha256(encoded + b"\0" + document_identity.encode()).hexdigest()


def _sha256(source: Source) -> str:
    if not isinstance(source, Path):
        return hashlib.sha256(source).hexdigest()
    with source.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


async def read_batch(request: Request[Any, Any, Any], settings: Settings) -> BatchSubmission:
    """Parse ``POST /api/batches``: multipart with repeated `files`, or JSON with `items`."""
    content_type = request.content_type[0]
    if content_type == "multipart/form-data":
        form = await request.form()
        uploads = (
            [value for value in form.getall("files") if isinstance(value, UploadFile)]
            if "files" in form
            else []
        )
        _check_count(len(uploads), settings)
        fields = {name: value for name, value in form.items() if name != "files"}
        problems = [] if uploads else ["files is required: send each document in a multipart field `files`"]
        callback = _callback(fields, problems)
        options = form_options(fields, problems)
        if problems or options is None:
            raise ValidationFailed(problems)
        items = await anyio.to_thread.run_sync(lambda: [_uploaded(upload, settings) for upload in uploads])
        return BatchSubmission(options=options, items=items, callback_url=callback)
    if content_type == "application/json":
        async with spooled_body(request) as body:
            return await anyio.to_thread.run_sync(_batch_from_json, body, settings)
    raise UnsupportedMediaType("Unsupported Content-Type. Use multipart/form-data or application/json.")


def _batch_from_json(body: bytes | bytearray | memoryview, settings: Settings) -> BatchSubmission:
    fields = decode_json_body(body)
    raw_items = fields.pop("items", None)
    problems: list[str] = []
    if not isinstance(raw_items, list) or not raw_items:
        problems.append("items is required: a list of {image_url} or {image_base64, filename} objects")
        raw_items = []
    _check_count(len(raw_items), settings)
    items = [_json_item(index, raw, settings, problems) for index, raw in enumerate(raw_items)]
    callback = _callback(fields, problems)
    options = form_options(fields, problems)
    if problems or options is None:
        raise ValidationFailed(problems[:50])
    return BatchSubmission(
        options=options, items=[item for item in items if item is not None], callback_url=callback
    )


def _uploaded(upload: UploadFile, settings: Settings) -> Submission:
    document = read_upload(upload, settings)
    return Submission(options=Options(), document=document, filename=clean_filename(upload.filename))


def read_upload(upload: UploadFile, settings: Settings, max_bytes: int | None = None) -> Source:
    """The uploaded file, once its size (known from the spooled file) is allowed (at most
    ``max_bytes``, by default LECTOR_MAX_UPLOAD_MB): its bytes, or, over SPOOL_BYTES, the file
    it was spooled to as it arrived, which is read from disk as needed (checked, hashed and
    stored piece by piece) and never held whole in memory. It lives as long as the request."""
    size = upload.file.seek(0, 2)
    check_size(size, settings.max_upload_bytes if max_bytes is None else max_bytes)
    upload.file.seek(0)
    if size <= SPOOL_BYTES:
        return upload.file.read()
    # The spool is an unnamed temporary file (O_TMPFILE); its descriptor's /proc path opens it.
    return Path(f"/proc/self/fd/{upload.file.fileno()}")


def _json_item(index: int, raw: Any, settings: Settings, problems: list[str]) -> Submission | None:
    """One JSON batch item, checked by its type; a problem names the item's index."""
    where = f"items[{index}]"
    try:
        body = msgspec.convert(raw, BatchItemBody)
    except msgspec.ValidationError as exc:
        problem = item(str(exc))
        problems.append(f"{where}.{problem}" if " - at `$." in str(exc) else f"{where}: {problem}")
        return None
    encoded = body.image_base64 if body.image_base64 is not None else body.image
    if bool(body.image_url) == bool(encoded) or (body.image_base64 is not None and body.image is not None):
        problems.append(f"{where}: send exactly one of image_url and image_base64")
        return None
    if body.image_url:
        name = clean_filename(body.filename) or clean_filename(body.image_url.rsplit("/", 1)[-1])
        return Submission(options=Options(), url=body.image_url, filename=name)
    try:
        document = decode_base64_document(
            str(encoded), field=f"{where}.image_base64", max_bytes=settings.max_upload_bytes
        )
    except InvalidBase64 as exc:
        problems.append(exc.message.rstrip("."))
        return None
    return Submission(options=Options(), document=document, filename=clean_filename(body.filename))


def _callback(fields: dict[str, Any], problems: list[str]) -> str | None:
    """The `callback_url` field, taken out of the options (its address is checked on intake;
    an empty one is refused, as a delivery would refuse it)."""
    value = fields.pop("callback_url", None)
    if value is None:
        return None
    try:
        return check_url(value)
    except InvalidOption as exc:
        problems.append(exc.message.rstrip("."))
        return None


def _check_count(count: int, settings: Settings) -> None:
    if count > settings.max_batch_items:
        raise TooLarge(
            f"The batch holds {count} items; "
            f"the limit is {settings.max_batch_items} (LECTOR_MAX_BATCH_ITEMS)."
        )
