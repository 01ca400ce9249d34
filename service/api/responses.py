"""Error answers: every failure becomes ``{"success": false, "message": ..., "errors": ...}``.

The handlers here are the only place an exception turns into an HTTP status, so no path
can answer in another shape, and an unexpected error never shows its traceback.
"""

from __future__ import annotations

import re

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_413_REQUEST_ENTITY_TOO_LARGE, HTTP_500_INTERNAL_SERVER_ERROR

from service.errors import LectorError
from service.logging import get_logger
from service.models import ErrorBody

log = get_logger("lector.api")


def error_response(status: int, message: str, errors: dict | None = None) -> Response[ErrorBody]:
    """The one shape of every error answer."""
    return Response(ErrorBody(success=False, message=message, errors=errors), status_code=status)


def on_lector_error(request: Request, exc: LectorError) -> Response[ErrorBody]:
    """A deliberate error: its own status and sentence."""
    if exc.status_code >= 500:
        log.warning("request failed", error=type(exc).__name__, message=exc.message)
    return error_response(exc.status_code, exc.message, exc.details)


# msgspec says "Expected `int`, got `str` - at `$.psm`"; the client wants the field first.
_AT_FIELD = re.compile(r"^(?P<reason>.*?) - at `\$\.?(?P<field>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`")


def on_validation_error(request: Request, exc: ValidationException) -> Response[ErrorBody]:
    """A body or parameter that does not fit the declared types: 422 with the field named."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    first = problems[0] if problems and isinstance(problems[0], dict) else {}
    raw = str(first.get("message") or exc.detail)
    match = _AT_FIELD.match(raw)
    if missing := _MISSING.match(raw):
        message = f"The field `{missing.group('field')}` is required."
    elif unknown := _UNKNOWN.match(raw):
        message = f"Unknown field `{unknown.group('field')}`; see /schema for the accepted fields."
    elif match and match.group("field"):
        message = f"Invalid field `{match.group('field')}`: {match.group('reason')}."
    elif first.get("key") and first.get("key") != "data":
        message = f"Invalid field `{first['key']}`: {raw.rstrip('.')}."
    else:
        message = f"Invalid request: {raw.rstrip('.')}."
    return error_response(422, message, {"fields": problems} if problems else None)


def on_http_error(request: Request, exc: HTTPException) -> Response[ErrorBody]:
    """Framework errors (404, 405, 413, ...) in Lector's shape."""
    if exc.status_code == HTTP_413_REQUEST_ENTITY_TOO_LARGE:
        limit_mb = request.app.state.settings.max_upload_mb
        return error_response(413, f"The request body is too large; documents may be at most {limit_mb} MB.")
    if exc.status_code >= 500:
        return on_unexpected_error(request, exc)
    message = str(exc.detail).rstrip(".") + "."
    return error_response(exc.status_code, message)


def on_unexpected_error(request: Request, exc: Exception) -> Response[ErrorBody]:
    """A bug: log it with the request id, answer without detail."""
    request_id = request.scope.get("state", {}).get("request_id", "")
    log.error("unhandled error", exc_info=exc, path=request.url.path)
    return error_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        f"Internal error; quote request id {request_id} when reporting it.",
    )


EXCEPTION_HANDLERS = {
    LectorError: on_lector_error,
    ValidationException: on_validation_error,
    HTTPException: on_http_error,
    Exception: on_unexpected_error,
}


def error_spec(description: str) -> ResponseSpec:
    """An OpenAPI response entry with the error body."""
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


AUTH_ERRORS = {401: error_spec("Missing or wrong API key"), 500: error_spec("Unexpected error (logged)")}
