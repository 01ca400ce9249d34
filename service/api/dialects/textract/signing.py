"""AWS Signature Version 4, verified: which managed key signed a Textract request.

boto3 signs each request with an access key id and a secret access key, which
``POST /admin/keys/{key_id}/aws-credentials`` and ``lector keys aws-credentials`` give a
managed key (``service.tenants.aws_credentials``). Here the canonical request is rebuilt from
what arrived, as botocore's ``SigV4Auth`` builds it before sending, and the signature made
from it with the key's secret is compared with the client's in constant time. As AWS:

- the credential's scope must name the service ``textract`` and the request's own day; any
  region is accepted;
- the request's time (``X-Amz-Date``, else ``Date``) may be 5 minutes off either way;
- Lector issues no session tokens, so a request with ``X-Amz-Security-Token`` is refused.

And, stricter than AWS for the JSON services: the body is always signed, so an
``X-Amz-Content-SHA256`` header (``UNSIGNED-PAYLOAD`` included) must be the body's hash. The
query string is canonicalized as botocore signs query parameters (decoded, then encoded
again); a Textract request has none. The Host header and the path are signed: a proxy in
front of Lector must pass them unchanged.

Static keys (LECTOR_API_KEYS) have no AWS credentials: a Textract client signs with a managed
key's. With authentication off, anyone is admitted, signed or not, as on Lector's other routes.

Each refusal is Lector's ``Unauthorized``, named for the AWS error it is on the wire
(``aws_type``). The request line and headers are bounded by the server (LECTOR_MAX_HEADER_KB);
what the Authorization header claims is bounded here before it is read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote, unquote_plus

import anyio
from litestar import Request

from service.api.services import Lector
from service.errors import Unauthorized
from service.tenants.store import Caller, static_caller

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "textract"
TERMINATOR = "aws4_request"
#: How far the request's time may be from the server's, either way (AWS's limit).
MAX_SKEW = timedelta(minutes=5)
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_MAX_AUTHORIZATION = 4096
_MAX_SIGNED_HEADERS = 32
_MAX_PATH = 4096
_MAX_QUERY = 8192
_HEADER_NAME = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]{1,128}")
_REGION = re.compile(r"[A-Za-z0-9_-]{1,64}")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")


class SignatureRefused(Unauthorized):
    """A request's AWS signature is missing, malformed or wrong; ``aws_type`` is the name of
    the error on Textract's wire (the class's own name)."""

    aws_type: ClassVar[str]
    #: AWS's own sentence, when the refusal has one.
    aws_message: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.aws_type = cls.__name__

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.aws_message)


class UnrecognizedClientException(SignatureRefused):
    """No active key holds the access key id (unknown, revoked, expired, past a rotation's
    grace), or the request carries a session token, which Lector never issues."""

    aws_message = "The security token included in the request is invalid."


class InvalidSignatureException(SignatureRefused):
    """The signature is not the one the key's secret makes for this request, or its scope or
    time does not hold (another service, another day, a clock more than 5 minutes off)."""

    aws_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method. "
        "Consult the service documentation for details."
    )


class MissingAuthenticationTokenException(SignatureRefused):
    """The request has no Authorization header."""

    aws_message = (
        "Request is missing Authentication Token: sign it with AWS Signature Version 4, with "
        "the AWS credentials of a Lector key."
    )


class IncompleteSignatureException(SignatureRefused):
    """The Authorization header, or the request's date, is malformed."""


@dataclass(frozen=True)
class SignedRequest:
    """A request as it arrived, in the parts SigV4 signs: the path and the query string as
    sent (still percent-encoded), every header field in order, and the whole body."""

    method: str
    path: str
    query: str
    headers: Sequence[tuple[str, str]]
    #: Any bytes-like body: the route's spooled body is a memory map, hashed without a copy.
    body: bytes | bytearray | memoryview

    @classmethod
    def of(cls, request: Request[Any, Any, Any], body: bytes | bytearray | memoryview) -> SignedRequest:
        """``request`` with its ``body``, from the ASGI scope (bytes as on the wire)."""
        scope = request.scope
        raw_path = scope.get("raw_path")
        return cls(
            method=request.method,
            path=raw_path.decode("latin-1") if raw_path else quote(scope["path"]),
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]],
            body=body,
        )


@dataclass(frozen=True)
class Signature:
    """What a request's Authorization header and date claim."""

    access_key_id: str
    #: The request's time, as signed: ``20261205T103010Z``.
    timestamp: str
    region: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        """The credential scope: ``20261205/us-east-1/textract/aws4_request``."""
        return f"{self.timestamp[:8]}/{self.region}/{SERVICE}/{TERMINATOR}"


