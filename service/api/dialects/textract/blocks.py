"""A read document as Textract's blocks, from its pages and their structure.

Every part comes from ``service.structure`` (lines, key-value pairs, tables, paragraphs and
their roles); this module only names them in Textract's words:

- PAGE (its CHILD: every block on it but its WORDs and CELLs, as AWS's parsers look for a
  page's lines, pairs, tables, queries and layout among its children), LINE (CHILD: its
  WORDs), WORD (``TextType`` PRINTED);
- FORMS: a KEY_VALUE_SET KEY (VALUE: its value, CHILD: its words) and a KEY_VALUE_SET VALUE
  (CHILD: its words; none for a label with nothing filled in);
- TABLES: TABLE (CHILD: its CELLs), CELL with 1-based ``RowIndex``/``ColumnIndex``, spans,
  ``EntityTypes`` COLUMN_HEADER for a header cell, CHILD: its words;
- QUERIES: a QUERY per question (``service.api.dialects.textract.queries`` answers it), with
  an ANSWER relationship to its QUERY_RESULT when it has an answer;
- LAYOUT: a LAYOUT_TABLE per table, a LAYOUT_KEY_VALUE per pair, and each other paragraph as
  LAYOUT_TITLE, LAYOUT_SECTION_HEADER, LAYOUT_HEADER, LAYOUT_FOOTER, LAYOUT_PAGE_NUMBER or
  LAYOUT_TEXT by its role; CHILD: its LINEs.

Boxes are fractions of the page (``BoundingBox``, and the four corners clockwise from the top
left as ``Polygon``); confidences are 0 to 100. Ids are UUIDs made from a namespace and a
counter, so a job's blocks keep their ids from one Get to the next.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from service.api.dialects.textract.queries import Answer
from service.api.dialects.textract.wire import (
    Block,
    BlockType,
    BoundingBox,
    FeatureType,
    Geometry,
    Point,
    Query,
    QueryAsked,
    Relationship,
)
from service.models import PageResult
from service.structure import KeyValue, Paragraph, Run, Structure, Table

Box = Sequence[int]
#: A paragraph's role as a layout block's type (None: body text).
LAYOUT_TYPES: dict[str | None, BlockType] = {
    "title": "LAYOUT_TITLE",
    "sectionHeading": "LAYOUT_SECTION_HEADER",
    "pageHeader": "LAYOUT_HEADER",
    "pageFooter": "LAYOUT_FOOTER",
    "pageNumber": "LAYOUT_PAGE_NUMBER",
    None: "LAYOUT_TEXT",
}


def geometry(box: Box, page: PageResult) -> Geometry:
    """A box in page pixels as Textract's geometry (fractions of the page, 0 to 1)."""
    width, height = max(page.width, 1), max(page.height, 1)
    left, top = _fraction(box[0] / width), _fraction(box[1] / height)
    right, bottom = _fraction(box[2] / width), _fraction(box[3] / height)
    return Geometry(
        bounding_box=BoundingBox(
            width=round(right - left, 6), height=round(bottom - top, 6), left=left, top=top
        ),
        polygon=[
            Point(x=left, y=top),
            Point(x=right, y=top),
            Point(x=right, y=bottom),
            Point(x=left, y=bottom),
        ],
    )


def _fraction(value: float) -> float:
    return round(min(max(value, 0.0), 1.0), 6)


def _percent(confidence: float) -> float:
    """A 0-to-1 confidence as Textract's 0 to 100."""
    return round(min(max(confidence, 0.0), 1.0) * 100, 3)


