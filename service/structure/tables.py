"""Tables, from the rows and columns of the words' geometry.

A page's table is its items region as line items find it (``service.fields.line_items``: the
region between the header, or the head of the document, and the totals; its header row; its
columns from the header's words and the numbers' gaps), so a table and the line items it
holds are found one way. The header row, when printed, comes first with ``header=True``; each
item is a row; a cell holds the words standing in its column, and an empty cell is boxed by
its row and its column. The totals block below a table is no part of it: its lines are
key-value pairs (``key_values.py``).
"""

from __future__ import annotations

from itertools import groupby

from service.fields.layout import Line
from service.fields.line_items import items_grid
from service.models import PageResult, Word
from service.structure.parts import Cell, Run, Table

#: A table has at least this many rows of items (one number row is a line, not a table).
MIN_ITEM_ROWS = 2
#: The confidence a table's geometry earns before its words' OCR confidence.
_STRENGTH = 0.8


def tables_of(lines: list[Run], pages: list[PageResult]) -> list[Table]:
    """The tables among ``lines`` (the document's line runs), in reading order: at most one a
    page."""
    words_of = {page.page: page.words for page in pages}
    tables: list[Table] = []
    for page, runs in groupby(lines, key=lambda run: run.page):
        words = words_of[page]
        table = _table(page, [Line(page, [words[number] for number in run.words]) for run in runs], words)
        if table is not None:
            tables.append(table)
    return tables


def _table(page: int, lines: list[Line], words: list[Word]) -> Table | None:
    grid = items_grid(lines)
    if grid is None or sum(not row.header for row in grid.rows) < MIN_ITEM_ROWS or len(grid.columns) < 2:
        return None
    index = {id(word): number for number, word in enumerate(words)}
    bands = [_band(row.cells) for row in grid.rows]
    cells: list[Cell] = []
    confidences: list[float] = []
    for number, row in enumerate(grid.rows):
        for column, cell in enumerate(row.cells):
            if cell:
                box = _box([word.box for word in cell])
                confidences.extend(word.confidence for word in cell)
            else:
                left, right = grid.columns[column]
                box = (int(left), bands[number][0], int(right), bands[number][1])
            cells.append(
                Cell(
                    row=number,
                    column=column,
                    text=" ".join(word.text for word in cell),
                    words=tuple(index[id(word)] for word in cell),
                    box=box,
                    header=row.header,
                )
            )
    confidence = sum(confidences) / len(confidences) / 100 if confidences else 0.0
    return Table(
        page=page,
        rows=len(grid.rows),
        columns=len(grid.columns),
        cells=tuple(cells),
        box=_box([cell.box for cell in cells]),
        confidence=round(_STRENGTH * confidence, 4),
    )


def _band(cells: list[list[Word]]) -> tuple[int, int]:
    """A row's top and bottom: its words'."""
    boxes = [word.box for cell in cells for word in cell]
    return min(box[1] for box in boxes), max(box[3] for box in boxes)


def _box(boxes: list[list[int]] | list[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )
