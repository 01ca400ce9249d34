"""Reading a submission for ``POST /api/convert-async`` from any of its three forms.

multipart/form-data (the file in ``image`` or ``file``), JSON with ``image_base64``, or JSON
with ``image_url``. All three become one ``Submission``; every missing or malformed field
is reported at once, as a list of sentences.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec
from litestar import Request
from litestar.datastructures import UploadFile

from service.api.payloads import check_size, decode_base64_document
from service.errors import InvalidBase64, TooLarge, UnsupportedMediaType, ValidationFailed
from service.models import SubmitOptions
from service.settings import Settings

_FILE_FIELDS = ("image", "file")


class Submission(msgspec.Struct):
    """One document to convert, with what the client asked for."""

    options: SubmitOptions
    fingerprint: str
    document: bytes | None = None
    url: str | None = None
    filename: str | None = None


async def read_submission(request: Request, settings: Settings) -> Submission:
    """Parse the request by its Content-Type; raises UnsupportedMediaType or ValidationFailed."""
    content_type = request.content_type[0]
    if content_type == "multipart/form-data":
        return await _from_form(request, settings)
    if content_type == "application/json":
        return _from_json(_json_object(await request.body()), settings)
    raise UnsupportedMediaType("Unsupported Content-Type. Use multipart/form-data or application/json.")


async def _from_form(request: Request, settings: Settings) -> Submission:
    form = await request.form()
    problems: list[str] = []
    upload = next((form.get(name) for name in _FILE_FIELDS if isinstance(form.get(name), UploadFile)), None)
    if upload is None:
        problems.append("image is required: send the file in the multipart field `image` (or `file`)")
    fields: dict[str, Any] = {name: value for name, value in form.items() if name not in _FILE_FIELDS}
    if isinstance(fields.get("document_metadata"), str):
        try:
            fields["document_metadata"] = json.loads(fields["document_metadata"])
        except ValueError:
            problems.append("document_metadata must be a JSON object")
            fields.pop("document_metadata")
    options = _options(fields, problems)
    if problems or options is None or upload is None:
        raise ValidationFailed(problems)
    document = _read_upload(upload, settings)
    return Submission(
        options=options,
        document=document,
        filename=upload.filename or None,
        fingerprint=fingerprint(options, hashlib.sha256(document).hexdigest()),
    )


def _from_json(fields: dict[str, Any], settings: Settings) -> Submission:
    problems: list[str] = []
    image_base64, image_url = fields.pop("image_base64", None), fields.pop("image_url", None)
    for name, value in (("image_base64", image_base64), ("image_url", image_url)):
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} must be a string")
    if not image_base64 and not image_url:
        problems.append("image_base64 or image_url is required")
    if image_base64 and image_url:
        problems.append("send only one of image_base64 and image_url")
    options = _options(fields, problems)
    if problems or options is None:
        raise ValidationFailed(problems)
    if image_url:
        return Submission(options=options, url=image_url, fingerprint=fingerprint(options, image_url))
    document = decode_base64_document(image_base64, field="image_base64", max_bytes=settings.max_upload_bytes)
    identity = hashlib.sha256(document).hexdigest()
    return Submission(options=options, document=document, fingerprint=fingerprint(options, identity))


def _options(fields: dict[str, Any], problems: list[str]) -> SubmitOptions | None:
    """Convert ``fields`` to options, adding a sentence to ``problems`` when they do not fit."""
    if not fields.get("document_type_code"):
        problems.append("document_type_code is required")
        return None
    try:
        return msgspec.convert(fields, SubmitOptions, strict=False)
    except msgspec.ValidationError as exc:
        problems.append(_sentence(str(exc)))
        return None


def _sentence(message: str) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.psm`" as "psm: expected `int`, got `str`"."""
    reason, _, where = message.partition(" - at `$.")
    field = where.rstrip("`")
    if reason.startswith("Object contains unknown field"):
        return reason.replace("Object contains unknown field", "unknown field")
    return f"{field}: {reason[0].lower()}{reason[1:]}" if field else reason


