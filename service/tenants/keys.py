"""The format of a managed API key, and the hash that is stored instead of it.

``lec_<id>_<secret><checksum>``:

- ``lec_``: a prefix secret scanners can recognise;
- ``id``: 12 lowercase letters and digits, public (logs, URLs, the CLI name keys by it);
- ``secret``: 22 base62 characters from ``secrets`` (131 bits);
- ``checksum``: 6 base62 characters of the CRC-32 of everything before it, so a mistyped
  key is refused without a lookup.

Only the SHA-256 of the whole key is stored: the secret has enough entropy that a slow
password hash would add nothing but latency.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import zlib

PREFIX = "lec_"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_ID_LENGTH = 12
_SECRET_LENGTH = 22
_CHECKSUM_LENGTH = 6
_SHAPE = re.compile(
    rf"^{PREFIX}(?P<id>[a-z0-9]{{{_ID_LENGTH}}})_(?P<secret>[0-9A-Za-z]{{{_SECRET_LENGTH}}})"
    rf"(?P<checksum>[0-9A-Za-z]{{{_CHECKSUM_LENGTH}}})$"
)
#: A key id alone, as the CLI and the admin routes take it.
KEY_ID_PATTERN = rf"^[a-z0-9]{{{_ID_LENGTH}}}$"


def _checksum(body: str) -> str:
    value = zlib.crc32(body.encode())
    digits = []
    for _ in range(_CHECKSUM_LENGTH):
        value, digit = divmod(value, 62)
        digits.append(_BASE62[digit])
    return "".join(reversed(digits))


def new_key_id() -> str:
    """A fresh public key id."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def new_key(key_id: str) -> str:
    """A fresh key for ``key_id`` (shown once, never stored)."""
    body = f"{PREFIX}{key_id}_" + "".join(secrets.choice(_BASE62) for _ in range(_SECRET_LENGTH))
    return body + _checksum(body)


def is_managed(presented: str) -> bool:
    """Whether ``presented`` claims to be a managed key (it has the prefix)."""
    return presented.startswith(PREFIX)


def key_id_of(presented: str) -> str | None:
    """The public id of a well-formed key whose checksum holds, else None (a typo or a forgery)."""
    match = _SHAPE.match(presented)
    if match is None or _checksum(presented[:-_CHECKSUM_LENGTH]) != match["checksum"]:
        return None
    return match["id"]


def static_key_id(key: str) -> str:
    """The public id of a static key (LECTOR_API_KEYS): the first 16 hex digits of its SHA-256.

    Stable across restarts and processes, safe to log and show, and never a managed key's id
    (those are 12 characters), so both kinds book usage side by side.
    """
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def key_hash(key: str) -> str:
    """What is stored for a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()