def read_signature(request: SignedRequest, now: datetime) -> Signature:
    """What ``request``'s signature claims, checked for all but the secret: its form, its
    scope, and its time against ``now``. Raises a ``SignatureRefused``."""
    if _values(request.headers, "x-amz-security-token"):
        raise UnrecognizedClientException()
    authorization = _one(request.headers, "authorization")
    if authorization is None:
        raise MissingAuthenticationTokenException()
    parts = _authorization_parts(authorization)
    access_key_id, day, region = _credential(parts["Credential"])
    signed_headers = _signed_headers(parts["SignedHeaders"])
    timestamp = _request_time(request.headers)
    if day != timestamp[:8]:
        raise InvalidSignatureException(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            f"HTTP: '{day[:16]}' != '{timestamp[:8]}', from '{timestamp}'."
        )
    _check_time(timestamp, now)
    return Signature(
        access_key_id=access_key_id,
        timestamp=timestamp,
        region=region,
        signed_headers=signed_headers,
        signature=parts["Signature"],
    )


def check_signature(signature: Signature, request: SignedRequest, secret_access_key: str) -> None:
    """Refuse (InvalidSignatureException) unless ``signature`` is the one ``secret_access_key``
    makes for ``request``; compared in constant time."""
    body_hash = hashlib.sha256(request.body).hexdigest()
    declared = _one(request.headers, "x-amz-content-sha256")
    if declared is not None and declared != body_hash:
        raise InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    canonical = "\n".join(
        [
            request.method.upper(),
            _canonical_path(request.path),
            _canonical_query(request.query),
            _canonical_headers(request.headers, signature.signed_headers) + "\n",
            ";".join(signature.signed_headers),
            body_hash,
        ]
    )
    to_sign = "\n".join(
        [ALGORITHM, signature.timestamp, signature.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret_access_key}".encode()
    for part in (signature.timestamp[:8], signature.region, SERVICE, TERMINATOR):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    # Bytes: compare_digest refuses str with characters outside ASCII, which a client may send.
    if not hmac.compare_digest(expected.encode(), signature.signature.encode()):
        raise InvalidSignatureException()


async def signed_caller(
    request: Request[Any, Any, Any], body: bytes | bytearray | memoryview, lector: Lector
) -> Caller:
    """The caller of a SigV4-signed ``request`` whose whole ``body`` the handler has read
    (bounded): the managed key holding the access key id, once its signature holds, kept in
    ``request.state.caller`` as the auth guard keeps it (for the RateLimit headers). Raises
    a ``SignatureRefused``. With authentication off, anyone is admitted, as elsewhere."""
    if not lector.settings.auth_enabled:
        caller = static_caller("anonymous")
    else:
        signed = SignedRequest.of(request, body)
        # In a thread: a lookup in Redis, and hashing a body of up to the upload limit.
        caller = await anyio.to_thread.run_sync(_caller_of, lector, signed, datetime.now(UTC))
    request.state.caller = caller
    return caller


def _caller_of(lector: Lector, signed: SignedRequest, now: datetime) -> Caller:
    signature = read_signature(signed, now)
    holder = lector.aws_credentials.lookup(signature.access_key_id)
    if holder is None:
        raise UnrecognizedClientException()
    check_signature(signature, signed, holder.secret_access_key)
    lector.keys.touch(holder.caller.owner)
    return holder.caller


def _values(headers: Sequence[tuple[str, str]], name: str) -> list[str]:
    """Every value of header ``name`` (lower case), in order."""
    return [value for key, value in headers if key.lower() == name]


def _one(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    """The value of header ``name``, sent once at most (IncompleteSignatureException if more)."""
    values = _values(headers, name)
    if len(values) > 1:
        raise IncompleteSignatureException(f"The {name} header must be sent once.")
    return values[0] if values else None


def _authorization_parts(authorization: str) -> dict[str, str]:
    """``Credential``, ``SignedHeaders`` and ``Signature`` of an AWS4-HMAC-SHA256 header."""
    if len(authorization) > _MAX_AUTHORIZATION:
        raise IncompleteSignatureException(
            f"The Authorization header is longer than {_MAX_AUTHORIZATION} characters."
        )
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"The Authorization header must be an {ALGORITHM} signature, made with the AWS "
            "credentials of a Lector key."
        )
    parts: dict[str, str] = {}
    for component in rest.split(",", 3):  # three components; a fourth is refused below
        name, equals, value = component.strip().partition("=")
        if not equals or name in parts:
            raise IncompleteSignatureException(
                "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
                "parameters, each once, as name=value separated by commas."
            )
        parts[name] = value.strip()
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in parts:
            raise IncompleteSignatureException(f"Authorization header requires '{required}' parameter.")
    if len(parts) > 3:
        raise IncompleteSignatureException(
            "Authorization header takes only 'Credential', 'SignedHeaders' and 'Signature' parameters."
        )
    return parts


def _credential(credential: str) -> tuple[str, str, str]:
    """The access key id, day and region of ``keyid/date/region/textract/aws4_request``."""
    parts = credential.split("/")
    if len(parts) != 5:
        raise IncompleteSignatureException(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term."
        )
    access_key_id, day, region, service, terminator = parts
    if terminator != TERMINATOR:
        raise InvalidSignatureException(
            f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{terminator[:32]}'."
        )
    if service != SERVICE:
        raise InvalidSignatureException(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if not _REGION.fullmatch(region):
        raise InvalidSignatureException("Credential should be scoped to a valid region.")
    return access_key_id, day, region


def _signed_headers(text: str) -> tuple[str, ...]:
    """The names in ``SignedHeaders``, as signed: bounded, well formed, each once, Host among them."""
    names = tuple(text.split(";", _MAX_SIGNED_HEADERS))
    if len(names) > _MAX_SIGNED_HEADERS:
        raise IncompleteSignatureException(f"A request may sign at most {_MAX_SIGNED_HEADERS} headers.")
    if not all(_HEADER_NAME.fullmatch(name) for name in names) or len(set(names)) < len(names):
        raise IncompleteSignatureException(
            "SignedHeaders must name each signed header once, in lower case, separated by semicolons."
        )
    if "host" not in names:
        raise IncompleteSignatureException(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    return names


def _request_time(headers: Sequence[tuple[str, str]]) -> str:
    """The request's time as SigV4 signs it, from ``X-Amz-Date`` or else ``Date``."""
    amz_date = _one(headers, "x-amz-date")
    if amz_date is not None:
        if not _AMZ_DATE.fullmatch(amz_date):
            raise IncompleteSignatureException("X-Amz-Date must be a date such as 20261205T103010Z.")
        try:
            datetime.strptime(amz_date, _TIMESTAMP)
        except ValueError:
            raise IncompleteSignatureException(f"X-Amz-Date {amz_date!r} is not a date.") from None
        return amz_date
    date = _one(headers, "date")
    if date is None:
        raise IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        moment = parsedate_to_datetime(date[:64])
    except (TypeError, ValueError):
        raise IncompleteSignatureException("The Date header is not an HTTP date.") from None
    return moment.astimezone(UTC).strftime(_TIMESTAMP) if moment.tzinfo else moment.strftime(_TIMESTAMP)


def _check_time(timestamp: str, now: datetime) -> None:
    """Refuse a request time more than MAX_SKEW from ``now``, in AWS's words."""
    moment = datetime.strptime(timestamp, _TIMESTAMP).replace(tzinfo=UTC)
    minutes = int(MAX_SKEW.total_seconds() // 60)
    shown_now = now.astimezone(UTC).strftime(_TIMESTAMP)
    if moment < now - MAX_SKEW:
        earliest = (now - MAX_SKEW).astimezone(UTC).strftime(_TIMESTAMP)
        raise InvalidSignatureException(
            f"Signature expired: {timestamp} is now earlier than {earliest} ({shown_now} - {minutes} min.)"
        )
    if moment > now + MAX_SKEW:
        latest = (now + MAX_SKEW).astimezone(UTC).strftime(_TIMESTAMP)
        raise InvalidSignatureException(
            f"Signature not yet current: {timestamp} is still later than {latest} "
            f"({shown_now} + {minutes} min.)"
        )


def _canonical_path(path: str) -> str:
    """The path as botocore signs it: dot segments and empty segments removed, then
    percent-encoded once more (so ``%20`` is signed as ``%2520``, as AWS's services expect)."""
    if len(path) > _MAX_PATH:
        raise IncompleteSignatureException(f"The path is longer than {_MAX_PATH} characters.")
    return quote(_remove_dot_segments(path) or "/", safe="/~")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986's remove_dot_segments, and no empty segments: botocore's ``normalize_url_path``."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and kept else ""
    return first + "/".join(kept) + last


def _canonical_query(query: str) -> str:
    """The query as botocore signs its parameters: each name and value decoded, encoded again
    (all but ``-_.~``), and the pairs sorted."""
    if len(query) > _MAX_QUERY:
        raise IncompleteSignatureException(f"The query string is longer than {_MAX_QUERY} characters.")
    pairs = []
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            pairs.append((quote(unquote_plus(name), safe="-_.~"), quote(unquote_plus(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _canonical_headers(headers: Sequence[tuple[str, str]], signed: tuple[str, ...]) -> str:
    """``name:value`` for each signed header, in the order signed: its values in the order
    sent, each with its runs of white space made one space, joined by commas."""
    values: dict[str, list[str]] = {name: [] for name in signed}
    for name, value in headers:
        found = values.get(name.lower())
        if found is not None:
            found.append(" ".join(value.split()))
    return "\n".join(f"{name}:{','.join(values[name])}" for name in signed)
