"""Textract's wire: its requests and answers as msgspec Structs with its own member names.

Members are PascalCase on the wire (``FeatureTypes``, ``BoundingBox``); the Structs spell
them in Python's way and rename them (``rename="pascal"``), or name them where Textract
does not follow the rule (``SNSTopicArn``, ``KMSKeyId``). A request member Lector does not
know is ignored, as AWS's services ignore members a newer SDK adds; one Lector knows but
cannot honour (``OutputConfig``, ``AdaptersConfig``, ``HumanLoopConfig``) is refused with
InvalidParameterException (``service.api.dialects.textract.operations``). Answers leave out
what is absent (``omit_defaults``), as Textract's do.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta

#: What Textract's answers call the model that read the document.
MODEL_VERSION = "1.0"

FeatureType = Literal["TABLES", "FORMS", "QUERIES", "SIGNATURES", "LAYOUT"]
#: The feature types Lector answers (SIGNATURES it does not detect).
FEATURES: tuple[FeatureType, ...] = ("TABLES", "FORMS", "QUERIES", "LAYOUT")
#: The most queries one request may ask, as Textract's synchronous limit.
MAX_QUERIES = 15
#: The most blocks (or expense documents) one Get answers, and its default.
MAX_RESULTS = 1000


class Request(msgspec.Struct, rename="pascal", omit_defaults=True):
    """Base of request bodies: unknown members are ignored (see the module)."""


class Answer(msgspec.Struct, rename="pascal", omit_defaults=True):
    """Base of answers: absent members are left out."""


# -- Requests -------------------------------------------------------------------------------


class S3Object(Request):
    """An object in Lector's own store (``service.api.dialects.textract.documents``)."""

    bucket: Annotated[str, Meta(min_length=3, max_length=255)] | None = None
    name: Annotated[str, Meta(min_length=1, max_length=1024)] | None = None
    version: Annotated[str, Meta(min_length=1, max_length=1024)] | None = None


class Document(Request):
    """A document given whole (``Bytes``: base64 on the wire) or by where it is stored."""

    # Not ``bytes``: the annotation would then name the member, not the type.
    content: bytes | None = msgspec.field(default=None, name="Bytes")
    s3_object: S3Object | None = None


class DocumentLocation(Request):
    """Where an asynchronous operation's document is: an object in the store only."""

    s3_object: S3Object | None = None


class Query(Request):
    """One question asked of the document."""

    text: Annotated[str, Meta(min_length=1, max_length=200)]
    alias: Annotated[str, Meta(min_length=1, max_length=100)] | None = None
    pages: Annotated[list[Annotated[str, Meta(max_length=9)]], Meta(min_length=1, max_length=100)] | None = (
        None
    )


class QueriesConfig(Request):
    """The questions of the QUERIES feature."""

    queries: Annotated[list[Query], Meta(min_length=1, max_length=MAX_QUERIES)]


class NotificationChannel(Request):
    """Where to announce a job's end: Lector calls an https (or http) URL given as the topic."""

    sns_topic_arn: Annotated[str, Meta(min_length=1, max_length=2048)] = msgspec.field(name="SNSTopicArn")
    role_arn: Annotated[str, Meta(max_length=2048)] | None = None


FeatureTypes = Annotated[list[FeatureType], Meta(min_length=1, max_length=5)]


class DetectDocumentTextRequest(Request):
    """``Textract.DetectDocumentText``."""

    document: Document


class AnalyzeDocumentRequest(Request):
    """``Textract.AnalyzeDocument``."""

    document: Document
    feature_types: FeatureTypes
    queries_config: QueriesConfig | None = None
    human_loop_config: dict[str, Any] | None = None
    adapters_config: dict[str, Any] | None = None


class AnalyzeExpenseRequest(Request):
    """``Textract.AnalyzeExpense``."""

    document: Document


Token = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9-_]+$")]


class StartRequest(Request):
    """The members every ``Textract.Start*`` operation takes."""

    document_location: DocumentLocation
    client_request_token: Token | None = None
    job_tag: Annotated[str, Meta(min_length=1, max_length=64)] | None = None
    notification_channel: NotificationChannel | None = None
    output_config: dict[str, Any] | None = None
    kms_key_id: Annotated[str, Meta(max_length=2048)] | None = msgspec.field(default=None, name="KMSKeyId")


class StartDocumentTextDetectionRequest(StartRequest):
    """``Textract.StartDocumentTextDetection``."""


class StartDocumentAnalysisRequest(StartRequest):
    """``Textract.StartDocumentAnalysis``."""

    feature_types: FeatureTypes = msgspec.field(default_factory=list)
    queries_config: QueriesConfig | None = None
    adapters_config: dict[str, Any] | None = None


class StartExpenseAnalysisRequest(StartRequest):
    """``Textract.StartExpenseAnalysis``."""


class GetRequest(Request):
    """The members every ``Textract.Get*`` operation takes."""

    job_id: Annotated[str, Meta(min_length=1, max_length=64)]
    max_results: Annotated[int, Meta(ge=1)] = MAX_RESULTS
    next_token: Annotated[str, Meta(max_length=255)] | None = None


# -- Blocks ---------------------------------------------------------------------------------

