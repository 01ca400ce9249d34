"""PDF passwords wait here, encrypted, apart from the job record, only while the job is unfinished.

The record (kept for the whole retention) never holds the password. The worker reads it when
the job starts, and it is deleted as soon as the job ends, either way, so it outlives the
job only if the job never runs (then it expires with the record). Retries after a crash
still find it.

A password is encrypted with the server secret (LECTOR_SECRET) before it reaches Redis, since
what Redis holds outlives a deleted key: its append-only file keeps every write until it is
rewritten, and backups and replicas keep copies. So the API and every worker need the same
secret; without one, a password is not taken for a queued job at all (a worker elsewhere could
not read it). No cipher library is among the dependencies, so the construction uses only
HMAC-SHA256 from the standard library: a key stream from HMAC in counter mode over a random
nonce, then an HMAC tag over the nonce, the job's id and the ciphertext (encrypt-then-MAC),
each with its own key derived from the secret. The tag binds a password to its job.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from redis import Redis

from service.errors import InvalidOption, SettingsError

_KEY = "lector:password:"
_VERSION = b"\x01"
_NONCE_BYTES = 16
_TAG_BYTES = hashlib.sha256().digest_size


def check_keepable(password: str | None, secret: str | None) -> None:
    """Refuse (InvalidOption) a password for a queued job when there is no secret to encrypt it."""
    if password and not secret:
        raise InvalidOption(
            "This server keeps no PDF password for a queued job, as it has no secret (LECTOR_SECRET) "
            "to encrypt it with; send the document to a synchronous route instead."
        )


def keep(redis: Redis, conversion_id: str, password: str, ttl_s: int, secret: str | None) -> None:
    """Hold ``password`` for the job ``conversion_id`` until it ends, encrypted with ``secret``;
    InvalidOption without a secret (which ``check_keepable`` says before anything is stored)."""
    if not secret:
        check_keepable(password, secret)
        return  # an empty password: nothing to keep
    redis.set(_KEY + conversion_id, _seal(secret, conversion_id, password), ex=ttl_s)


def read(redis: Redis, conversion_id: str, secret: str | None) -> str | None:
    """The job's password; None when it has none. SettingsError when ``secret`` is not the one
    it was encrypted with (this worker's LECTOR_SECRET is missing or differs from the API's)."""
    value = redis.get(_KEY + conversion_id)
    if not isinstance(value, bytes):
        return None
    password = _open(secret, conversion_id, value) if secret else None
    if password is None:
        raise SettingsError(
            "The worker cannot decrypt the document's PDF password: its LECTOR_SECRET is not the API's."
        )
    return password


def forget(redis: Redis, conversion_id: str) -> None:
    """Delete the job's password: the job has ended."""
    redis.delete(_KEY + conversion_id)


def _key(secret: str, purpose: bytes) -> bytes:
    # One key per use, so the cipher's and the tag's never meet (nor the URL signatures' raw secret).
    return hmac.new(secret.encode(), b"lector-password-" + purpose, hashlib.sha256).digest()


def _xor_stream(secret: str, nonce: bytes, data: bytes) -> bytes:
    key = _key(secret, b"cipher")
    blocks = -(-len(data) // _TAG_BYTES)
    stream = b"".join(
        hmac.new(key, nonce + block.to_bytes(4, "big"), hashlib.sha256).digest() for block in range(blocks)
    )
    return bytes(a ^ b for a, b in zip(data, stream, strict=False))


def _tag(secret: str, conversion_id: str, nonce: bytes, ciphertext: bytes) -> bytes:
    job = conversion_id.encode()
    message = _VERSION + nonce + len(job).to_bytes(2, "big") + job + ciphertext
    return hmac.new(_key(secret, b"tag"), message, hashlib.sha256).digest()


def _seal(secret: str, conversion_id: str, password: str) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    ciphertext = _xor_stream(secret, nonce, password.encode())
    return _VERSION + nonce + ciphertext + _tag(secret, conversion_id, nonce, ciphertext)


def _open(secret: str, conversion_id: str, sealed: bytes) -> str | None:
    """The password in ``sealed``; None when it was not sealed with ``secret`` for this job."""
    if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[:1] != _VERSION:
        return None
    nonce, ciphertext = sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES : -_TAG_BYTES]
    if not hmac.compare_digest(sealed[-_TAG_BYTES:], _tag(secret, conversion_id, nonce, ciphertext)):
        return None
    return _xor_stream(secret, nonce, ciphertext).decode()
