"""Small secrets sealed with the server secret (LECTOR_SECRET) before they reach Redis.

What Redis holds outlives a deleted key: its append-only file keeps every write until it is
rewritten, and backups and replicas keep copies. So a secret Lector must read back later (a
queued job's PDF password, the secret of an AWS access key, which SigV4 needs itself to
verify a signature: a hash will not do) is kept sealed: AES-256-GCM under a key derived from
LECTOR_SECRET with HKDF-SHA256, one key per purpose, so that no two uses (nor the download
URLs' signatures, which use the secret as it is) share a key. The associated data binds a
sealed value to what it belongs to (a job's id, an access key's id): moved to another, it no
longer opens. Every process that reads it needs the same LECTOR_SECRET.
"""

from __future__ import annotations

import functools
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

#: The first byte of a sealed value (1 was the PDF passwords' former HMAC-only construction).
_VERSION = b"\x02"
_NONCE_BYTES = 12
_TAG_BYTES = 16


@functools.lru_cache(maxsize=8)
def _cipher(secret: str, purpose: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"lector-{purpose}".encode()).derive(
        secret.encode()
    )
    return AESGCM(key)


def _associated(purpose: str, bound_to: str) -> bytes:
    # Lengths first, so ("a", "bc") and ("ab", "c") never read the same.
    parts = [_VERSION, purpose.encode(), bound_to.encode()]
    return b"".join(len(part).to_bytes(2, "big") + part for part in parts)


def seal(secret: str, purpose: str, plaintext: bytes, *, bound_to: str) -> bytes:
    """``plaintext`` encrypted and authenticated with ``secret``'s key for ``purpose``, opening
    only for the same ``bound_to``; a fresh random nonce each time."""
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return (
        _VERSION + nonce + _cipher(secret, purpose).encrypt(nonce, plaintext, _associated(purpose, bound_to))
    )


def unseal(secret: str, purpose: str, sealed: bytes, *, bound_to: str) -> bytes | None:
    """What ``seal`` sealed; None when ``sealed`` was not sealed with ``secret`` for ``purpose``
    and ``bound_to``, or was altered."""
    if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[:1] != _VERSION:
        return None
    nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
    try:
        return _cipher(secret, purpose).decrypt(nonce, ciphertext, _associated(purpose, bound_to))
    except InvalidTag:
        return None
