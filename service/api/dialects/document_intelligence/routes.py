"""Azure AI Document Intelligence's routes, under ``/documentintelligence``: analyze (always
queued, as Azure's is), the analyze result, and the models.

``POST /documentModels/{modelId}:analyze`` takes the document as JSON (``base64Source`` or
``urlSource``, fetched by Lector's URL rules) or as the raw body, submits it through the one
lifecycle (``service.lifecycle.submit``) and answers 202 with ``Operation-Location``. What the
request asked of the result (``outputContentFormat``, ``stringIndexType``, ``features``) rides
in that URL's query, so the result route needs no state of its own.
"""

from __future__ import annotations

import math
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, get_args
from urllib.parse import urlencode

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import SecurityRequirement, SecurityScheme
from litestar.params import FromPath, QueryParameter

from service.api.addresses import url_for
from service.api.auth import caller_for
from service.api.dialects.document_intelligence.errors import (
    AUTH,
    ERRORS,
    MISSING_KEY,
    ModelNotFound,
    OperationNotFound,
    UnknownApiVersion,
    error_spec,
)
from service.api.dialects.document_intelligence.models import (
    PREBUILT,
    Model,
    custom_model,
    field_schema,
)
from service.api.dialects.document_intelligence.result import Choices, analyze_result
from service.api.dialects.document_intelligence.wire import (
    API_VERSION,
    AnalyzeDocumentRequest,
    AnalyzeOperation,
    ContentFormat,
    DocumentModelDetails,
    DocumentModelList,
    DocumentTypeDetails,
    Feature,
    OperationStatus,
    StringIndexType,
    error_body,
)
from service.api.payloads import check_size, decode_base64_document, decode_json_body
from service.api.queued import wait_for_change
from service.api.services import Lector
from service.api.submissions import SPOOL_BYTES, spooled_body
from service.errors import InvalidOption, MalformedBody, NotFound, ValidationFailed
from service.jobs.intake import Submission
from service.jobs.record import Conversion, is_id
from service.lifecycle.submit import submit
from service.models import Status
from service.options import Options, item
from service.pages import Source
from service.settings import Settings
from service.tenants.store import Caller
from service.work import Extract

#: The header Azure's gateway reads the key from.
KEY_HEADER = "Ocp-Apim-Subscription-Key"
SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "AzureKey": SecurityScheme(type="apiKey", name=KEY_HEADER, security_scheme_in="header"),
}
SECURITY: list[SecurityRequirement] = [{"AzureKey": []}]
RESULT_ROUTE = "azure-analyze-result"
#: Seconds the SDK waits before it polls (Retry-After): it sleeps that long between polls.
RETRY_AFTER_S = 1
#: How long a result request waits for an unfinished analysis to end before answering.
WAIT_S = 2
#: Lector's job statuses in Azure's words.
STATUS: dict[Status, OperationStatus] = {
    Status.ENQUEUED: "notStarted",
    Status.PROCESSING: "running",
    Status.SUCCESS: "succeeded",
    Status.FAILED: "failed",
}
#: The features Lector answers; the others are accepted and answered without.
ANSWERED_FEATURES = ("languages", "barcodes", "keyValuePairs")
ANALYZE_ERRORS = {
    **AUTH,
    400: error_spec("A malformed body or parameter, or a document Lector cannot read"),
    403: error_spec("The key may not use this model's document type"),
    404: error_spec("No such model (ModelNotFound), or an api-version other than 2024-11-30"),
    429: error_spec("A rate limit or the quota; try again after Retry-After seconds"),
    503: error_spec("The job store is unavailable; try again after Retry-After seconds"),
}
RESULT_ERRORS = {
    **AUTH,
    404: error_spec("No such model, or no such analysis for this key (OperationNotFound)"),
}
MODEL_ERRORS = {**AUTH, 404: error_spec("No such model for this key (ModelNotFound)")}

ApiVersion = Annotated[
    str | None, QueryParameter(name="api-version", max_length=40, description="2024-11-30")
]
IndexType = Annotated[StringIndexType, QueryParameter(name="stringIndexType")]
ContentFormatParameter = Annotated[ContentFormat, QueryParameter(name="outputContentFormat")]
Features = Annotated[
    str | None, QueryParameter(max_length=300, description="Comma-separated: " + ", ".join(get_args(Feature)))
]


