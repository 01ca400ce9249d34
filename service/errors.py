"""The exception tree, and the HTTP status each error maps to.

::

    LectorError                    500  something on our side went wrong
    ├── SettingsError                   a bad LECTOR_* value (start-up only)
    ├── MalformedBody              400  the body is not the JSON (or form) it must be
    ├── UrlError                   400  a document URL could not be fetched, or is not allowed
    ├── UnsupportedMediaType       415  a body in a Content-Type the endpoint does not take
    ├── InputError                 422  the client can fix the request
    │   ├── ValidationFailed            several fields are wrong (details: a list of sentences)
    │   ├── IdempotencyConflict         an Idempotency-Key reused with another request
    │   ├── InvalidOption               an option is malformed or out of range
    │   ├── InvalidBase64               the base64 payload does not decode
    │   ├── UnsupportedFormat           the bytes are no format Lector reads
    │   ├── CorruptDocument             a known format, but broken or truncated
    │   ├── DecompressionBomb           an image declares too many pixels
    │   └── EncryptedDocument           a PDF needs a (correct) password
    ├── TooLarge                   413  too many bytes or pages for this endpoint
    │   ├── DocumentTooLarge
    │   └── TooManyPages
    ├── Unauthorized               401  missing, wrong, revoked or expired API key
    ├── Forbidden                  403  the key may not do this (a scope, an admin route)
    ├── LimitExceeded              429  a rate limit, the quota, the token budget or media slots are spent
    ├── NotFound                   404  no such job (or not this key's)
    ├── RequestTimeout             408  a request body that arrives too slowly
    ├── NotReady                   409  the job has not finished, so there is nothing to download
    ├── Conflict                   409  a name already taken (a document type's code)
    ├── Gone                       410  a signed download URL that has expired
    ├── StoreUnavailable           503  Redis or the document store refuses work (Retry-After)
    ├── ServerBusy                 503  every synchronous slot is taken and the wait queue full
    ├── JobStoreError              500  a stored record is damaged (logged)
    └── EngineError                500  an OCR engine failed on a valid page
        ├── EngineUnavailable      503  an engine cannot run on this machine
        │   └── LlmCredentialsRejected  the model server refused the key (never retried)
        └── ModelServerError       502  the model server failed the call (a queued job retries)
            ├── ModelRefused       502  it refused the request itself (never retried)
            ├── ModelUnreachable   503  it cannot be reached, or is overloaded (Retry-After)
            ├── ModelTimeout       504  it did not answer in LECTOR_LLM_TIMEOUT_S
            └── ContextExceeded    422  a page needs more tokens than its context holds

Every message is one sentence meant for the person who sent the request. Messages never
contain the document's content or a secret.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LectorError(Exception):
    """Base of every error Lector raises on purpose."""

    status_code = 500
    #: HTTP headers the answer carries (e.g. Retry-After).
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, *, details: dict[str, Any] | list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class SettingsError(LectorError):
    """A LECTOR_* environment variable, or the document types' data, has a bad value."""


class MalformedBody(LectorError):
    """The request body cannot be parsed: empty, invalid JSON, too deeply nested, not an object."""

    status_code = 400


class UrlError(LectorError):
    """A document URL could not be fetched, or points where Lector may not go."""

    status_code = 400


class UnsupportedMediaType(LectorError):
    """The body is in a Content-Type the endpoint does not take."""

    status_code = 415


class InputError(LectorError):
    """The request or the document is wrong in a way the client can fix."""

    status_code = 422


