"""Error answers: every failure becomes ``{"success": false, "message": ..., "errors": ...}``,
or, on a dialect's routes, the same sentence in that dialect's shape (``in_other_words``).

The handlers here are the only place an exception turns into an HTTP status, so no path
answers in a shape of its own, and an unexpected error never shows its traceback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from redis.exceptions import RedisError

from service.api.payloads import EMPTY_BODY, NOT_JSON, TOO_DEEP
from service.errors import LectorError, LimitExceeded, StoreUnavailable
from service.logging import get_logger
from service.metrics import metrics
from service.models import ErrorBody, LimitRefusal
from service.options import item, sentence

log = get_logger("lector.api")


#: The short error names Docutray's clients read, by status.
_ERROR_NAMES = {401: "Invalid API key"}


def error_response(
    status: int,
    message: str,
    errors: dict[str, Any] | list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[ErrorBody]:
    """The one shape of every error answer."""
    body = ErrorBody(success=False, message=message, errors=errors, error=_ERROR_NAMES.get(status))
    return Response(body, status_code=status, headers=headers)


def on_lector_error(request: Request[Any, Any, Any], exc: LectorError) -> Response[ErrorBody]:
    """A deliberate error: its own status, sentence and headers."""
    if exc.status_code >= 500:
        log.warning("request failed", error=type(exc).__name__, message=exc.message)
    return error_response(exc.status_code, exc.message, exc.details, exc.headers or None)


_LIMIT_ERRORS = {
    "minute": "Rate limit exceeded",
    "day": "Rate limit exceeded",
    "quota": "Quota exceeded",
    "video_concurrency": "Concurrency limit exceeded",
    "audio_concurrency": "Concurrency limit exceeded",
}


def on_limit_exceeded(request: Request[Any, Any, Any], exc: LimitExceeded) -> Response[LimitRefusal]:
    """429 naming the limit; Retry-After only for a time window, where waiting helps."""
    metrics().refusals.labels(limit=exc.limit_type).inc()
    retry_after = max(exc.reset_at - int(time.time()), 1) if exc.reset_at is not None else None
    body = LimitRefusal(
        success=False,
        message=exc.message,
        error=_LIMIT_ERRORS.get(exc.limit_type, "Token budget exceeded"),
        limit_type=exc.limit_type,  # type: ignore[arg-type]
        limit=exc.limit,
        remaining=exc.remaining,
        reset_time=exc.reset_at,
        retry_after=retry_after,
    )
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return Response(body, status_code=exc.status_code, headers=headers)


def on_store_error(request: Request[Any, Any, Any], exc: RedisError) -> Response[ErrorBody]:
    """Redis is down or refuses writes: 503 with Retry-After, not a generic 500."""
    log.warning("job store unavailable", error=type(exc).__name__)
    return on_lector_error(request, StoreUnavailable())


def on_recursion_error(request: Request[Any, Any, Any], exc: RecursionError) -> Response[ErrorBody]:
    """JSON nested deeper than the decoder recurses: the client's mistake, not ours."""
    return error_response(400, TOO_DEEP)


def on_validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[ErrorBody]:
    """A body or parameter that does not fit the declared types, with the field named.

    422 for a body or parameter that parsed but does not fit; 400 for a body that does not
    parse (invalid JSON, or none).
    """
    problems = exc.extra if isinstance(exc.extra, list) else []
    first = problems[0] if problems and isinstance(problems[0], dict) else {}
    raw = str(first.get("message") or exc.detail)
    if raw.startswith(("JSON is malformed", "Input data was truncated", "Invalid request body")) or not raw:
        return error_response(400, NOT_JSON)
    if raw.strip() in ("'data'", "data"):
        return error_response(400, EMPTY_BODY)
    key = first.get("key")
    if key and key != "data" and " - at `$" not in raw:
        raw = f"{raw} - at `$.{key}`"  # Litestar names the field apart from msgspec's message
    fields = [
        {"message": item(str(p.get("message") or "")), "key": p.get("key"), "source": p.get("source")}
        for p in problems
        if isinstance(p, dict)
    ]
    return error_response(422, sentence(raw), {"fields": fields} if fields else None)


def on_http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    """Framework errors (404, 405, 413, ...) in Lector's shape, with their headers (Allow)."""
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit_mb = request.app.state.settings.max_upload_mb
        return error_response(413, f"The request body is too large; documents may be at most {limit_mb} MB.")
    if exc.status_code >= 500:
        return on_unexpected_error(request, exc)
    message = str(exc.detail).rstrip(".") + "."
    if message.startswith("JSON is malformed"):  # the decoder's byte offset helps nobody
        message = NOT_JSON
    elif message == "Request Entity Too Large.":  # the multipart parser's limit on part headers
        message = (
            "A part of the multipart body has headers over 4 KB or more than 8 of them "
            "(a very long file name, for one); shorten them."
        )
    return error_response(exc.status_code, message, headers=dict(exc.headers or {}) or None)


def on_unexpected_error(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A bug: log it with the request id, answer without detail."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.error("unhandled error", exc_info=exc, path=request.url.path)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        f"Internal error; quote request id {request_id} when reporting it.",
    )


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    LimitExceeded: on_limit_exceeded,
    LectorError: on_lector_error,
    RedisError: on_store_error,
    RecursionError: on_recursion_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_unexpected_error,
}


def in_other_words(
    body: Callable[[str], Any], status_of: Callable[[Exception, int], int]
) -> ExceptionHandlersMap:
    """Lector's error handlers with their answers rewritten in a dialect's words: ``body``
    makes the dialect's error body from the sentence (a validation error's problems joined
    to it), ``status_of`` maps an exception and Lector's status to the dialect's. Headers
    (Retry-After, Allow) and metrics stay as Lector's handlers made them."""

    def rewritten(handler: Callable[..., Response[Any]]) -> Callable[..., Response[Any]]:
        def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
            answer = handler(request, exc)
            message = answer.content.message
            details = getattr(exc, "details", None)
            if isinstance(details, list) and details:
                message = f"{message}: {'; '.join(str(detail) for detail in details)}."
            headers = dict(answer.headers.items()) if answer.headers else None
            status = status_of(exc, answer.status_code or 500)
            return Response(body(message), status_code=status, headers=headers)

        return handle

    return {kind: rewritten(handler) for kind, handler in EXCEPTION_HANDLERS.items()}


def error_spec(description: str) -> ResponseSpec:
    """An OpenAPI response entry with the error body."""
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


AUTH_ERRORS = {
    401: error_spec("Missing, wrong, revoked or expired API key"),
    500: error_spec("Unexpected error (logged)"),
}
#: The answers of a route that charges the key's limits.
LIMIT_ERRORS = {
    **AUTH_ERRORS,
    403: error_spec("The key may not use this document type"),
    429: ResponseSpec(
        data_container=LimitRefusal,
        description="A rate limit (Retry-After), the document quota, the token budget or the key's "
        "video or audio conversions at once are spent",
        generate_examples=False,
    ),
}