BlockType = Literal[
    "PAGE",
    "LINE",
    "WORD",
    "KEY_VALUE_SET",
    "TABLE",
    "CELL",
    "QUERY",
    "QUERY_RESULT",
    "LAYOUT_TITLE",
    "LAYOUT_HEADER",
    "LAYOUT_FOOTER",
    "LAYOUT_SECTION_HEADER",
    "LAYOUT_PAGE_NUMBER",
    "LAYOUT_TEXT",
    "LAYOUT_TABLE",
    "LAYOUT_KEY_VALUE",
]
RelationshipType = Literal["CHILD", "VALUE", "ANSWER"]
EntityType = Literal["KEY", "VALUE", "COLUMN_HEADER"]


class BoundingBox(Answer):
    """A box as fractions of the page's width and height."""

    width: float
    height: float
    left: float
    top: float


class Point(Answer):
    """A corner, as fractions of the page's width and height."""

    x: float
    y: float


class Geometry(Answer):
    """Where something is on its page."""

    bounding_box: BoundingBox
    polygon: list[Point]


class Relationship(Answer):
    """The blocks a block points at, and how."""

    type: RelationshipType
    ids: list[str]


class QueryAsked(Answer):
    """A QUERY block's question."""

    text: str
    alias: str | None = None
    pages: list[str] | None = None


class Block(Answer):
    """One piece of the document: a page, a line, a word, a key or value, a table or cell,
    a query or its answer, a layout element."""

    block_type: BlockType
    id: str
    confidence: float | None = None
    text: str | None = None
    text_type: Literal["PRINTED"] | None = None
    row_index: int | None = None
    column_index: int | None = None
    row_span: int | None = None
    column_span: int | None = None
    geometry: Geometry | None = None
    relationships: list[Relationship] | None = None
    entity_types: list[EntityType] | None = None
    page: int | None = None
    query: QueryAsked | None = None


class DocumentMetadata(Answer):
    """How many pages the document has."""

    pages: int


# -- Expense --------------------------------------------------------------------------------


class ExpenseType(Answer):
    """What an expense field is (``TOTAL``, ``VENDOR_NAME``...)."""

    text: str
    confidence: float


class ExpenseDetection(Answer):
    """A label or a value, where it is printed."""

    text: str
    confidence: float
    geometry: Geometry | None = None


class ExpenseCurrency(Answer):
    """An amount's currency (ISO 4217)."""

    code: str
    confidence: float | None = None


class ExpenseField(Answer):
    """One field of a summary or of a line item."""

    type: ExpenseType
    value_detection: ExpenseDetection
    label_detection: ExpenseDetection | None = None
    page_number: int | None = None
    currency: ExpenseCurrency | None = None


class LineItemFields(Answer):
    """One line item."""

    line_item_expense_fields: list[ExpenseField]


class LineItemGroup(Answer):
    """A table of line items."""

    line_item_group_index: int
    line_items: list[LineItemFields]


class ExpenseDocument(Answer):
    """One receipt or invoice."""

    expense_index: int
    summary_fields: list[ExpenseField]
    line_item_groups: list[LineItemGroup]
    blocks: list[Block]


# -- Answers --------------------------------------------------------------------------------


class DetectDocumentTextAnswer(Answer, kw_only=True):
    """``DetectDocumentText``'s answer."""

    document_metadata: DocumentMetadata
    blocks: list[Block]
    detect_document_text_model_version: str  # always given: a default would be left out


class AnalyzeDocumentAnswer(Answer, kw_only=True):
    """``AnalyzeDocument``'s answer."""

    document_metadata: DocumentMetadata
    blocks: list[Block]
    analyze_document_model_version: str  # always given: a default would be left out


class AnalyzeExpenseAnswer(Answer):
    """``AnalyzeExpense``'s answer."""

    document_metadata: DocumentMetadata
    expense_documents: list[ExpenseDocument]


class Started(Answer):
    """Every ``Start*`` operation's answer."""

    job_id: str


JobStatus = Literal["IN_PROGRESS", "SUCCEEDED", "FAILED", "PARTIAL_SUCCESS"]


class GetTextDetectionAnswer(Answer, kw_only=True):
    """``GetDocumentTextDetection``'s answer."""

    job_status: JobStatus
    document_metadata: DocumentMetadata | None = None
    blocks: list[Block] | None = None
    next_token: str | None = None
    status_message: str | None = None
    detect_document_text_model_version: str  # always given: a default would be left out


class GetAnalysisAnswer(Answer, kw_only=True):
    """``GetDocumentAnalysis``'s answer."""

    job_status: JobStatus
    document_metadata: DocumentMetadata | None = None
    blocks: list[Block] | None = None
    next_token: str | None = None
    status_message: str | None = None
    analyze_document_model_version: str  # always given: a default would be left out


class GetExpenseAnswer(Answer, kw_only=True):
    """``GetExpenseAnalysis``'s answer."""

    job_status: JobStatus
    document_metadata: DocumentMetadata | None = None
    expense_documents: list[ExpenseDocument] | None = None
    next_token: str | None = None
    status_message: str | None = None
    analyze_expense_model_version: str  # always given: a default would be left out


class Failure(msgspec.Struct):
    """Every error answer: botocore reads the error code from ``__type`` and the sentence
    from ``message``."""

    type: str = msgspec.field(name="__type")
    message: str = ""
