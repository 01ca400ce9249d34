"""A finished Lector extraction as Azure's ``analyzeResult``.

The words, their boxes and the fields come from the job's result
(``service.perform.extraction_result``); lines, paragraphs, tables and key-value pairs from
``service.structure.structure_of``, never found here. The content is written once
(``content.write``) and every span points into it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from service.api.dialects.document_intelligence.content import Content, Indexer, covering, joined, write
from service.api.dialects.document_intelligence.models import CURRENCY, FieldMap, Model, field_type
from service.api.dialects.document_intelligence.wire import (
    API_VERSION,
    AddressValue,
    AnalyzedDocument,
    AnalyzeResult,
    BoundingRegion,
    ContentFormat,
    CurrencyValue,
    DocumentBarcode,
    DocumentField,
    DocumentKeyValueElement,
    DocumentKeyValuePair,
    DocumentLanguage,
    DocumentLine,
    DocumentPage,
    DocumentParagraph,
    DocumentTable,
    DocumentTableCell,
    DocumentWord,
    Span,
    StringIndexType,
)
from service.models import FieldEvidence, PageResult
from service.structure import Run, Structure, Table, structure_of
from service.structure.items import item_evidence

#: The most items of one array field answered (a hostile model's answer costs no more).
MAX_ITEMS = 500
#: How deep a custom model's objects and arrays are followed.
MAX_DEPTH = 8
#: Tesseract's language codes as the BCP 47 locales Azure answers.
LOCALES = {
    "eng": "en", "deu": "de", "fra": "fr", "spa": "es", "ita": "it", "por": "pt", "nld": "nl",
    "msa": "ms", "ind": "id", "pol": "pl", "swe": "sv", "dan": "da", "nor": "no", "fin": "fi",
    "ces": "cs", "tur": "tr", "rus": "ru", "ukr": "uk", "ell": "el", "jpn": "ja", "kor": "ko",
    "chi_sim": "zh-Hans", "chi_tra": "zh-Hant", "ara": "ar", "heb": "he", "hin": "hi", "vie": "vi",
}  # fmt: skip
#: How near a word's centre must be to a field's box to be one of its words, in pixels.
_SLACK = 2
_NOT_PHONE = re.compile(r"[^\d+]")


class Choices(NamedTuple):
    """What the analyze request asked of the result (kept in the Operation-Location URL)."""

    content_format: ContentFormat = "text"
    string_index_type: StringIndexType = "textElements"
    features: tuple[str, ...] = ()


class _Place(NamedTuple):
    """Where a part stands: its text, its spans, its regions."""

    content: str
    spans: list[Span]
    regions: list[BoundingRegion]


class _Writer:
    """The written content and what places a part in it."""

    def __init__(
        self, pages: list[PageResult], structure: Structure, form: ContentFormat, kind: StringIndexType
    ):
        self.pages = {page.page: page for page in pages}
        self.content: Content = write(
            structure, {page.page: [w.text for w in page.words] for page in pages}, form
        )
        self.text = self.content.value()
        self.index = Indexer(self.text, kind)

    def place(
        self, page: int, indexes: tuple[int, ...] | list[int], box: tuple[int, ...] | list[int]
    ) -> _Place:
        ranges = self.content.ranges((page, index) for index in indexes)
        return _Place(
            joined(self.text, ranges),
            self.index.spans(ranges),
            [BoundingRegion(page_number=page, polygon=polygon(box))],
        )

    def run(self, run: Run) -> _Place:
        return self.place(run.page, run.words, run.box)


def polygon(box: tuple[int, ...] | list[int]) -> list[float]:
    """A [left, top, right, bottom] box as Azure's 8-number polygon, clockwise from top left."""
    left, top, right, bottom = (float(side) for side in box[:4])
    return [left, top, right, top, right, bottom, left, bottom]


