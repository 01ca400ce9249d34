"""Signed download URLs: ``?expires=<epoch seconds>&signature=<HMAC>`` over the job id.

The signature is HMAC-SHA256 with LECTOR_SECRET over ``"<id>.<expires>"``, base64url. A
client holding the URL may download until it expires, without a key; a changed id, expiry
or signature is refused (403), an expired URL is gone (410).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Literal

from service.errors import Forbidden, Gone

Verdict = Literal["valid", "tampered", "expired"]


def signature(secret: str, conversion_id: str, expires: int) -> str:
    """The signature of a download of ``conversion_id`` valid until ``expires``."""
    digest = hmac.new(secret.encode(), f"{conversion_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def verify(secret: str, conversion_id: str, expires: str, given: str, now: float | None = None) -> Verdict:
    """Whether a signed URL's parts hold, and whether it is still valid at ``now``."""
    if not expires.isdigit() or len(expires) > 12:
        return "tampered"
    # Bytes: compare_digest refuses str with characters outside ASCII, which a client may send.
    if not hmac.compare_digest(signature(secret, conversion_id, int(expires)).encode(), given.encode()):
        return "tampered"
    return "valid" if int(expires) > (time.time() if now is None else now) else "expired"


def check(secret: str, subject: str, expires: str, given: str, *, url: str, renew: str) -> None:
    """Refuse a signed ``url`` (named so in the sentence: "download", "upload") whose parts do
    not hold (Forbidden) or that has expired (Gone, saying how to ``renew`` it)."""
    verdict = verify(secret, subject, expires, given)
    if verdict == "tampered":
        raise Forbidden(f"The {url} URL's signature does not match it.")
    if verdict == "expired":
        raise Gone(f"The {url} URL has expired; {renew}.")
