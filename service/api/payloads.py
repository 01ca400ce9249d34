"""Turning what a client sent into document bytes: base64, data URIs, size limits."""

from __future__ import annotations

import base64
import binascii

from service.errors import DocumentTooLarge, InvalidBase64


def check_size(size: int, max_bytes: int) -> None:
    """Raise DocumentTooLarge when ``size`` bytes exceed ``max_bytes``."""
    if size > max_bytes:
        raise DocumentTooLarge(
            f"The document is {size / 1_048_576:.1f} MB; the limit is {max_bytes // 1_048_576} MB."
        )


def decode_base64_document(value: str, *, field: str, max_bytes: int) -> bytes:
    """Decode a bare base64 string or a ``data:...;base64,`` URI into bytes.

    Line breaks, URL-safe characters and missing padding are accepted, as most clients send
    one of them. The size is checked before decoding, so a huge payload costs no copy.
    """
    payload = value.strip()
    if payload.startswith("data:"):
        header, comma, payload = payload.partition(",")
        if not comma or not header.endswith(";base64"):
            raise InvalidBase64(f"The `{field}` data URI must be base64-encoded (data:<type>;base64,<data>).")
    if not payload:
        raise InvalidBase64(f"The `{field}` field is empty.")
    check_size(len(payload) * 3 // 4 - 2, max_bytes)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        data = _decode_leniently(payload, field)
    check_size(len(data), max_bytes)
    return data


def _decode_leniently(payload: str, field: str) -> bytes:
    cleaned = "".join(payload.split()).replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64(f"The `{field}` field is not valid base64.") from None