def analyze_result(model: Model, result: dict[str, Any], choices: Choices) -> AnalyzeResult:
    """The ``analyzeResult`` of ``model`` from a finished extraction's ``result``."""
    pages = msgspec.convert(result.get("pages") or [], list[PageResult])
    structure = structure_of(pages)
    tables = structure.tables  # the line items' rows, which place Items' values
    if not model.layout:  # prebuilt-read: paragraphs without roles, no tables
        paragraphs = tuple(msgspec.structs.replace(p, role=None) for p in structure.paragraphs)
        structure = msgspec.structs.replace(structure, paragraphs=paragraphs, tables=())
    writer = _Writer(pages, structure, choices.content_format, choices.string_index_type)
    features = set(choices.features)
    return AnalyzeResult(
        api_version=API_VERSION,
        model_id=model.model_id,
        string_index_type=choices.string_index_type,
        content=writer.text,
        content_format=choices.content_format,
        pages=[_page(writer, page, structure, "barcodes" in features) for page in pages],
        paragraphs=[_paragraph(writer, paragraph) for paragraph in structure.paragraphs],
        tables=[_table(writer, table) for table in structure.tables] if model.layout else None,
        key_value_pairs=[_pair(writer, pair) for pair in structure.key_values]
        if "keyValuePairs" in features
        else None,
        languages=_languages(writer, pages, result) if "languages" in features else None,
        documents=[_document(writer, model, result, tables)] if model.doc_type is not None else None,
    )


def _page(writer: _Writer, page: PageResult, structure: Structure, barcodes: bool) -> DocumentPage:
    placed = writer.content.placed
    number = page.page
    words = [
        DocumentWord(
            content=word.text,
            span=writer.index.span(*placed[(number, index)][:2]),
            confidence=round(word.confidence / 100, 3),
            polygon=polygon(word.box),
        )
        for index, word in enumerate(page.words)
        if (number, index) in placed
    ]
    ranges = writer.content.ranges((number, index) for index in range(len(page.words)))
    lines = [writer.run(line) for line in structure.lines if line.page == number]
    end = ranges[-1][1] if ranges else 0
    return DocumentPage(
        page_number=number,
        angle=0.0,
        width=float(page.width),
        height=float(page.height),
        unit="pixel",
        spans=writer.index.spans(covering(ranges)),
        words=words,
        lines=[
            DocumentLine(content=line.content, spans=line.spans, polygon=line.regions[0].polygon)
            for line in lines
        ],
        barcodes=[
            DocumentBarcode(
                kind=code.format,
                value=code.text,
                span=writer.index.span(end, end),
                confidence=1.0,
                polygon=polygon(code.box),
            )
            for code in page.barcodes
        ]
        if barcodes
        else None,
    )


def _paragraph(writer: _Writer, paragraph: Any) -> DocumentParagraph:
    lines: tuple[Run, ...] = paragraph.lines
    page = lines[0].page
    indexes = [index for line in lines for index in line.words]
    box = (
        min(line.box[0] for line in lines),
        min(line.box[1] for line in lines),
        max(line.box[2] for line in lines),
        max(line.box[3] for line in lines),
    )
    place = writer.place(page, indexes, box)
    return DocumentParagraph(
        content=place.content, spans=place.spans, bounding_regions=place.regions, role=paragraph.role
    )


def _table(writer: _Writer, table: Any) -> DocumentTable:
    cells = []
    every: list[int] = []
    for cell in table.cells:
        place = writer.place(table.page, cell.words, cell.box)
        every.extend(cell.words)
        cells.append(
            DocumentTableCell(
                row_index=cell.row,
                column_index=cell.column,
                content=place.content,
                spans=place.spans,
                bounding_regions=place.regions,
                kind="columnHeader" if cell.header else None,
                row_span=cell.row_span if cell.row_span > 1 else None,
                column_span=cell.column_span if cell.column_span > 1 else None,
            )
        )
    ranges = covering(writer.content.ranges((table.page, index) for index in every))
    return DocumentTable(
        row_count=table.rows,
        column_count=table.columns,
        cells=cells,
        spans=writer.index.spans(ranges),
        bounding_regions=[BoundingRegion(page_number=table.page, polygon=polygon(table.box))],
    )


