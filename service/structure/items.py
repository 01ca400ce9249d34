"""Where each line item was read: its values placed on the words of its table row.

Field evidence (``service.fields.evidence``) places the top-level fields; the items of
``line_items`` have none of their own. Both dialects that answer geometry for an item
(Textract's LineItemGroups, Azure's ``Items``) place them here, one way: when the document's
tables have as many item rows as there are items, each item's values are matched
(``evidence_of``, as a model's fields are) among its own row's words; otherwise, or when none
of its values is on its row, on the whole document, for the first ``MAX_SEARCHED`` such items
only, all in one search (each value is matched against every line).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from service.fields.evidence import evidence_of
from service.models import FieldEvidence, PageResult
from service.structure.parts import Table

#: The most items looked for on their whole pages (when they are not a table's rows).
MAX_SEARCHED = 50

#: An item row of a table: its page and its words (indexes into the page's words).
ItemRow = tuple[int, frozenset[int]]


def item_evidence(
    items: Sequence[Mapping[str, Any]], pages: list[PageResult], tables: Sequence[Table]
) -> list[dict[str, FieldEvidence]]:
    """Each item's scalar values with the evidence of where they were read (an empty mapping
    for an item placed nowhere), in the items' order."""
    rows: list[ItemRow | None] = list(item_rows(tables))
    if len(rows) != len(items):  # the items are not the tables' rows
        rows = [None] * len(items)
    by_page = {page.page: page for page in pages}
    placed: list[dict[str, FieldEvidence]] = []
    for item, row in zip(items, rows, strict=True):
        found: dict[str, FieldEvidence] = {}
        if row is not None and row[0] in by_page:
            page = by_page[row[0]]
            words = [page.words[index] for index in sorted(row[1]) if index < len(page.words)]
            found = evidence_of(_values(item), [msgspec.structs.replace(page, words=words)])[0]
        placed.append({name: place for name, place in found.items() if place.box is not None})
    # The items placed nowhere on their rows, looked for on the whole document in one search
    # (the document's lines are made once), the first MAX_SEARCHED only.
    unplaced = [number for number, found in enumerate(placed) if not found][:MAX_SEARCHED]
    wanted = {
        f"{number}/{name}": value for number in unplaced for name, value in _values(items[number]).items()
    }
    for key, place in evidence_of(wanted, pages)[0].items() if wanted else ():
        number, _, name = key.partition("/")
        if place.box is not None:
            placed[int(number)][name] = place
    return placed


def _values(item: Mapping[str, Any]) -> dict[str, str | int | float]:
    """An item's scalar values (null, lists and flags are placed nowhere)."""
    return {
        name: value
        for name, value in item.items()
        if isinstance(value, str | int | float) and not isinstance(value, bool)
    }


def item_rows(tables: Sequence[Table]) -> list[ItemRow]:
    """Each item row of the tables (every row but a header), as its page and its words."""
    rows: list[ItemRow] = []
    for table in tables:
        words: dict[int, set[int]] = {}
        for cell in table.cells:
            if not cell.header:
                words.setdefault(cell.row, set()).update(cell.words)
        rows.extend((table.page, frozenset(words[number])) for number in sorted(words))
    return rows
