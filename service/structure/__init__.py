"""A read document's structure: lines, paragraphs with their roles, key-value pairs and
tables, found from the words' geometry (``structure_of``).

Lector's own answers carry words and fields; the Textract and Azure Document Intelligence
dialects answer these parts too (Textract's LINE, KEY_VALUE_SET, TABLE and LAYOUT blocks,
Azure's lines, paragraphs, keyValuePairs and tables), and both read them from here, so a
label, a table or a heading is found one way whichever wire it leaves by. Pure and bounded:
no web framework, no Redis, at most ``MAX_LINES`` lines a document.
"""

from __future__ import annotations

from service.models import PageResult
from service.structure.key_values import key_values_of
from service.structure.paragraphs import paragraphs_of
from service.structure.parts import Cell, KeyValue, Paragraph, Role, Run, Structure, Table
from service.structure.runs import MAX_LINES, line_runs
from service.structure.tables import tables_of

__all__ = [
    "MAX_LINES",
    "Cell",
    "KeyValue",
    "Paragraph",
    "Role",
    "Run",
    "Structure",
    "Table",
    "structure_of",
]


def structure_of(pages: list[PageResult]) -> Structure:
    """The structure of the read ``pages``: every part refers to the words by their index."""
    lines = line_runs(pages)
    tables = tables_of(lines, pages)
    in_tables = {(table.page, word) for table in tables for cell in table.cells for word in cell.words}
    table_lines = {
        number
        for number, line in enumerate(lines)
        if any((line.page, word) in in_tables for word in line.words)
    }
    key_values = key_values_of(lines, pages, skip=table_lines)
    line_of = {(line.page, word): number for number, line in enumerate(lines) for word in line.words}
    pair_lines = {line_of[(pair.key.page, pair.key.words[0])] for pair in key_values}
    return Structure(
        lines=tuple(lines),
        paragraphs=tuple(paragraphs_of(lines, pages, alone=table_lines | pair_lines)),
        key_values=tuple(key_values),
        tables=tuple(tables),
    )
