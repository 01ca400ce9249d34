"""Azure AI Document Intelligence's wire (REST 2024-11-30, v4.0): its request body, its
operation and result documents, its model descriptions and its error body, with Azure's names.

Everything is camelCase on the wire; an absent value is left out (``omit_defaults``), as
Azure leaves it out, so the SDK reads None rather than an empty list it did not expect.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

#: The one API version Lector speaks; the SDK (``azure-ai-documentintelligence`` 1.0) sends it.
API_VERSION = "2024-11-30"

OperationStatus = Literal["notStarted", "running", "succeeded", "failed"]
StringIndexType = Literal["textElements", "unicodeCodePoint", "utf16CodeUnit"]
ContentFormat = Literal["text", "markdown"]
#: Azure's add-on features; Lector answers some of them (``routes.ANSWERED_FEATURES``).
Feature = Literal[
    "ocrHighResolution", "languages", "barcodes", "formulas", "keyValuePairs", "styleFont", "queryFields"
]


class Wire(msgspec.Struct, rename="camel", omit_defaults=True):
    """Azure's names (camelCase) and Azure's habit of leaving absent values out."""


class AnalyzeDocumentRequest(Wire, forbid_unknown_fields=True):
    """The JSON body of ``:analyze``: the document by URL or as base64 (one of them)."""

    url_source: Annotated[str, Meta(max_length=8192)] | None = None
    base64_source: str | None = None


class Span(Wire):
    """A stretch of ``content``: the offset and length are counted in the request's
    ``stringIndexType``."""

    offset: int
    length: int


class BoundingRegion(Wire):
    """Where something stands: its page and its quadrilateral, 8 numbers in the page's pixels
    (x, y clockwise from the top left)."""

    page_number: int
    polygon: list[float]


class DocumentWord(Wire):
    content: str
    span: Span
    confidence: float
    polygon: list[float]


class DocumentLine(Wire):
    content: str
    spans: list[Span]
    polygon: list[float]


class DocumentBarcode(Wire):
    kind: str
    value: str
    span: Span
    confidence: float
    polygon: list[float]


class DocumentPage(Wire):
    page_number: int
    angle: float
    width: float
    height: float
    unit: Literal["pixel", "inch"]
    spans: list[Span]
    words: list[DocumentWord]
    lines: list[DocumentLine]
    barcodes: list[DocumentBarcode] | None = None


class DocumentParagraph(Wire):
    content: str
    spans: list[Span]
    bounding_regions: list[BoundingRegion]
    role: str | None = None


class DocumentTableCell(Wire):
    row_index: int
    column_index: int
    content: str
    spans: list[Span]
    bounding_regions: list[BoundingRegion]
    kind: Literal["content", "rowHeader", "columnHeader", "stubHead", "description"] | None = None
    row_span: int | None = None
    column_span: int | None = None


class DocumentTable(Wire):
    row_count: int
    column_count: int
    cells: list[DocumentTableCell]
    spans: list[Span]
    bounding_regions: list[BoundingRegion]


class DocumentKeyValueElement(Wire):
    content: str
    spans: list[Span]
    bounding_regions: list[BoundingRegion]


class DocumentKeyValuePair(Wire):
    key: DocumentKeyValueElement
    confidence: float
    value: DocumentKeyValueElement | None = None


class DocumentLanguage(Wire):
    locale: str
    spans: list[Span]
    confidence: float


class CurrencyValue(Wire):
    amount: float
    currency_code: str | None = None
    currency_symbol: str | None = None


class AddressValue(Wire):
    """Lector does not take addresses apart: the whole address is the street address."""

    street_address: str | None = None


class DocumentField(Wire):
    """One field: its type, its value under the name its type gives, and where it was read."""

    type: str
    value_string: str | None = None
    value_date: str | None = None
    value_time: str | None = None
    value_phone_number: str | None = None
    value_number: float | None = None
    value_integer: int | None = None
    value_boolean: bool | None = None
    value_currency: CurrencyValue | None = None
    value_address: AddressValue | None = None
    value_array: list[DocumentField] | None = None
    value_object: dict[str, DocumentField] | None = None
    content: str | None = None
    bounding_regions: list[BoundingRegion] | None = None
    spans: list[Span] | None = None
    confidence: float | None = None


class AnalyzedDocument(Wire):
    doc_type: str
    fields: dict[str, DocumentField]
    confidence: float
    spans: list[Span]
    bounding_regions: list[BoundingRegion] | None = None


class AnalyzeResult(Wire):
    api_version: str
    model_id: str
    string_index_type: StringIndexType
    content: str
    content_format: ContentFormat
    pages: list[DocumentPage]
    paragraphs: list[DocumentParagraph] | None = None
    tables: list[DocumentTable] | None = None
    key_value_pairs: list[DocumentKeyValuePair] | None = None
    languages: list[DocumentLanguage] | None = None
    documents: list[AnalyzedDocument] | None = None


class InnerError(Wire):
    code: str
    message: str


class Error(Wire):
    code: str
    message: str
    innererror: InnerError | None = None


class ErrorResponse(Wire):
    """Every error answer: ``{"error": {"code", "message", "innererror"?}}``."""

    error: Error


class AnalyzeOperation(Wire):
    """Answer of ``GET .../analyzeResults/{resultId}``."""

    status: OperationStatus
    created_date_time: str
    last_updated_date_time: str
    analyze_result: AnalyzeResult | None = None
    error: Error | None = None


class FieldSchema(Wire):
    """A field of a model's document type: its type and, for an array or an object, what it holds."""

    type: str
    description: str | None = None
    items: FieldSchema | None = None
    properties: dict[str, FieldSchema] | None = None


class DocumentTypeDetails(Wire):
    field_schema: dict[str, FieldSchema]
    description: str | None = None
    build_mode: Literal["template", "neural"] | None = None


class DocumentModelDetails(Wire):
    """A model as ``GET /documentModels/{modelId}`` describes it."""

    model_id: str
    created_date_time: str
    api_version: str
    description: str | None = None
    doc_types: dict[str, DocumentTypeDetails] | None = None
    tags: dict[str, str] | None = None
    build_mode: Literal["template", "neural"] | None = None


class DocumentModelList(Wire):
    """Answer of ``GET /documentModels``: every model on one page (there is no ``nextLink``)."""

    value: list[DocumentModelDetails]
    next_link: str | None = None


def error_body(code: str, message: str, inner: tuple[str, str] | None = None) -> ErrorResponse:
    """Azure's error body; ``inner``: (code, message) of its ``innererror``."""
    return ErrorResponse(
        error=Error(code=code, message=message, innererror=InnerError(*inner) if inner else None)
    )