def fingerprint(options: SubmitOptions, document_identity: str) -> str:
    """What makes two submissions the same request, for Idempotency-Key."""
    encoded = msgspec.json.encode(msgspec.to_builtins(options), order="sorted")
    return hashlib.sha256(encoded + b"\0" + document_identity.encode()).hexdigest()


class BatchDocument(msgspec.Struct):
    """One item of a batch: its bytes, or a URL a worker will fetch."""

    document: bytes | None = None
    url: str | None = None
    filename: str | None = None


class BatchSubmission(msgspec.Struct):
    """A batch: shared options, then the items in input order."""

    options: SubmitOptions
    items: list[BatchDocument]


async def read_batch(request: Request, settings: Settings) -> BatchSubmission:
    """Parse ``POST /api/batches``: multipart with repeated `files`, or JSON with `items`."""
    content_type = request.content_type[0]
    if content_type == "multipart/form-data":
        form = await request.form()
        uploads = (
            [value for value in form.getall("files") if isinstance(value, UploadFile)]
            if "files" in form
            else []
        )
        fields = {name: value for name, value in form.items() if name != "files"}
        problems = [] if uploads else ["files is required: send each document in a multipart field `files`"]
        items = [_uploaded(upload, settings) for upload in uploads]
    elif content_type == "application/json":
        fields = _json_object(await request.body())
        raw_items = fields.pop("items", None)
        problems = []
        if not isinstance(raw_items, list) or not raw_items:
            problems.append("items is required: a list of {image_url} or {image_base64, filename} objects")
            raw_items = []
        items = [_json_item(index, item, settings, problems) for index, item in enumerate(raw_items)]
    else:
        raise UnsupportedMediaType("Unsupported Content-Type. Use multipart/form-data or application/json.")
    _check_count(len(items), settings)
    options = _options(fields, problems)
    if problems or options is None:
        raise ValidationFailed(problems)
    return BatchSubmission(options=options, items=items)


def _uploaded(upload: UploadFile, settings: Settings) -> BatchDocument:
    return BatchDocument(document=_read_upload(upload, settings), filename=upload.filename or None)


def _read_upload(upload: UploadFile, settings: Settings) -> bytes:
    """The uploaded file's bytes, once its size (known from the spooled file) is allowed."""
    check_size(upload.file.seek(0, 2), settings.max_upload_bytes)
    upload.file.seek(0)
    return upload.file.read()


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        fields = msgspec.json.decode(body)
    except msgspec.DecodeError:
        raise ValidationFailed(["the body is not valid JSON"]) from None
    if not isinstance(fields, dict):
        raise ValidationFailed(["the body must be a JSON object"])
    return fields


def _json_item(index: int, item: Any, settings: Settings, problems: list[str]) -> BatchDocument:
    where = f"items[{index}]"
    if not isinstance(item, dict):
        problems.append(f"{where} must be an object")
        return BatchDocument()
    url, encoded, filename = item.get("image_url"), item.get("image_base64"), item.get("filename")
    if bool(url) == bool(encoded):
        problems.append(f"{where}: send exactly one of image_url and image_base64")
        return BatchDocument()
    if url:
        return BatchDocument(url=str(url), filename=filename or str(url).rsplit("/", 1)[-1] or None)
    try:
        document = decode_base64_document(
            str(encoded), field=f"{where}.image_base64", max_bytes=settings.max_upload_bytes
        )
    except InvalidBase64 as exc:
        problems.append(exc.message.rstrip("."))
        return BatchDocument()
    return BatchDocument(document=document, filename=filename)


def _check_count(count: int, settings: Settings) -> None:
    if count > settings.max_batch_items:
        raise TooLarge(
            f"The batch holds {count} items; the limit is {settings.max_batch_items} "
            "(LECTOR_MAX_BATCH_ITEMS)."
        )