def _pair(writer: _Writer, pair: Any) -> DocumentKeyValuePair:
    def element(run: Run) -> DocumentKeyValueElement:
        place = writer.run(run)
        return DocumentKeyValueElement(
            content=place.content, spans=place.spans, bounding_regions=place.regions
        )

    return DocumentKeyValuePair(
        key=element(pair.key),
        value=element(pair.value) if pair.value is not None else None,
        confidence=round(pair.confidence, 3),
    )


def _languages(writer: _Writer, pages: list[PageResult], result: dict[str, Any]) -> list[DocumentLanguage]:
    """Each page's language, as Lector read it (confidence 1: the language it was read in)."""
    found = []
    for page in pages:
        code = page.language or result.get("language")
        ranges = covering(writer.content.ranges((page.page, index) for index in range(len(page.words))))
        if isinstance(code, str) and code and ranges:
            locale = LOCALES.get(code.split("+")[0], code.split("+")[0])
            found.append(DocumentLanguage(locale=locale, spans=writer.index.spans(ranges), confidence=1.0))
    return found


def _document(
    writer: _Writer, model: Model, result: dict[str, Any], tables: Sequence[Table]
) -> AnalyzedDocument:
    values: dict[str, Any] = result.get("fields") or {}
    evidence: dict[str, Any] = result.get("field_evidence") or {}
    confidence: dict[str, float] = result.get("field_confidence") or {}
    fields = _Fields(writer, values, evidence, confidence, tables)
    if model.schema is not None:
        properties = model.schema.get("properties") or {}
        answered = {name: fields.custom(name, values.get(name), properties.get(name)) for name in properties}
    else:
        answered = {field.azure: fields.mapped(field) for field in model.fields}
    sure = result.get("document_type_confidence")
    return AnalyzedDocument(
        doc_type=model.doc_type or model.model_id,
        fields={name: field for name, field in answered.items() if field is not None},
        confidence=round(float(sure), 3) if isinstance(sure, int | float) else 1.0,
        spans=writer.index.spans([(0, len(writer.text))] if writer.text else []),
        bounding_regions=[
            BoundingRegion(page_number=page.page, polygon=polygon((0, 0, page.width, page.height)))
            for page in writer.pages.values()
        ],
    )


