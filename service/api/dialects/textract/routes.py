"""Textract's one route: ``POST /textract`` (and ``/textract/``), the operation named by
``X-Amz-Target: Textract.<Operation>``, the body JSON 1.1 (``application/x-amz-json-1.1``).

The synchronous operations (DetectDocumentText, AnalyzeDocument, AnalyzeExpense) read one
page here and now, in a sync slot, through the one lifecycle (``run_now``); the asynchronous
pairs queue the document as a job (``submit``) and answer its blocks page by page when asked.
A job remembers which operation started it, and with what features and queries, in its
record's ``note``: a Get of another operation's job is InvalidJobIdException.
"""

from __future__ import annotations

import base64
import binascii
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal

import anyio
import msgspec
from litestar import Controller, Request, Response, post
from litestar.di import NamedDependency

from service.api.dialects.textract import answers
from service.api.dialects.textract.documents import copy_object, document_bytes
from service.api.dialects.textract.errors import (
    ERRORS,
    MEDIA_TYPE,
    REQUEST_ID,
    InvalidJobId,
    InvalidParameter,
    UnknownOperation,
    UnsupportedDocument,
    request_id,
)
from service.api.dialects.textract.expense import EXPENSE_DOCUMENT_TYPES
from service.api.dialects.textract.signing import signed_caller
from service.api.dialects.textract.wire import (
    FEATURES,
    MAX_RESULTS,
    AnalyzeDocumentRequest,
    AnalyzeExpenseRequest,
    DetectDocumentTextRequest,
    GetRequest,
    JobStatus,
    Query,
    StartDocumentAnalysisRequest,
    StartDocumentTextDetectionRequest,
    Started,
    StartExpenseAnalysisRequest,
    StartRequest,
)
from service.api.services import Lector
from service.api.submissions import spooled_body
from service.errors import TooLarge, TooManyPages
from service.jobs.intake import Submission, storage_errors
from service.jobs.record import Conversion, is_id
from service.lifecycle.now import run_now
from service.lifecycle.submit import submit
from service.models import Status
from service.options import Options, sentence
from service.pages import open_document, sniff
from service.perform import extraction_result
from service.tenants.store import Caller
from service.work import Extract

#: What a job's ``note`` is kept under, and which API started it.
NOTE = "textract"
Api = Literal["text", "analysis", "expense"]
JOB_STATUS: dict[Status, JobStatus] = {
    Status.ENQUEUED: "IN_PROGRESS",
    Status.PROCESSING: "IN_PROGRESS",
    Status.SUCCESS: "SUCCEEDED",
    Status.FAILED: "FAILED",
}
#: What the sync operations say a queued one is, where a document has too many pages.
_ASYNC = "use the asynchronous operations (StartDocumentTextDetection, ...) for more"

Operation = Callable[[memoryview | bytearray, Lector, Caller], Awaitable[msgspec.Struct]]


class TextractController(Controller):
    """AWS Textract's JSON 1.1 protocol: every operation is a POST to one path."""

    path = "/textract"
    tags = ("Textract",)
    exception_handlers = ERRORS
    include_in_schema = True

    @post(["/", "//"], status_code=200, summary="A Textract operation (X-Amz-Target)")
    async def operation(
        self, request: Request[Any, Any, Any], lector: NamedDependency[Lector]
    ) -> Response[bytes]:
        """Run the operation ``X-Amz-Target: Textract.<Operation>`` names on the JSON body."""
        service, _, name = request.headers.get("x-amz-target", "").partition(".")
        run = OPERATIONS.get(name) if service == "Textract" else None
        if run is None:
            shown = request.headers.get("x-amz-target", "")[:100]
            raise UnknownOperation(f"Unknown operation {shown!r}: X-Amz-Target names Textract.<Operation>.")
        async with spooled_body(request) as body:
            caller = await signed_caller(request, body, lector)
            answer = await run(body, lector, caller)
        return Response(
            msgspec.json.encode(answer),
            media_type=MEDIA_TYPE,
            headers={REQUEST_ID: request_id(request)},
        )


