"""Textract's errors: ``{"__type": "<Type>", "message": "<sentence>"}``, from Lector's errors.

botocore reads the error code from ``__type`` and the sentence from ``message``; the status
says little to it beyond "retry a 5xx". Lector's sentence is kept; the type is Textract's:

- a request the client must fix: InvalidParameterException (400), or the more precise
  UnsupportedDocumentException (a format Lector does not read), BadDocumentException
  (corrupt, encrypted, a decompression bomb), DocumentTooLargeException (too many bytes or
  pages), IdempotentParameterMismatchException (a ClientRequestToken reused for another
  request), InvalidS3ObjectException and InvalidJobIdException (this module's own);
- a key's rate limit per minute or day: ProvisionedThroughputExceededException (400), as
  Textract answers an account over its transactions per second (waiting helps: Retry-After
  is kept); its document quota or token budget: LimitExceededException (400), which waiting
  does not cure, so botocore does not retry it;
- the server busy, or Redis or the store down: ThrottlingException (503, Retry-After),
  Textract's "temporarily unable to process the request";
- the signature's refusals (``service.api.dialects.textract.signing``) carry their own type:
  UnrecognizedClientException (400: an unknown, revoked or expired access key id),
  InvalidSignatureException (403: a wrong signature, or a clock more than 5 minutes off),
  IncompleteSignatureException (400) and MissingAuthenticationTokenException (403); a key
  that may not do this: AccessDeniedException (400);
- anything else on Lector's side: InternalServerError (500).

Every answer carries ``x-amzn-RequestId``, Lector's request id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from service.api.dialects.textract.wire import Failure
from service.api.responses import in_other_words
from service.errors import (
    CorruptDocument,
    DecompressionBomb,
    DocumentTooLarge,
    EncryptedDocument,
    Forbidden,
    IdempotencyConflict,
    InputError,
    LimitExceeded,
    ModelServerError,
    NotFound,
    TooLarge,
    Unauthorized,
    UnsupportedFormat,
)

#: The answers' media type, as botocore's JSON 1.1 protocol sends and reads.
MEDIA_TYPE = "application/x-amz-json-1.1"
REQUEST_ID = "x-amzn-RequestId"


class UnknownOperation(InputError):
    """``X-Amz-Target`` names no Textract operation Lector answers."""

    aws_type: ClassVar[str] = "UnknownOperationException"


class InvalidParameter(InputError):
    """A request member that is wrong in a way msgspec's types do not say."""

    aws_type: ClassVar[str] = "InvalidParameterException"


class UnsupportedDocument(InputError):
    """A document Textract's operation does not take (several pages on a synchronous one)."""

    aws_type: ClassVar[str] = "UnsupportedDocumentException"


class InvalidS3Object(InputError):
    """An S3Object that does not name a readable object in Lector's store."""

    aws_type: ClassVar[str] = "InvalidS3ObjectException"


class InvalidJobId(NotFound):
    """No job of this operation's kind with that id for this key."""

    status_code = 400
    aws_type: ClassVar[str] = "InvalidJobIdException"


#: Lector's errors by Textract's type, the most precise first.
_TYPES: tuple[tuple[type[Exception], str], ...] = (
    (UnsupportedFormat, "UnsupportedDocumentException"),
    (CorruptDocument, "BadDocumentException"),
    (DecompressionBomb, "BadDocumentException"),
    (EncryptedDocument, "BadDocumentException"),
    (IdempotencyConflict, "IdempotentParameterMismatchException"),
    (DocumentTooLarge, "DocumentTooLargeException"),
    (TooLarge, "DocumentTooLargeException"),
    (NotFound, "InvalidJobIdException"),
    (Unauthorized, "UnrecognizedClientException"),
    (Forbidden, "AccessDeniedException"),
    (ModelServerError, "InternalServerError"),
)
#: The types AWS answers with another status than 400 (the signature's refusals).
_STATUS = {"InvalidSignatureException": 403, "MissingAuthenticationTokenException": 403}
#: A key's limits, by ``LimitExceeded.limit_type``.
_LIMITS = {
    "minute": "ProvisionedThroughputExceededException",
    "day": "ProvisionedThroughputExceededException",
}


def error_type(exc: Exception, status: int) -> tuple[str, int]:
    """Textract's error type and status for ``exc``, which Lector answers with ``status``."""
    named = getattr(exc, "aws_type", None)
    if isinstance(named, str):
        return named, 500 if status >= 500 else _STATUS.get(named, 400)
    if isinstance(exc, LimitExceeded):
        return _LIMITS.get(exc.limit_type, "LimitExceededException"), 400
    for kind, name in _TYPES:
        if isinstance(exc, kind):
            return name, 500 if name == "InternalServerError" else 400
    if isinstance(exc, HTTPException) and status in (404, 405):  # a path or method of no operation
        return "UnknownOperationException", 400
    if status == 413:  # the framework's body limit
        return "DocumentTooLargeException", 400
    if status == 503:
        return "ThrottlingException", 503
    if 400 <= status < 500:
        return "InvalidParameterException", 400
    return "InternalServerError", 500


def request_id(request: Request[Any, Any, Any]) -> str:
    """Lector's id of the request, which Textract's answers carry as ``x-amzn-RequestId``."""
    state = request.scope.get("state", {})
    return str(state.get("request_id", ""))


def _textract_words(handler: Callable[..., Response[Any]]) -> Callable[..., Response[Any]]:
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
        answer = handler(request, exc)
        kind, status = error_type(exc, answer.status_code or 500)
        headers = {**dict(answer.headers.items()), REQUEST_ID: request_id(request)}
        headers.pop("content-type", None)
        return Response(
            # Encoded here: Litestar serializes only the media types it knows as JSON.
            msgspec.json.encode(Failure(type=kind, message=str(answer.content))),
            status_code=status,
            headers=headers,
            media_type=MEDIA_TYPE,
        )

    return handle


#: The error handlers of the dialect's route: Lector's, with the sentence alone as the body
#: (``in_other_words``), then Textract's type and status added here.
ERRORS: ExceptionHandlersMap = {
    kind: _textract_words(handler)
    for kind, handler in in_other_words(lambda message: message, lambda exc, status: status).items()
}
