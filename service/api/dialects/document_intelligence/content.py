"""The result's ``content``, written once, and where each word landed in it.

Azure's every part (word, line, paragraph, cell, key, value, field) points into ``content`` by
spans. Here the content is written a word at a time from the document's structure
(``service.structure``), each word's place recorded as it is written, and every other part's
spans are the runs of its words: so ``content[offset:offset + length]`` is always the part's
text, whichever format. Offsets are kept in code points (Python's) and converted to the
request's ``stringIndexType`` only when a span is answered (``Indexer``).

``text``: the lines in reading order, one a line. ``markdown`` (as v4.0 renders it): paragraphs
apart by a blank line, a title as ``#``, a section heading as ``##``, a page's header, footer
and number as HTML comments, a table as an HTML ``<table>``, ``<!-- PageBreak -->`` between
pages.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from service.api.dialects.document_intelligence.wire import ContentFormat, Span, StringIndexType
from service.structure import Paragraph, Run, Structure, Table

#: A word by its page and its index in that page's words.
WordKey = tuple[int, int]

_HEADINGS = {"title": "# ", "sectionHeading": "## "}
_COMMENTS = {"pageHeader": "PageHeader", "pageFooter": "PageFooter", "pageNumber": "PageNumber"}


class Content:
    """The content being written, and each written word's (start, end, order)."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self.length = 0
        self.placed: dict[WordKey, tuple[int, int, int]] = {}

    def text(self, text: str) -> None:
        """Write markup or a separator."""
        self._parts.append(text)
        self.length += len(text)

    def words(self, page: int, indexes: Iterable[int], texts: list[str]) -> None:
        """Write the words ``indexes`` of ``page`` not written yet, a space apart."""
        first = True
        for index in indexes:
            if (page, index) in self.placed:
                continue
            if not first:
                self.text(" ")
            first = False
            word = texts[index]
            self.placed[(page, index)] = (self.length, self.length + len(word), len(self.placed))
            self.text(word)

    def value(self) -> str:
        return "".join(self._parts)

    def ranges(self, keys: Iterable[WordKey]) -> list[tuple[int, int]]:
        """The (start, end) of each run of consecutively written words among ``keys``; words
        never written are left out."""
        found = sorted(self.placed[key] for key in set(keys) if key in self.placed)
        runs: list[tuple[int, int]] = []
        last_order = -2
        for start, end, order in found:
            if runs and order == last_order + 1:
                runs[-1] = (runs[-1][0], end)
            else:
                runs.append((start, end))
            last_order = order
        return runs


def write(structure: Structure, texts: dict[int, list[str]], form: ContentFormat) -> Content:
    """The content of a document in ``form``; ``texts``: each page's word texts."""
    content = Content()
    pages = sorted(texts)
    for number, page in enumerate(pages):
        paragraphs = [paragraph for paragraph in structure.paragraphs if paragraph.lines[0].page == page]
        tables = [table for table in structure.tables if table.page == page] if form == "markdown" else []
        lines = [line for line in structure.lines if line.page == page]
        if form == "markdown":
            if number:
                content.text("\n\n<!-- PageBreak -->\n\n")
            _markdown_page(content, page, paragraphs, tables, lines, texts[page])
        else:
            if number:
                content.text("\n")
            _text_page(content, page, paragraphs, lines, texts[page])
    return content


def _text_page(
    content: Content, page: int, paragraphs: list[Paragraph], lines: list[Run], texts: list[str]
) -> None:
    """The page's lines, one a line: a paragraph's, then any line no paragraph holds."""
    first = True
    for line in [line for paragraph in paragraphs for line in paragraph.lines] + lines:
        if all((page, index) in content.placed for index in line.words):
            continue
        if not first:
            content.text("\n")
        first = False
        content.words(page, line.words, texts)


def _markdown_page(
    content: Content,
    page: int,
    paragraphs: list[Paragraph],
    tables: list[Table],
    lines: list[Run],
    texts: list[str],
) -> None:
    """The page's blocks a blank line apart: each table where its first paragraph stood."""
    in_table = {index: table for table in tables for cell in table.cells for index in cell.words}
    blocks: list[Paragraph | Table] = []
    taken: set[int] = set()
    for paragraph in [*paragraphs, *(Paragraph(lines=(line,)) for line in lines)]:
        fresh = [index for line in paragraph.lines for index in line.words if index not in taken]
        for index in fresh:
            table = in_table.get(index)
            if table is not None and not any(block is table for block in blocks):
                blocks.append(table)
        if any(index not in in_table for index in fresh):
            blocks.append(paragraph)
        taken.update(fresh)
    blocks += [table for table in tables if not any(block is table for block in blocks)]
    first = True
    for block in blocks:
        if not first:
            content.text("\n\n")
        first = False
        if isinstance(block, Table):
            _table(content, page, block, texts)
        else:
            _paragraph(content, page, block, texts)


def _paragraph(content: Content, page: int, paragraph: Paragraph, texts: list[str]) -> None:
    comment = _COMMENTS.get(paragraph.role or "")
    if comment is not None:
        content.text(f'<!-- {comment}="')
    else:
        content.text(_HEADINGS.get(paragraph.role or "", ""))
    first = True
    for line in paragraph.lines:
        if all((page, index) in content.placed for index in line.words):
            continue
        if not first:
            content.text(" " if comment is not None else "\n")
        first = False
        content.words(page, line.words, texts)
    if comment is not None:
        content.text('" -->')


def _table(content: Content, page: int, table: Table, texts: list[str]) -> None:
    content.text("<table>")
    cells = sorted(table.cells, key=lambda cell: (cell.row, cell.column))
    for row in range(table.rows):
        content.text("\n<tr>")
        for cell in (cell for cell in cells if cell.row == row):
            tag = "th" if cell.header else "td"
            spans = "".join(
                f' {name}="{count}"'
                for name, count in (("rowspan", cell.row_span), ("colspan", cell.column_span))
                if count > 1
            )
            content.text(f"\n<{tag}{spans}>")
            content.words(page, cell.words, texts)
            content.text(f"</{tag}>")
        content.text("\n</tr>")
    content.text("\n</table>")


class Indexer:
    """Code-point offsets into ``content`` as the request's ``stringIndexType`` counts them:
    ``unicodeCodePoint`` as they are, ``utf16CodeUnit`` (two for a character beyond the
    Basic Multilingual Plane) and ``textElements`` (a combining mark counts with its base
    character: Lector's approximation of a grapheme cluster)."""

    def __init__(self, content: str, kind: StringIndexType) -> None:
        self._table: list[int] | None = None
        if kind == "unicodeCodePoint" or content.isascii():
            return
        table, count = [0], 0
        for char in content:
            if kind == "utf16CodeUnit":
                count += 2 if ord(char) > 0xFFFF else 1
            elif not unicodedata.combining(char):
                count += 1
            table.append(count)
        self._table = table

    def at(self, offset: int) -> int:
        return offset if self._table is None else self._table[offset]

    def span(self, start: int, end: int) -> Span:
        first = self.at(start)
        return Span(offset=first, length=self.at(end) - first)

    def spans(self, ranges: list[tuple[int, int]]) -> list[Span]:
        return [self.span(start, end) for start, end in ranges]


def joined(text: str, ranges: list[tuple[int, int]]) -> str:
    """A part's content: its one stretch of ``text``, or its stretches a space apart."""
    return " ".join(text[start:end] for start, end in ranges)


def covering(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """One range from the first start to the last end (a table's, a page's), or none."""
    return [(ranges[0][0], ranges[-1][1])] if ranges else []