class Blocks:
    """The blocks of one document, made part by part; ``blocks`` holds them in order."""

    def __init__(self, pages: list[PageResult], namespace: uuid.UUID) -> None:
        self.pages = {page.page: page for page in pages}
        self.blocks: list[Block] = []
        self._namespace = namespace
        self._count = 0
        self._page_blocks: dict[int, Block] = {}
        self._words: dict[tuple[int, int], str] = {}
        self._lines: dict[tuple[int, tuple[int, ...]], str] = {}

    def _id(self) -> str:
        self._count += 1
        return str(uuid.uuid5(self._namespace, str(self._count)))

    def _add(self, block: Block, *, on_page: bool = True) -> str:
        self.blocks.append(block)
        page = self._page_blocks.get(block.page or 0)
        if on_page and page is not None:
            assert page.relationships is not None
            page.relationships[0].ids.append(block.id)
        return block.id

    def text(self, lines: Iterable[Run]) -> None:
        """PAGE, LINE and WORD blocks: every page, and each line with its words."""
        for page in self.pages.values():
            block = Block(
                block_type="PAGE",
                id=self._id(),
                geometry=geometry((0, 0, page.width, page.height), page),
                relationships=[Relationship(type="CHILD", ids=[])],
                page=page.page,
            )
            self.blocks.append(block)
            self._page_blocks[page.page] = block
        for line in lines:
            page = self.pages[line.page]
            line_id = self._id()
            words = [self._word(page, number) for number in line.words]
            self._lines[(line.page, line.words)] = line_id
            self._add(
                Block(
                    block_type="LINE",
                    id=line_id,
                    confidence=_percent(line.confidence),
                    text=line.text,
                    geometry=geometry(line.box, page),
                    relationships=[Relationship(type="CHILD", ids=[word.id for word in words])],
                    page=line.page,
                )
            )
            self.blocks.extend(words)

    def _word(self, page: PageResult, number: int) -> Block:
        word = page.words[number]
        block = Block(
            block_type="WORD",
            id=self._id(),
            confidence=round(min(max(word.confidence, 0.0), 100.0), 3),
            text=word.text,
            text_type="PRINTED",
            geometry=geometry(word.box, page),
            page=page.page,
        )
        self._words[(page.page, number)] = block.id
        return block

    def _word_ids(self, page: int, words: Iterable[int]) -> list[str]:
        return [self._words[(page, number)] for number in words if (page, number) in self._words]

    def forms(self, pairs: Iterable[KeyValue]) -> None:
        """KEY_VALUE_SET blocks, a KEY and its VALUE for each pair."""
        for pair in pairs:
            page = self.pages[pair.key.page]
            value_id = self._id()
            self._add(
                Block(
                    block_type="KEY_VALUE_SET",
                    id=self._id(),
                    confidence=_percent(pair.confidence),
                    geometry=geometry(pair.key.box, page),
                    relationships=[
                        Relationship(type="VALUE", ids=[value_id]),
                        Relationship(type="CHILD", ids=self._word_ids(page.page, pair.key.words)),
                    ],
                    entity_types=["KEY"],
                    page=page.page,
                )
            )
            value = pair.value
            self._add(
                Block(
                    block_type="KEY_VALUE_SET",
                    id=value_id,
                    confidence=_percent(pair.confidence),
                    geometry=geometry(value.box if value is not None else pair.key.box, page),
                    relationships=(
                        [Relationship(type="CHILD", ids=self._word_ids(page.page, value.words))]
                        if value is not None
                        else None
                    ),
                    entity_types=["VALUE"],
                    page=page.page,
                )
            )

    def tables(self, tables: Iterable[Table]) -> None:
        """TABLE blocks with their CELLs."""
        for table in tables:
            page = self.pages[table.page]
            cells: list[Block] = []
            for cell in table.cells:
                words = self._word_ids(page.page, cell.words)
                cells.append(
                    Block(
                        block_type="CELL",
                        id=self._id(),
                        confidence=_percent(table.confidence),
                        # Textract counts rows and columns from 1, the structure from 0.
                        row_index=cell.row + 1,
                        column_index=cell.column + 1,
                        row_span=cell.row_span,
                        column_span=cell.column_span,
                        geometry=geometry(cell.box, page),
                        relationships=[Relationship(type="CHILD", ids=words)] if words else None,
                        entity_types=["COLUMN_HEADER"] if cell.header else None,
                        page=page.page,
                    )
                )
            self._add(
                Block(
                    block_type="TABLE",
                    id=self._id(),
                    confidence=_percent(table.confidence),
                    geometry=geometry(table.box, page),
                    relationships=[Relationship(type="CHILD", ids=[cell.id for cell in cells])],
                    page=page.page,
                )
            )
            self.blocks.extend(cells)

    def queries(self, asked: Sequence[Query], answers: Sequence[Answer | None]) -> None:
        """A QUERY block per question, on each page it asks about (every page by default),
        with its QUERY_RESULT when it has an answer there."""
        for query, answer in zip(asked, answers, strict=True):
            for number, page in self.pages.items():
                if query.pages is not None and not _asks_about(query.pages, number, len(self.pages)):
                    continue
                here = answer if answer is not None and answer.page == number else None
                result_id = None
                if here is not None:
                    result_id = self._add(
                        Block(
                            block_type="QUERY_RESULT",
                            id=self._id(),
                            confidence=_percent(here.confidence),
                            text=here.text,
                            geometry=geometry(here.box, page) if here.box is not None else None,
                            page=number,
                        )
                    )
                self._add(
                    Block(
                        block_type="QUERY",
                        id=self._id(),
                        relationships=[Relationship(type="ANSWER", ids=[result_id])] if result_id else None,
                        page=number,
                        query=QueryAsked(text=query.text, alias=query.alias, pages=query.pages),
                    )
                )

    def layout(self, structure: Structure) -> None:
        """LAYOUT_* blocks: tables, key-value pairs, then the other paragraphs by their role,
        each line in one layout block at most."""
        taken: set[tuple[int, tuple[int, ...]]] = set()
        for table in structure.tables:
            in_table = {number for cell in table.cells for number in cell.words}
            lines = [
                line for line in structure.lines if line.page == table.page and in_table & set(line.words)
            ]
            self._layout("LAYOUT_TABLE", table.page, table.box, table.confidence, lines, taken)
        for pair in structure.key_values:
            words = set(pair.key.words) | set(pair.value.words if pair.value else ())
            lines = [
                line for line in structure.lines if line.page == pair.key.page and words & set(line.words)
            ]
            box = _around([pair.key.box, *([pair.value.box] if pair.value else [])])
            self._layout("LAYOUT_KEY_VALUE", pair.key.page, box, pair.confidence, lines, taken)
        for paragraph in structure.paragraphs:
            self._paragraph(paragraph, taken)

    def _paragraph(self, paragraph: Paragraph, taken: set[tuple[int, tuple[int, ...]]]) -> None:
        if not paragraph.lines:
            return
        page = paragraph.lines[0].page
        confidence = min(line.confidence for line in paragraph.lines)
        box = _around([line.box for line in paragraph.lines])
        self._layout(
            LAYOUT_TYPES.get(paragraph.role, "LAYOUT_TEXT"), page, box, confidence, paragraph.lines, taken
        )

    def _layout(
        self,
        kind: BlockType,
        page: int,
        box: Box,
        confidence: float,
        lines: Iterable[Run],
        taken: set[tuple[int, tuple[int, ...]]],
    ) -> None:
        keys = [(line.page, line.words) for line in lines]
        ids = [self._lines[key] for key in keys if key in self._lines and key not in taken]
        if not ids:
            return
        taken.update(keys)
        self._add(
            Block(
                block_type=kind,
                id=self._id(),
                confidence=_percent(confidence),
                geometry=geometry(box, self.pages[page]),
                relationships=[Relationship(type="CHILD", ids=ids)],
                page=page,
            )
        )