async def require_subscription_key(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Litestar guard: the key in Ocp-Apim-Subscription-Key (a managed or a static Lector key)."""
    key = connection.headers.get(KEY_HEADER.lower(), "").strip() or None
    connection.state.caller = await caller_for(connection, key, missing=MISSING_KEY)


class DocumentIntelligenceController(Controller):
    """Azure AI Document Intelligence's analyze operation and models."""

    path = "/documentintelligence"
    tags = ("Azure AI Document Intelligence",)
    guards = (require_subscription_key,)
    security = SECURITY
    exception_handlers = ERRORS

    @post("/documentModels/{model_id:str}", status_code=202, responses=ANALYZE_ERRORS)
    async def analyze(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        model_id: FromPath[str],
        api_version: ApiVersion = None,
        pages: Annotated[str | None, QueryParameter(max_length=1000, description="Such as 1-3,5")] = None,
        locale: Annotated[
            str | None, QueryParameter(max_length=40, description="Accepted; Lector detects")
        ] = None,
        string_index_type: IndexType = "textElements",
        features: Features = None,
        output_content_format: ContentFormatParameter = "text",
        output: Annotated[
            str | None, QueryParameter(max_length=100, description="Accepted, not made")
        ] = None,
        query_fields: Annotated[str | None, QueryParameter(name="queryFields", max_length=1000)] = None,
    ) -> Response[bytes]:
        """`{modelId}:analyze`: queue the document (JSON `base64Source` or `urlSource`, or the
        raw bytes) for the model; 202 with `Operation-Location`, where the result is read."""
        _check_version(api_version)
        named, colon, action = model_id.rpartition(":")
        if not colon or action != "analyze":
            raise UnknownApiVersion("No such route.")
        model = await _model(lector, caller, named)
        choices = _choices(model, output_content_format, string_index_type, features)
        options = _options(model, pages)
        kinds = await anyio.to_thread.run_sync(lector.own_types.registry, caller.owner)
        async with _document(request, lector.settings, options) as submission:
            job_id = await submit(
                submission, lector.intake, lector.here, caller, idempotency_key=None, kinds=kinds
            )
        query = {"api-version": API_VERSION, "outputContentFormat": choices.content_format}
        query |= {"stringIndexType": choices.string_index_type}
        if choices.features:
            query["features"] = ",".join(choices.features)
        location = url_for(request, RESULT_ROUTE, model_id=named, result_id=job_id) + "?" + urlencode(query)
        headers = {
            "Operation-Location": location,
            "apim-request-id": _request_id(request),
            "Retry-After": str(RETRY_AFTER_S),
        }
        return Response(b"", status_code=202, headers=headers, media_type="text/plain")

    @get(
        "/documentModels/{model_id:str}/analyzeResults/{result_id:str}",
        name=RESULT_ROUTE,
        responses=RESULT_ERRORS,
    )
    async def analyze_result(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        model_id: FromPath[str],
        result_id: FromPath[str],
        api_version: ApiVersion = None,
        string_index_type: IndexType = "textElements",
        features: Features = None,
        output_content_format: ContentFormatParameter = "text",
    ) -> Response[AnalyzeOperation]:
        """An analysis: `notStarted`, `running`, `succeeded` with its `analyzeResult`, or
        `failed` with its error (an unfinished one is waited for up to 2 seconds)."""
        _check_version(api_version)
        model = await _model(lector, caller, model_id)
        choices = _choices(model, output_content_format, string_index_type, features)
        record = await _finished(lector, caller, result_id, model)
        status = STATUS.get(record.status, "running")
        operation = AnalyzeOperation(
            status=status,
            created_date_time=record.created_at,
            last_updated_date_time=record.completed_at or record.started_at or record.created_at,
        )
        headers = {"apim-request-id": _request_id(request)}
        if status == "succeeded" and record.data is not None:
            data = record.data
            result = await anyio.to_thread.run_sync(lambda: analyze_result(model, data, choices))
            operation = msgspec.structs.replace(operation, analyze_result=result)
        elif status == "failed":
            message = record.failure or "The analysis failed."
            operation = msgspec.structs.replace(
                operation, error=error_body("InvalidRequest", message, ("InvalidContent", message)).error
            )
        else:
            headers["Retry-After"] = str(RETRY_AFTER_S)
        return Response(operation, headers=headers)

    @get("/documentModels", responses=AUTH)
    async def list_models(
        self, lector: NamedDependency[Lector], caller: NamedDependency[Caller], api_version: ApiVersion = None
    ) -> DocumentModelList:
        """Every model this key may use: the prebuilt ones, then its own document types."""
        _check_version(api_version)
        models = await _models(lector, caller)
        return DocumentModelList(value=[_details(model) for model in models.values()])

    @get("/documentModels/{model_id:str}", responses=MODEL_ERRORS)
    async def get_model(
        self,
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        model_id: FromPath[str],
        api_version: ApiVersion = None,
    ) -> DocumentModelDetails:
        """One model, with its document type's fields."""
        _check_version(api_version)
        return _details(await _model(lector, caller, model_id))


def _check_version(api_version: str | None) -> None:
    if api_version != API_VERSION:
        raise UnknownApiVersion(f"Lector speaks api-version {API_VERSION} only.")


async def _models(lector: Lector, caller: Caller) -> dict[str, Model]:
    """The models the caller may use: the prebuilt ones its key's types allow, then its own."""
    own = await anyio.to_thread.run_sync(lector.own_types.of, caller.owner)
    allowed = caller.document_types
    models = {
        code: model for code, model in PREBUILT.items() if allowed is None or model.type_code in allowed
    }
    models.update({code: custom_model(made.kind, made.created_at) for code, made in own.items()})
    return models


async def _model(lector: Lector, caller: Caller, model_id: str) -> Model:
    model = (await _models(lector, caller)).get(model_id)
    if model is None:
        raise ModelNotFound(f"The requested model {model_id[:64]!r} was not found.")
    return model


def _details(model: Model) -> DocumentModelDetails:
    doc_types = None
    if model.doc_type is not None:
        details = DocumentTypeDetails(
            field_schema=field_schema(model), build_mode="neural" if model.schema is not None else None
        )
        doc_types = {model.doc_type: details}
    return DocumentModelDetails(
        model_id=model.model_id,
        created_date_time=model.created,
        api_version=API_VERSION,
        description=model.description,
        doc_types=doc_types,
    )


def _choices(
    model: Model, content_format: ContentFormat, index_type: StringIndexType, features: str | None
) -> Choices:
    """What the request asks of the result; InvalidOption for what no model does."""
    asked = tuple(dict.fromkeys(part.strip() for part in (features or "").split(",") if part.strip()))
    known = get_args(Feature)
    unknown = [feature for feature in asked if feature not in known]
    if unknown:
        raise InvalidOption(
            f"features: {unknown[0][:40]!r} is not a feature; use any of: {', '.join(known)}."
        )
    if content_format == "markdown" and not model.layout:
        raise InvalidOption(
            f"outputContentFormat markdown is not supported by {model.model_id}; use prebuilt-layout."
        )
    return Choices(
        content_format, index_type, tuple(feature for feature in asked if feature in ANSWERED_FEATURES)
    )


def _options(model: Model, pages: str | None) -> Options:
    """Lector's options for the model: its document type, every word (Azure answers them)."""
    try:
        return msgspec.convert(
            {"document_type_code": model.type_code, "include_words": True, "pages": pages}, Options
        )
    except msgspec.ValidationError as exc:
        raise ValidationFailed([item(str(exc))]) from None


@asynccontextmanager
async def _document(
    request: Request[Any, Any, Any], settings: Settings, options: Options
) -> AsyncIterator[Submission]:
    """The submission of the request's document: JSON (`base64Source` or `urlSource`), or the
    raw body (any other Content-Type: Lector sniffs the format), spooled to a private
    temporary file past SPOOL_BYTES; the file lives until the ``with`` ends."""
    if request.content_type[0] == "application/json":
        async with spooled_body(request) as body:
            submission = await anyio.to_thread.run_sync(_from_json, body, settings, options)
        yield submission
        return
    with tempfile.TemporaryFile(prefix="lector-azure-") as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            check_size(size, settings.max_upload_bytes)
            spool.write(chunk)
        if size == 0:
            raise MalformedBody(
                "The request body is empty: send the document, or JSON with base64Source or urlSource."
            )
        spool.seek(0)
        document: Source = spool.read() if size <= SPOOL_BYTES else Path(f"/proc/self/fd/{spool.fileno()}")
        spool.flush()
        yield Submission(options=options, document=document)


def _from_json(body: bytes | bytearray | memoryview, settings: Settings, options: Options) -> Submission:
    fields = decode_json_body(body, verbatim=("base64Source",))
    encoded = fields.pop("base64Source", None)
    try:
        asked = msgspec.convert(fields, AnalyzeDocumentRequest)
    except msgspec.ValidationError as exc:
        raise ValidationFailed([item(str(exc))]) from None
    if (encoded is None) == (asked.url_source is None):
        raise InvalidOption(
            "Send exactly one of base64Source and urlSource." if encoded is not None else EMPTY_SOURCE
        )
    if asked.url_source is not None:
        return Submission(options=options, url=asked.url_source)
    if not isinstance(encoded, str | memoryview):
        raise InvalidOption("base64Source must be a string.")
    document = decode_base64_document(encoded, field="base64Source", max_bytes=settings.max_upload_bytes)
    return Submission(options=options, document=document)


#: The sentence of a JSON body without a document.
EMPTY_SOURCE = "The parameter urlSource or base64Source is required."


async def _finished(lector: Lector, caller: Caller, result_id: str, model: Model) -> Conversion:
    """The caller's analysis ``result_id`` by ``model``, once it ends or WAIT_S have passed."""
    if not is_id(result_id):
        raise OperationNotFound(_NO_OPERATION)
    deadline = time.monotonic() + WAIT_S
    try:
        record = await wait_for_change(lector.intake, caller, result_id, 0)
        while not record.status.finished and (left := deadline - time.monotonic()) > 0:
            record = await wait_for_change(lector.intake, caller, result_id, math.ceil(left))
    except NotFound:
        raise OperationNotFound(_NO_OPERATION) from None
    if not isinstance(record.work, Extract) or record.document_type_code != model.type_code:
        raise OperationNotFound(_NO_OPERATION)
    return record


_NO_OPERATION = (
    "The requested operation was not found. The identifier may be invalid or the operation may have expired."
)


def _request_id(request: Request[Any, Any, Any]) -> str:
    """The request's id (Lector's X-Request-ID), as Azure's apim-request-id."""
    found = request.scope.get("state", {}).get("request_id")
    return str(found) if found else str(uuid.uuid4())