def _decode(body: memoryview | bytearray, kind: type[Any]) -> Any:
    """The body as the operation's request; InvalidParameter with one sentence."""
    try:
        return msgspec.json.decode(body, type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidParameter(sentence(str(exc), kind)) from None
    except msgspec.DecodeError:
        raise InvalidParameter("The request body is not valid JSON.") from None


def _features(asked: list[str], queries: Any, adapters: Any) -> list[str]:
    """The feature types, checked against what Lector answers."""
    if adapters is not None:
        raise InvalidParameter("AdaptersConfig is not supported: Lector has no custom adapters.")
    unknown = [feature for feature in asked if feature not in FEATURES]
    if unknown:
        raise InvalidParameter(
            f"FeatureTypes {unknown[0]} is not supported; Lector answers {', '.join(FEATURES)}."
        )
    if ("QUERIES" in asked) != (queries is not None):
        raise InvalidParameter("QueriesConfig goes with the QUERIES feature type, and only with it.")
    return list(dict.fromkeys(asked))


def _options(api: Api, features: list[str]) -> tuple[Options, list[str] | None]:
    """The options of a Textract job, and the document types it may be read as: an expense
    (and a query, which may name a typed field) as a receipt or an invoice."""
    typed = api == "expense" or "QUERIES" in features
    code = "auto" if typed else "text"
    return Options(document_type_code=code, include_words=True), (EXPENSE_DOCUMENT_TYPES if typed else None)


# -- Synchronous ----------------------------------------------------------------------------


async def _sync(body: memoryview | bytearray, lector: Lector, caller: Caller, api: Api) -> msgspec.Struct:
    return await anyio.to_thread.run_sync(_run_sync, body, lector, caller, api)


def _run_sync(body: memoryview | bytearray, lector: Lector, caller: Caller, api: Api) -> msgspec.Struct:
    kind = {
        "text": DetectDocumentTextRequest,
        "analysis": AnalyzeDocumentRequest,
        "expense": AnalyzeExpenseRequest,
    }
    asked = _decode(body, kind[api])
    features, queries = [], []
    if isinstance(asked, AnalyzeDocumentRequest):
        if asked.human_loop_config is not None:
            raise InvalidParameter("HumanLoopConfig is not supported: Lector has no human review.")
        features = _features(list(asked.feature_types), asked.queries_config, asked.adapters_config)
        queries = asked.queries_config.queries if asked.queries_config else []
    options, types = _options(api, features)
    here = lector.here
    with lector.gate.slot():  # the document is read only once it may run
        document = document_bytes(
            asked.document, lector.storage, caller.owner, here.settings.max_upload_bytes
        )
        sniffed = sniff(document)
        _one_page(document, sniffed, here.settings.max_pages)
        try:
            outcome = run_now(
                Extract(),
                document,
                options,
                here,
                caller,
                queued_route="Textract.StartDocumentTextDetection",
                asked_types=types,
                sniffed=sniffed,
                # A document whose pages are known only once converted (an office document)
                # is refused as Lector's sync routes refuse too many pages: before any is read.
                max_pages=1,
            )
        except TooManyPages as exc:
            raise UnsupportedDocument(f"The document has {_pages(exc)} pages; {_ASYNC}.") from None
    assert outcome.reading is not None  # an extraction always reads
    result = extraction_result(outcome.reading)
    return answers.whole(api, result, uuid.uuid4(), features, queries)


def _pages(exc: TooManyPages) -> str:
    return f"more than {exc.count}" if exc.more else str(exc.count)


def _one_page(document: bytes, sniffed: str, max_pages: int) -> None:
    """UnsupportedDocument for a PDF or TIFF of several pages, as Textract's sync operations,
    before it is charged: these formats tell their page count on opening (``run_now``'s own
    limit then refuses what is known only once converted)."""
    if sniffed not in ("PDF", "TIFF"):
        return
    try:
        with open_document(document, sniffed=sniffed, max_pages=min(max_pages, 2)) as opened:
            pages = opened.page_count
    except TooLarge:
        pages = 2
    if pages > 1:
        raise UnsupportedDocument(f"A {sniffed} of several pages needs an asynchronous operation; {_ASYNC}.")


# -- Asynchronous ---------------------------------------------------------------------------


async def _start(body: memoryview | bytearray, lector: Lector, caller: Caller, api: Api) -> msgspec.Struct:
    kind = {
        "text": StartDocumentTextDetectionRequest,
        "analysis": StartDocumentAnalysisRequest,
        "expense": StartExpenseAnalysisRequest,
    }
    asked: StartRequest = _decode(body, kind[api])
    if asked.output_config is not None:
        raise InvalidParameter("OutputConfig is not supported: get the results with the Get operation.")
    features: list[str] = []
    queries: list[dict[str, Any]] = []
    if isinstance(asked, StartDocumentAnalysisRequest):
        if not asked.feature_types:
            raise InvalidParameter("The field `FeatureTypes` is required.")
        features = _features(list(asked.feature_types), asked.queries_config, asked.adapters_config)
        queries = msgspec.to_builtins(asked.queries_config.queries) if asked.queries_config else []
    where = asked.document_location.s3_object
    if where is None:
        raise InvalidParameter("DocumentLocation needs its S3Object.")
    callback = _callback(asked)
    options, types = _options(api, features)
    note = {NOTE: {"api": api, "features": features, "queries": queries}}
    settings = lector.settings
    # The client's object is copied to a private temporary file, then stored for the job.
    with tempfile.NamedTemporaryFile(prefix="lector-textract-") as copy:
        with storage_errors():
            name = await anyio.to_thread.run_sync(
                copy_object, where, lector.storage, caller.owner, settings.max_upload_bytes, copy
            )
        fingerprint = msgspec.json.encode([where.bucket, where.name, note, callback], order="sorted").hex()[
            :4000
        ]
        submission = Submission(
            options=options,
            document=Path(copy.name),
            filename=name,
            work=Extract(),
            types=types,
            callback_url=callback,
            note=note,
            fingerprint=fingerprint,
        )
        token = asked.client_request_token
        job_id = await submit(
            submission,
            lector.intake,
            lector.here,
            caller,
            idempotency_key=f"textract:{token}" if token else None,
        )
    return Started(job_id=job_id)


def _callback(asked: StartRequest) -> str | None:
    """The job's callback URL: NotificationChannel's topic, when it is a URL."""
    channel = asked.notification_channel
    if channel is None:
        return None
    topic = channel.sns_topic_arn
    if topic.startswith(("https://", "http://")):
        return topic
    raise InvalidParameter(
        "Lector cannot publish to Amazon SNS: give an https:// URL as NotificationChannel.SNSTopicArn, "
        "and Lector's signed webhook calls it when the job ends."
    )


async def _get(body: memoryview | bytearray, lector: Lector, caller: Caller, api: Api) -> msgspec.Struct:
    asked: GetRequest = _decode(body, GetRequest)
    if asked.max_results > MAX_RESULTS:
        asked = msgspec.structs.replace(asked, max_results=MAX_RESULTS)
    record = await _job(lector, caller, asked.job_id, api)
    note = (record.note or {})[NOTE]
    status = JOB_STATUS.get(record.status, "IN_PROGRESS")
    if status != "SUCCEEDED" or record.data is None:
        return answers.unfinished(api, status, record.failure)
    start = _offset(asked.next_token, asked.job_id)
    return await anyio.to_thread.run_sync(
        lambda: answers.paged(
            api,
            record.data or {},
            uuid.UUID(hex=record.conversion_id),
            note.get("features", []),
            _queries(note.get("queries", [])),
            start,
            asked.max_results,
            lambda offset: _token(asked.job_id, offset),
        )
    )


async def _job(lector: Lector, caller: Caller, job_id: str, api: Api) -> Conversion:
    """The caller's job of ``api``; InvalidJobId for any other id."""
    if is_id(job_id):
        with storage_errors():
            record = await anyio.to_thread.run_sync(lector.intake.jobs.get, job_id)
        note = (record.note or {}).get(NOTE) if record is not None else None
        if (
            record is not None
            and record.owner == caller.owner
            and isinstance(note, dict)
            and note.get("api") == api
        ):
            return record
    raise InvalidJobId(f"No {_API_NAMES[api]} job {job_id[:64]!r} for this key (it may have expired).")


_API_NAMES: dict[Api, str] = {
    "text": "text detection",
    "analysis": "document analysis",
    "expense": "expense analysis",
}


def _queries(stored: list[dict[str, Any]]) -> list[Query]:
    return msgspec.convert(stored, list[Query])


def _token(job_id: str, offset: int) -> str:
    """An opaque NextToken: where the next page of a job's answer starts."""
    return base64.urlsafe_b64encode(f"{job_id}:{offset}".encode()).decode()


def _offset(token: str | None, job_id: str) -> int:
    """Where a NextToken says to start; InvalidParameter for one this job did not give."""
    if token is None:
        return 0
    try:
        named, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        named, offset = "", ""
    if named != job_id or not offset.isdigit() or len(offset) > 9:
        raise InvalidParameter("NextToken is not one this job's answers gave.")
    return int(offset)


def _operation(step: Callable[..., Awaitable[msgspec.Struct]], api: Api) -> Operation:
    async def run(body: memoryview | bytearray, lector: Lector, caller: Caller) -> msgspec.Struct:
        return await step(body, lector, caller, api)

    return run


#: Every operation, by its name in X-Amz-Target.
OPERATIONS: dict[str, Operation] = {
    "DetectDocumentText": _operation(_sync, "text"),
    "AnalyzeDocument": _operation(_sync, "analysis"),
    "AnalyzeExpense": _operation(_sync, "expense"),
    "StartDocumentTextDetection": _operation(_start, "text"),
    "GetDocumentTextDetection": _operation(_get, "text"),
    "StartDocumentAnalysis": _operation(_start, "analysis"),
    "GetDocumentAnalysis": _operation(_get, "analysis"),
    "StartExpenseAnalysis": _operation(_start, "expense"),
    "GetExpenseAnalysis": _operation(_get, "expense"),
}