class ValidationFailed(InputError):
    """Several fields are wrong; ``details`` lists one sentence per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("Validation error", details=problems)


class IdempotencyConflict(InputError):
    """An Idempotency-Key was already used with a different request."""


class InvalidOption(InputError):
    """An option is malformed, unknown or out of range."""


class InvalidBase64(InputError):
    """The base64 payload does not decode."""


class UnsupportedFormat(InputError):
    """The bytes are in no format Lector reads."""


class CorruptDocument(InputError):
    """The document is in a known format but cannot be read."""


class DecompressionBomb(InputError):
    """An image declares more pixels than Lector will allocate."""


class EncryptedDocument(InputError):
    """A PDF is encrypted and no correct password was given."""


class TooLarge(LectorError):
    """Too many bytes or pages for this endpoint."""

    status_code = 413


class DocumentTooLarge(TooLarge):
    """The document is larger than LECTOR_MAX_UPLOAD_MB."""


class TooManyPages(TooLarge):
    """More pages were asked for than the endpoint allows."""

    def __init__(self, count: int, limit: int, *, advice: str = "", more: bool = False) -> None:
        # ``more``: the document has more than ``count`` pages, uncounted past the limit.
        asked = f"more than {count}" if more else str(count)
        message = f"The request asks for {asked} pages; the limit is {limit}."
        super().__init__(f"{message} {advice}".strip(), details={"pages": count, "limit": limit})
        self.count = count
        self.limit = limit
        self.more = more


class Unauthorized(LectorError):
    """The API key is missing or wrong."""

    status_code = 401


class Forbidden(LectorError):
    """The key is valid but may not do this: a document type outside its scopes, an admin route."""

    status_code = 403


class LimitExceeded(LectorError):
    """A key's rate limit, document quota, model-token budget or media concurrency refuses the request.

    ``limit_type`` is ``minute``, ``day``, ``quota``, ``tokens``, ``video_concurrency`` or
    ``audio_concurrency``. ``reset_at`` (epoch seconds) is set for the time windows only:
    waiting does not refill a quota or a budget, and a concurrency slot frees when a job ends,
    at no time known in advance, so those answers carry no Retry-After.
    """

    status_code = 429

    def __init__(
        self, message: str, *, limit_type: str, limit: int, remaining: int, reset_at: int | None = None
    ) -> None:
        super().__init__(message)
        self.limit_type = limit_type
        self.limit = limit
        self.remaining = remaining
        self.reset_at = reset_at


class NotFound(LectorError):
    """No such resource for this API key (another key's job is not found either)."""

    status_code = 404


class RequestTimeout(LectorError):
    """The request body arrived slower than the server waits for; the connection is closed."""

    status_code = 408
    headers: ClassVar[dict[str, str]] = {"Connection": "close"}


class NotReady(LectorError):
    """The job is still running: its file does not exist yet."""

    status_code = 409


class Conflict(LectorError):
    """Something by that name exists already."""

    status_code = 409


class Gone(LectorError):
    """A signed download URL past its expiry."""

    status_code = 410


class StoreUnavailable(LectorError):
    """Redis is down or refuses writes, or the document store fails: try again shortly."""

    status_code = 503
    headers: ClassVar[dict[str, str]] = {"Retry-After": "5"}

    def __init__(
        self, message: str = "The job store is unavailable; try again shortly.", *, reason: str = ""
    ) -> None:
        super().__init__(message)
        #: What the store said, when it was the document store (for its operator).
        self.reason = reason


class ServerBusy(LectorError):
    """The process runs its most synchronous extractions, and as many wait: try again shortly."""

    status_code = 503
    headers: ClassVar[dict[str, str]] = {"Retry-After": "2"}

    def __init__(
        self,
        message: str = "The server is busy with other documents; try again in a few seconds, "
        "or queue the document with POST /api/convert-async.",
    ) -> None:
        super().__init__(message)


class JobStoreError(LectorError):
    """A stored record does not decode (a bug or tampering; it is logged)."""


class EngineError(LectorError):
    """An OCR engine failed on a page it was given."""


class EngineUnavailable(EngineError):
    """An engine cannot run here (its binary or model is missing)."""

    status_code = 503


class LlmCredentialsRejected(EngineUnavailable):
    """The model server answered 401 or 403: retrying cannot help."""


class ModelServerError(EngineError):
    """The model server failed the call with an error of its own (a 5xx after the client's
    retries): a later attempt may succeed."""

    status_code = 502


class ModelRefused(ModelServerError):
    """The model server refused the request itself (a 4xx, or a 5xx whose message names the
    request, as llama.cpp's for an image sent to a text-only model): retrying cannot help."""


class ModelReplyCut(ModelServerError):
    """The model's reply reached LECTOR_LLM_MAX_OUTPUT_TOKENS before it ended (a small model
    under a JSON grammar can run on until stopped): at temperature 0, retrying repeats it."""


class ModelUnreachable(ModelServerError):
    """The model server cannot be reached, or says it is overloaded: try again shortly."""

    status_code = 503
    headers: ClassVar[dict[str, str]] = {"Retry-After": "30"}


class ModelTimeout(ModelServerError):
    """The model server did not answer within LECTOR_LLM_TIMEOUT_S."""

    status_code = 504


class ContextExceeded(ModelServerError):
    """A page needs more tokens than the model server's context holds (a typed document is
    first read with fewer pages per call); the numbers are given when the server said them.

    ``needed`` and ``allowed`` are None when it did not."""

    status_code = 422

    def __init__(self, message: str, *, needed: int | None = None, allowed: int | None = None) -> None:
        super().__init__(message, details={"needed_tokens": needed, "context_tokens": allowed})
        self.needed = needed
        self.allowed = allowed


def is_client_fault(exc: BaseException) -> bool:
    """Whether ``exc`` refuses the request for something the client sent (a 4xx), as opposed
    to a failure on Lector's side, which is not the client's to pay for. A page too large for
    the model server's context is the server's limit, not the client's fault."""
    return (
        isinstance(exc, LectorError)
        and 400 <= exc.status_code < 500
        and not isinstance(exc, ModelServerError)
    )
