"""The parts of a page's structure, as document-AI services describe a page: runs of words
(lines, paragraphs, keys, values, cells), key-value pairs and tables.

Every part names its words by their index in ``PageResult.words`` of its page, so a dialect can
point at its own word objects (Textract's CHILD relationships, Azure's spans), and gives its box
in the page's pixels, as a ``Word`` does.
"""

from __future__ import annotations

from typing import Literal

import msgspec

#: What a paragraph is on its page, as layout analysis names it (None: body text).
Role = Literal["title", "sectionHeading", "pageHeader", "pageFooter", "pageNumber"]


class Run(msgspec.Struct, frozen=True):
    """Words of one page read as one piece of text, in reading order."""

    #: 1-based page.
    page: int
    text: str
    #: Indexes into the page's ``words``.
    words: tuple[int, ...]
    #: [left, top, right, bottom] around the words, in page pixels.
    box: tuple[int, int, int, int]
    #: How sure the OCR is of the words, 0 to 1.
    confidence: float


class Paragraph(msgspec.Struct, frozen=True):
    """A block of lines that belong together, with its role on the page."""

    lines: tuple[Run, ...]
    role: Role | None = None

    @property
    def text(self) -> str:
        """The lines joined by spaces."""
        return " ".join(line.text for line in self.lines)


class KeyValue(msgspec.Struct, frozen=True):
    """A label and the value printed beside or below it ("Invoice No: 123")."""

    key: Run
    #: None: a label with nothing filled in.
    value: Run | None
    confidence: float


class Cell(msgspec.Struct, frozen=True):
    """One cell of a table; an empty cell has no words and the box of its row and column."""

    row: int
    column: int
    text: str
    words: tuple[int, ...]
    box: tuple[int, int, int, int]
    header: bool = False
    row_span: int = 1
    column_span: int = 1


class Table(msgspec.Struct, frozen=True):
    """A grid of cells on one page, the header row (when printed) first."""

    page: int
    rows: int
    columns: int
    cells: tuple[Cell, ...]
    box: tuple[int, int, int, int]
    confidence: float


class Structure(msgspec.Struct, frozen=True):
    """A document's structure, page by page in reading order."""

    #: Every visual line.
    lines: tuple[Run, ...]
    paragraphs: tuple[Paragraph, ...]
    key_values: tuple[KeyValue, ...]
    tables: tuple[Table, ...]