class _Fields:
    """Lector's fields as Azure's: values typed, placed by their evidence."""

    def __init__(
        self,
        writer: _Writer,
        values: dict[str, Any],
        evidence: dict[str, Any],
        confidence: dict[str, float],
        tables: Sequence[Table],
    ) -> None:
        self.writer = writer
        self.values = values
        self.evidence = evidence
        self.confidence = confidence
        self.tables = tables
        currency = values.get(CURRENCY)
        self.currency = currency if isinstance(currency, str) else None

    def mapped(self, field: FieldMap) -> DocumentField | None:
        """A prebuilt model's field, from the Lector field its table names."""
        if field.type == "array":
            if field.lector is None:  # one object of top-level fields (PaymentDetails)
                inner = self._object(field.items, self.values)
                return DocumentField(type="array", value_array=[inner]) if inner is not None else None
            items = self.values.get(field.lector)
            if not isinstance(items, list) or not items:
                return None
            kept = [item for item in items[:MAX_ITEMS] if isinstance(item, dict)]
            placed = item_evidence(kept, list(self.writer.pages.values()), self.tables)
            objects = [
                self._object(field.items, item, found) for item, found in zip(kept, placed, strict=True)
            ]
            return DocumentField(type="array", value_array=[item for item in objects if item is not None])
        return self._scalar(field.type, self.values.get(field.lector or ""), field.lector)

    def _object(
        self,
        parts: tuple[FieldMap, ...],
        source: dict[str, Any],
        found: Mapping[str, FieldEvidence] | None = None,
    ) -> DocumentField | None:
        """An object of ``parts`` from ``source`` (the top-level fields, or a line item, which
        ``found`` places)."""
        found = found or {}
        inner = {
            part.azure: self._scalar(
                part.type, source.get(part.lector or ""), None, found.get(part.lector or "")
            )
            for part in parts
        }
        kept = {name: value for name, value in inner.items() if value is not None}
        return DocumentField(type="object", value_object=kept) if kept else None

    def custom(self, name: str, value: Any, part: Any, depth: int = 0) -> DocumentField | None:
        """A custom model's field, typed by its JSON Schema, under its own name."""
        if value is None or not isinstance(part, dict):
            return None
        kind = field_type(part)
        if depth < MAX_DEPTH and kind == "array" and isinstance(value, list):
            items = [self.custom(name, item, part.get("items"), depth + 1) for item in value[:MAX_ITEMS]]
            return DocumentField(type="array", value_array=[item for item in items if item is not None])
        if depth < MAX_DEPTH and kind == "object" and isinstance(value, dict):
            given = part.get("properties")
            properties: dict[str, Any] = given if isinstance(given, dict) else {}
            inner = {
                key: self.custom(key, value.get(key), properties.get(key), depth + 1) for key in properties
            }
            return DocumentField(
                type="object", value_object={k: v for k, v in inner.items() if v is not None}
            )
        return self._scalar(kind, value, name if depth == 0 else None)

    def _scalar(
        self, kind: str, value: Any, lector: str | None, found: FieldEvidence | None = None
    ) -> DocumentField | None:
        """A field's value under its type's name; ``lector``: the top-level field whose
        evidence places it, or ``found``: a line item's value's evidence."""
        if value is None or isinstance(value, list | dict):
            return None
        field = _typed(kind, value, self.currency)
        if lector is None and found is None:  # placed nowhere
            return msgspec.structs.replace(field, content=value) if isinstance(value, str) else field
        sure = self.confidence.get(lector) if lector is not None else found.confidence if found else None
        field = msgspec.structs.replace(
            field, confidence=round(sure, 3) if isinstance(sure, int | float) else None
        )
        evidence = self.evidence.get(lector) if lector is not None else msgspec.to_builtins(found)
        place = self._place(evidence)
        if place is None:
            return field
        return msgspec.structs.replace(
            field, content=place.content, spans=place.spans, bounding_regions=place.regions
        )

    def _place(self, evidence: Any) -> _Place | None:
        """Where the field's evidence stands: its words in the content, its box on its page."""
        if not isinstance(evidence, dict) or evidence.get("page") not in self.writer.pages:
            return None
        box = evidence.get("box")
        if not isinstance(box, list) or len(box) != 4:
            return None
        page = self.writer.pages[evidence["page"]]
        texts = set(evidence.get("words") or [])
        left, top, right, bottom = box
        indexes = [
            index
            for index, word in enumerate(page.words)
            if left - _SLACK <= (word.box[0] + word.box[2]) / 2 <= right + _SLACK
            and top - _SLACK <= (word.box[1] + word.box[3]) / 2 <= bottom + _SLACK
            and (not texts or word.text in texts)
        ]
        if not indexes:
            return None
        return self.writer.place(page.page, indexes, box)


def _typed(kind: str, value: Any, currency: str | None) -> DocumentField:
    """A bare field of Azure's ``kind`` holding ``value`` (a string when it does not fit)."""
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "currency" and number is not None:
        return DocumentField(
            type="currency", value_currency=CurrencyValue(amount=float(number), currency_code=currency)
        )
    if kind == "number" and number is not None:
        return DocumentField(type="number", value_number=float(number))
    if kind == "integer" and isinstance(number, int):
        return DocumentField(type="integer", value_integer=number)
    if kind == "boolean" and isinstance(value, bool):
        return DocumentField(type="boolean", value_boolean=value)
    text = str(value)
    if kind == "date":
        return DocumentField(type="date", value_date=text)
    if kind == "time":
        return DocumentField(type="time", value_time=text if text.count(":") == 2 else f"{text}:00")
    if kind == "phoneNumber":
        return DocumentField(type="phoneNumber", value_phone_number=_NOT_PHONE.sub("", text))
    if kind == "address":
        return DocumentField(type="address", value_address=AddressValue(street_address=text))
    return DocumentField(type="string", value_string=text)
