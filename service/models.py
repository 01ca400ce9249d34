"""Wire types: what the core returns and what the API reads and answers.

msgspec Structs, so the schema is the type: the same classes validate requests, encode
responses and feed the OpenAPI document.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, cast

import msgspec
from msgspec import Meta

PageSource = Literal["ocr", "text-layer"]
#: What a field's value was read from: OCR words (or a text layer's), or a payment QR code.
EvidenceSource = Literal["ocr", "qr"]
#: What reads a page from its own text layer, where an answer or a metric names an engine.
TEXT_LAYER: PageSource = "text-layer"
#: The limits of a key a request can run into (``service.tenants.limits``).
LimitType = Literal["minute", "day", "quota", "tokens", "video_concurrency", "audio_concurrency"]


class Status(StrEnum):
    """Where a conversion or a batch stands (PARTIAL is for batches only)."""

    ENQUEUED = "ENQUEUED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        """True once it will not change again."""
        return self in (Status.SUCCESS, Status.PARTIAL, Status.FAILED)

    @property
    def job_state(self) -> JobState:
        """The status of one job on Lector's wire: a failed job is ERROR (the word Docutray's
        clients read too)."""
        return "ERROR" if self is Status.FAILED else cast(JobState, self.value)


#: Where one queued job stands, on its status route and in the job list.
JobState = Literal["ENQUEUED", "PROCESSING", "SUCCESS", "ERROR"]


class Word(msgspec.Struct):
    """One recognised word and where it stands on the page."""

    text: str
    confidence: float
    box: Annotated[list[int], Meta(description="[left, top, right, bottom] in page pixels")]


#: The most barcodes one page answers: a page of hundreds of codes costs no more than this many.
MAX_BARCODES = 20


class Barcode(msgspec.Struct):
    """One barcode or 2D code read on a page, and where it stands."""

    format: Annotated[
        str, Meta(description="The symbology, as zxing-cpp names it: QRCode, EAN13, Code128, DataMatrix, ...")
    ]
    text: Annotated[str, Meta(description="What the code holds, as text")]
    box: Annotated[list[int], Meta(description="[left, top, right, bottom] around the code, in page pixels")]


class FieldEvidence(msgspec.Struct):
    """Where a field's value stands on the page: the OCR words it was read from or matched to,
    or the payment QR code it was read from. A value the words do not hold has no page, box or
    words."""

    confidence: Annotated[
        float,
        Meta(
            description="0 to 1: the field's confidence (a model's answer: its words' mean OCR confidence, "
            "or 0.1 when unmatched)"
        ),
    ]
    page: Annotated[int | None, Meta(description="1-based page of the matched words")] = None
    box: Annotated[
        list[int] | None, Meta(description="[left, top, right, bottom] around the words, in page pixels")
    ] = None
    polygon: Annotated[
        list[list[int]] | None,
        Meta(description="The box's corners clockwise from top left, [[x, y], ...], in page pixels"),
    ] = None
    box_normalized: Annotated[
        list[float] | None, Meta(description="The box divided by the page's width and height, 0 to 1")
    ] = None
    words: Annotated[list[str], Meta(description="The matched words, as OCR read them")] = []
    source: Annotated[
        EvidenceSource,
        Meta(description="`ocr`: the page's words; `qr`: a payment QR code, whose box `box` is (no words)"),
    ] = "ocr"


class PageResult(msgspec.Struct):
    """The text of one page and how it was obtained."""

    page: Annotated[int, Meta(description="1-based page number in the document")]
    text: str
    confidence: Annotated[
        float | None, Meta(description="Mean word confidence, 0 to 100 (null for a vision model's reading)")
    ]
    width: Annotated[int, Meta(description="Page width in pixels at the OCR resolution")]
    height: int
    source: PageSource
    words: list[Word] = []
    barcodes: Annotated[
        list[Barcode],
        Meta(
            description=f"The barcodes and QR codes on the page (at most {MAX_BARCODES}), boxed in the "
            "words' pixels; a text-layer page is looked at when it draws images or graphics"
        ),
    ] = []
    language: Annotated[
        str | None,
        Meta(
            description="With `lang=auto`: the language found on the page, which Tesseract read it in "
            "(`eng` when it could not be told; ppocr reads every Latin-script language alike), or a "
            "text-layer page's; null otherwise"
        ),
    ] = None


class Check(msgspec.Struct):
    """One arithmetic check of a document's amounts."""

    name: Annotated[str, Meta(description="What was checked: `total`, `line_items_sum` or `line_amounts`")]
    ok: Annotated[bool, Meta(description="Whether the amounts add up (to the cent, or within cash rounding)")]
    detail: Annotated[str, Meta(description="The sum as computed, in one sentence")]


class Tokens(msgspec.Struct):
    """Model tokens spent on the request (all zero for Tesseract)."""

    prompt: int = 0
    completion: int = 0
    total: int = 0


