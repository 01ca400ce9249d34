"""Turning what a client sent into usable values: JSON bodies, base64, data URIs, size limits,
file names."""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from typing import Any

import msgspec

from service.errors import DocumentTooLarge, InvalidBase64, MalformedBody

#: The longest file name kept (most file systems' limit).
MAX_FILENAME = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


#: The sentences of a JSON body that cannot be used, whichever layer finds it (here, or
#: Litestar's own decoding of a typed body: service.api.responses).
EMPTY_BODY = "The request body is empty; send a JSON object."
NOT_JSON = "The request body is not valid JSON."
NOT_UTF8 = "The request body is not valid JSON: a string in it is not UTF-8."
TOO_DEEP = "The JSON body is nested too deeply."


def decode_json_body(
    body: bytes | bytearray | memoryview, *, verbatim: tuple[str, ...] = ()
) -> dict[str, Any]:
    """A JSON object from ``body``; MalformedBody (400) for anything else.

    A string under a name in ``verbatim`` is left as its JSON token, quotes included (a
    memoryview into ``body``), for ``decode_base64_document``: decoding a 100 MB base64
    string into a Python str holds the GIL for a good part of a second, and the event loop
    with it, where decoding the base64 straight from the token holds it a few ms at a time.
    """
    # isspace stops at the first other byte; strip would copy. A spooled body (a memoryview)
    # is over a megabyte: all blanks, it is simply not JSON.
    if not body or (not isinstance(body, memoryview) and body.isspace()):
        raise MalformedBody(EMPTY_BODY)
    try:
        tokens = msgspec.json.decode(body, type=dict[str, msgspec.Raw])
        return {
            name: view if name in verbatim and bytes(view[:1]) == b'"' else msgspec.json.decode(view)
            for name, view in ((name, memoryview(token)) for name, token in tokens.items())
        }
    except msgspec.ValidationError:  # valid JSON, not an object (a subclass of DecodeError)
        raise MalformedBody("The request body must be a JSON object.") from None
    except msgspec.DecodeError:
        raise MalformedBody(NOT_JSON) from None
    except UnicodeDecodeError:  # msgspec's error for invalid UTF-8 inside a string
        raise MalformedBody(NOT_UTF8) from None
    except RecursionError:
        raise MalformedBody(TOO_DEEP) from None


def decode_form_metadata(fields: dict[str, Any]) -> bool:
    """Decode ``document_metadata``, which a multipart form carries as a JSON string, in place.

    Returns False (and drops the field) when it is not a JSON object.
    """
    raw = fields.get("document_metadata")
    if not isinstance(raw, str):
        return True
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        fields.pop("document_metadata")
        return False
    fields["document_metadata"] = value
    return True


def clean_filename(name: str | None) -> str | None:
    """A client's file name fit to store and show: no path, no control characters, at most
    255 characters (the extension kept); None when nothing is left."""
    if not name:
        return None
    base = _CONTROL.sub("", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if base in ("", ".", ".."):
        return None
    if len(base) > MAX_FILENAME:
        _stem, dot, extension = base.rpartition(".")
        keep = extension if dot and len(extension) <= 16 else ""
        base = base[: MAX_FILENAME - len(keep) - 1] + "." + keep if keep else base[:MAX_FILENAME]
    return base


def check_size(size: int, max_bytes: int) -> None:
    """Raise DocumentTooLarge when ``size`` bytes exceed ``max_bytes``."""
    if size > max_bytes:
        shown = f"{size / 1_048_576:.1f} MB"
        if shown == f"{max_bytes / 1_048_576:.1f} MB":  # just past it: in bytes, or it reads as equal
            shown = f"{size} bytes, {size - max_bytes} over"
        raise DocumentTooLarge(f"The document is {shown}; the limit is {max_bytes // 1_048_576} MB.")


def decode_base64_document(value: str | memoryview, *, field: str, max_bytes: int) -> bytes:
    """Decode a bare base64 string or a ``data:...;base64,`` URI into bytes.

    ``value`` is the string, or its JSON token as sent (see ``decode_json_body``), which is
    decoded as it stands when it is plain base64 and only otherwise read as a JSON string.
    Line breaks, URL-safe characters and missing padding are accepted, as most clients send
    one of them. The size is checked before decoding, so a huge payload costs no copy.
    """
    if isinstance(value, memoryview):
        check_size(len(value) * 3 // 4 - 2, max_bytes)
        inside = value[1:-1]
        if inside and bytes(inside[:5]) != b"data:":
            try:
                data = _decode_in_chunks(inside)
            except (binascii.Error, ValueError):
                pass  # escapes, line breaks, URL-safe characters: read it as a string below
            else:
                check_size(len(data), max_bytes)
                return data
        try:
            value = msgspec.json.decode(value, type=str)
        except UnicodeDecodeError:
            raise MalformedBody(NOT_UTF8) from None
    payload = value.strip()
    if payload.startswith("data:"):
        header, comma, payload = payload.partition(",")
        if not comma or not header.endswith(";base64"):
            raise InvalidBase64(f"The `{field}` data URI must be base64-encoded (data:<type>;base64,<data>).")
    if not payload:
        raise InvalidBase64(f"The `{field}` field is empty.")
    check_size(len(payload) * 3 // 4 - 2, max_bytes)
    try:
        data = _decode_in_chunks(payload)
    except (binascii.Error, ValueError):
        data = _decode_leniently(payload, field)
    check_size(len(data), max_bytes)
    return data


#: Base64 characters decoded per call (a multiple of 4). One call holds the GIL throughout;
#: 512 KiB takes about 2 ms, so the event loop and other requests get their turn.
_CHUNK = 512 * 1024


def _decode_in_chunks(payload: str | memoryview) -> bytes:
    """Decode a step at a time (the GIL is let go between steps) into one growing buffer:
    ``BytesIO.getvalue`` hands its buffer over without a copy, so the document is in memory
    once, where joining the steps held it twice."""
    if len(payload) <= _CHUNK:
        return base64.b64decode(payload, validate=True)
    decoded = io.BytesIO()
    for start in range(0, len(payload), _CHUNK):
        decoded.write(base64.b64decode(payload[start : start + _CHUNK], validate=True))
    return decoded.getvalue()


def _decode_leniently(payload: str, field: str) -> bytes:
    cleaned = "".join(payload.split()).replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64(f"The `{field}` field is not valid base64.") from None
