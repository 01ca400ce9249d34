"""Azure's errors: ``{"error": {"code", "message", "innererror": {"code", "message"}}}``.

Lector's error handlers (``service.api.responses.in_other_words``) make the sentence, the
status and the headers (Retry-After); here they take Azure's codes and statuses. The
sentence is both messages, so the SDK's exception shows it. How the SDK raises them:
401 ``ClientAuthenticationError``, 404 ``ResourceNotFoundError``, the others
``HttpResponseError`` (429 after its own retries, which honour Retry-After).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ExceptionHandlersMap

from service.api.dialects.document_intelligence.wire import ErrorResponse, error_body
from service.api.responses import in_other_words
from service.errors import (
    CorruptDocument,
    DecompressionBomb,
    EncryptedDocument,
    NotFound,
    TooLarge,
    UnsupportedFormat,
    UnsupportedMediaType,
    UrlError,
)

#: The sentence of a missing key, as Azure's gateway says it.
MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key when making "
    "requests to an API (header Ocp-Apim-Subscription-Key)."
)


class ModelNotFound(NotFound):
    """No model of that id for this key."""


class OperationNotFound(NotFound):
    """No analyze operation of that id for this key (or it expired)."""


class UnknownApiVersion(NotFound):
    """An api-version Lector does not speak: Azure's gateway answers it as no resource."""


#: Lector's errors of a document it cannot read, as Azure's inner code.
_CONTENT = (CorruptDocument, DecompressionBomb, EncryptedDocument, UnsupportedFormat)
_BY_STATUS = {
    401: "401",
    403: "Forbidden",
    409: "Conflict",
    429: "429",
    500: "InternalServerError",
    502: "InternalServerError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def azure_error(exc: Exception, status: int, message: str) -> tuple[int, ErrorResponse]:
    """Azure's status and body for ``exc``, which Lector answered with ``status`` and ``message``."""
    if isinstance(exc, UnknownApiVersion):
        return 404, error_body("404", "Resource not found")
    if isinstance(exc, ModelNotFound):
        return 404, error_body("NotFound", "Resource not found.", ("ModelNotFound", message))
    if isinstance(exc, OperationNotFound):
        return 404, error_body("NotFound", "Resource not found.", ("OperationNotFound", message))
    if status == 404:
        return 404, error_body("404", message)
    if status in (400, 413, 415, 422):
        return 400, error_body("InvalidRequest", message, (_inner(exc), message))
    return status, error_body(_BY_STATUS.get(status, str(status)), message)


def _inner(exc: Exception) -> str:
    if isinstance(exc, _CONTENT):
        return "InvalidContent"
    if isinstance(exc, TooLarge):
        return "InvalidContentLength"
    if isinstance(exc, UnsupportedMediaType):
        return "UnsupportedContent"
    if isinstance(exc, UrlError):
        return "InvalidContentSourceFormat"
    return "InvalidArgument"


def _handlers() -> ExceptionHandlersMap:
    """Lector's handlers, each answer rewritten in Azure's words."""
    sentences = in_other_words(lambda message: message, lambda _exc, status: status)

    def azure(handler: Any) -> Any:
        def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorResponse]:
            answer = handler(request, exc)
            status, body = azure_error(exc, answer.status_code or 500, str(answer.content))
            headers = dict(answer.headers.items()) if answer.headers else None
            return Response(body, status_code=status, headers=headers)

        return handle

    return {kind: azure(handler) for kind, handler in sentences.items()}


#: The error handlers of the dialect's routes.
ERRORS = _handlers()


def error_spec(description: str) -> ResponseSpec:
    """An OpenAPI response entry with Azure's error body."""
    return ResponseSpec(data_container=ErrorResponse, description=description, generate_examples=False)


AUTH = {
    401: error_spec("Missing or wrong Ocp-Apim-Subscription-Key"),
    500: error_spec("Unexpected error (logged)"),
}