class Extraction(msgspec.Struct):
    """What the core returns for one document."""

    engine: str
    language: str
    page_count: Annotated[int, Meta(description="Pages in the whole document")]
    pages: list[PageResult]
    processing_time: float
    tokens: Tokens = msgspec.field(default_factory=Tokens)
    model: str | None = None
    llm_calls: int = 0
    fields: dict[str, Any] | None = None
    field_confidence: dict[str, float] | None = None
    #: Where each scalar field's value stands: in the OCR words (every engine but a vision
    #: model), or a payment QR code.
    field_evidence: dict[str, FieldEvidence] | None = None
    #: The arithmetic of the fields' amounts (typed documents with amounts only).
    checks: list[Check] | None = None
    warnings: list[str] = []
    #: The type read: the one asked for, or the one identified for ``auto``, with how sure
    #: the identification was (None when the type was given).
    document_type: str = "text"
    document_type_confidence: float | None = None

    @property
    def text(self) -> str:
        """All pages' text joined by form feeds."""
        return "\f".join(page.text for page in self.pages)

    @property
    def confidence(self) -> int | None:
        """Mean word confidence over the pages that have one, weighted by word count."""
        rated = [
            (page.confidence, max(len(page.text.split()), 1))
            for page in self.pages
            if page.confidence is not None
        ]
        if not rated:
            return None if self.pages else 0
        return round(sum(value * weight for value, weight in rated) / sum(weight for _, weight in rated))


class Identification(msgspec.Struct):
    """What the core says a document is (``service.extract.identify_document``)."""

    ranking: Annotated[list[tuple[str, float]], Meta(description="(code, confidence), likeliest first")]
    #: What it took: the text it was judged by (no pages when a vision model looked instead).
    reading: Extraction


class RawResponse(msgspec.Struct):
    """Engine-level detail of a sync OCR answer."""

    engine: str
    page_count: int
    pages: list[PageResult]
    tokens: Tokens
    tokens_used: Annotated[int, Meta(description="tokens.total, as in asynchronous results")] = 0
    model: Annotated[str | None, Meta(description="The vision model, when one read the pages")] = None
    llm_calls: int = 0


class OcrData(msgspec.Struct):
    """The ``data`` member of a successful sync OCR answer."""

    success: bool
    text: Annotated[str, Meta(description="All pages' text, joined by form feeds")]
    processing_time: Annotated[float, Meta(description="Seconds spent on the document")]
    confidence: int | None
    language: str
    raw_response: RawResponse
    fields: Annotated[
        dict[str, Any] | None, Meta(description="The document type's fields (null for `text`)")
    ] = None
    field_confidence: Annotated[
        dict[str, float] | None,
        Meta(
            description="Each field's confidence, 0 to 1 (0 when not found): the field chooser's "
            "probability or the field rules' strength for an OCR engine, or, for `llm-text`, from the OCR "
            "words the value was matched to; null for a vision model, which reports none"
        ),
    ] = None
    field_evidence: Annotated[
        dict[str, FieldEvidence] | None,
        Meta(
            description="Each scalar field's value and where it was read: its page, box and OCR words "
            "(an OCR engine's or `llm-text`'s), or a payment QR code's page and box with source `qr` "
            "(any engine); null for a vision model's other fields"
        ),
    ] = None
    checks: Annotated[
        list[Check] | None,
        Meta(
            description="Whether the fields' amounts add up: subtotal + tax = total, the line items to "
            "the subtotal, quantity × unit price = amount (null for `text`)"
        ),
    ] = None
    warnings: Annotated[
        list[str],
        Meta(
            description="What was asked for and not done, one sentence each (e.g. instructions "
            "given to Tesseract, which takes none)"
        ),
    ] = []
    document_type: Annotated[
        str, Meta(description="The document type read: the one asked for, or the one identified for `auto`")
    ] = "text"
    document_type_confidence: Annotated[
        float | None, Meta(description="How sure the identification was, 0 to 1 (null unless `auto`)")
    ] = None


class OcrResponse(msgspec.Struct):
    """A successful sync OCR answer."""

    success: bool
    data: OcrData


class ErrorBody(msgspec.Struct, omit_defaults=True):
    """Every error answer: one sentence, and details where they help."""

    success: bool
    message: str
    errors: dict[str, Any] | list[str] | None = None
    #: Docutray's short name of the error, which its clients read on a 401 ("Invalid API key").
    error: str | None = None


class LimitRefusal(msgspec.Struct, rename="camel"):
    """The 429 answer: which limit refused the request, and when to try again (Docutray's shape)."""

    success: bool
    message: str
    error: Annotated[
        str,
        Meta(
            description="`Rate limit exceeded`, `Quota exceeded`, `Token budget exceeded` or "
            "`Concurrency limit exceeded`"
        ),
    ]
    limit_type: Annotated[LimitType, Meta(description="the limit that failed")]
    limit: int
    remaining: int
    reset_time: Annotated[
        int | None, Meta(description="when the window ends, epoch seconds (null: a quota or budget)")
    ]
    retry_after: Annotated[
        int | None,
        Meta(
            description="seconds until then (null: no window ends; a quota or budget does not refill, "
            "a concurrency slot frees when one of the key's media jobs ends)"
        ),
    ]