def _around(boxes: Sequence[Box]) -> tuple[int, int, int, int]:
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )


def _asks_about(pages: Sequence[str], number: int, count: int) -> bool:
    """Whether a query's ``Pages`` (``"2"``, ``"1-3"``, ``"4-*"``, ``"*"``) take in ``number``."""
    for part in pages[:100]:
        first, _, last = part.partition("-")
        low = 1 if first == "*" else int(first) if first.isdigit() else None
        high = count if last == "*" or first == "*" else int(last) if last.isdigit() else low
        if low is not None and high is not None and low <= number <= high:
            return True
    return False


def document_blocks(
    pages: list[PageResult],
    structure: Structure,
    namespace: uuid.UUID,
    features: Sequence[FeatureType] = (),
    queries: Sequence[Query] = (),
    answers: Sequence[Answer | None] = (),
) -> list[Block]:
    """Every block of a document read into ``pages``: its text, and the ``features`` asked."""
    made = Blocks(pages, namespace)
    made.text(structure.lines)
    if "FORMS" in features:
        made.forms(structure.key_values)
    if "TABLES" in features:
        made.tables(structure.tables)
    if "QUERIES" in features:
        made.queries(queries, answers)
    if "LAYOUT" in features:
        made.layout(structure)
    # Page by page, each PAGE first, as Textract answers: trp reads a block as on the page
    # of the PAGE block before it.
    return sorted(made.blocks, key=lambda block: block.page or 0)