class Health(msgspec.Struct, omit_defaults=True):
    """Answer of ``GET /health`` and ``GET /ready``."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}
    llm: Annotated[
        str | None, Meta(description="The configured vision model (not called), or `not configured`")
    ] = None
    llm_server: Annotated[
        str | None,
        Meta(
            description="`ok` when the model server lists the configured model, or what is wrong "
            "(it does not make the probe fail)"
        ),
    ] = None


def ocr_data(extraction: Extraction) -> OcrData:
    """Shape an extraction as the ``data`` of a sync OCR answer (also ``lector ocr --json``)."""
    return OcrData(
        success=True,
        text=extraction.text,
        processing_time=extraction.processing_time,
        confidence=extraction.confidence,
        language=extraction.language,
        fields=extraction.fields,
        field_confidence=extraction.field_confidence,
        field_evidence=extraction.field_evidence,
        checks=extraction.checks,
        warnings=extraction.warnings,
        document_type=extraction.document_type,
        document_type_confidence=extraction.document_type_confidence,
        raw_response=RawResponse(
            engine=extraction.engine,
            page_count=extraction.page_count,
            pages=extraction.pages,
            tokens=extraction.tokens,
            tokens_used=extraction.tokens.total,
            model=extraction.model,
            llm_calls=extraction.llm_calls,
        ),
    )


class Submitted(msgspec.Struct):
    """Answer of ``POST /api/convert-async`` (202)."""

    conversion_id: str
    status_url: str
    status: JobState


class FileInfo(msgspec.Struct):
    """A file conversion's result, once it exists."""

    name: str
    media_type: str
    size: Annotated[int, Meta(description="Bytes")]
    download_url: Annotated[str, Meta(description="Download with the same API key")]
    signed_url: Annotated[
        str | None,
        Meta(description="Download without a key until it expires (null when LECTOR_SECRET is unset)"),
    ] = None


WebhookEvent = Literal["conversion.succeeded", "conversion.failed", "batch.completed"]
WebhookDeliveryState = Literal["pending", "retrying", "delivered", "failed", "stopped"]


class WebhookState(msgspec.Struct):
    """How the delivery of a callback is going (``callback_url``)."""

    state: Annotated[
        WebhookDeliveryState,
        Meta(
            description="pending (queued), retrying (an attempt failed; another is scheduled), delivered "
            "(a 2xx), failed (every retry spent, or the target is not allowed), stopped (the receiver "
            "answered 410)"
        ),
    ]
    attempts: int = 0
    last_status: Annotated[int | None, Meta(description="the receiver's last HTTP status")] = None
    delivered_at: str | None = None


class ConversionStatus(msgspec.Struct):
    """Answer of ``GET /api/convert-async/status/{id}``, and a conversion's webhook event: the
    fields Docutray's clients read first, then Lector's (progress, the whole result, tokens,
    the file, the webhook)."""

    conversion_id: str
    status: JobState
    status_url: str | None
    document_type_code: str
    original_filename: str | None
    request_timestamp: str
    response_timestamp: Annotated[str | None, Meta(description="When it ended (SUCCESS or ERROR)")]
    data: Annotated[
        dict[str, Any] | None,
        Meta(
            description="Once SUCCESS: the fields, as the document type's JSON Schema shapes them "
            '(`{"text": ...}` for the type `text`)'
        ),
    ]
    error: Annotated[str | None, Meta(description="Once ERROR: what went wrong, in one sentence")]
    progress: float
    started_at: str | None
    tokens_used: int
    result: Annotated[
        dict[str, Any] | None,
        Meta(description="Once SUCCESS: Lector's whole result (text, pages, fields, tokens, engine)"),
    ] = None
    file: Annotated[FileInfo | None, Meta(description="A file conversion's file, once SUCCESS")] = None
    webhook: Annotated[
        WebhookState | None, Meta(description="The callback's delivery, when one was asked")
    ] = None


class FormatCatalogue(msgspec.Struct):
    """Answer of ``GET /api/formats``: every input, every target, and every pair."""

    inputs: list[str]
    targets: dict[str, str]
    pairs: list[str]


class BatchCreated(msgspec.Struct):
    """Answer of ``POST /api/batches/`` (202)."""

    batch_id: str
    status_url: str
    total: int
    status: Status


class BatchItemStatus(msgspec.Struct):
    """One item in a batch's status."""

    index: int
    conversion_id: str
    filename: str | None
    status: Status
    error: dict[str, Any] | None


class BatchStatus(msgspec.Struct):
    """Answer of ``GET /api/batches/{id}``."""

    batch_id: str
    status: Status
    progress: float
    total: int
    succeeded: int
    failed: int
    tokens_used: int
    items: list[BatchItemStatus]
    webhook: Annotated[
        WebhookState | None, Meta(description="The callback's delivery, when one was asked")
    ] = None
