"""Picking a document's dates and time from its lines.

A date on a line labelled for it wins over the first date in reading order. The day/month order
comes from the document's own dates (``dates.date_order``); when they leave it open, the
currency decides (month-first for US dollars, day-first elsewhere) and the date's confidence is
lowered, since that is a guess.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from service.fields.dates import DateMatch, Order, date_order, find_dates
from service.fields.found import NOT_FOUND, Found
from service.fields.layout import Line, cell_below, one_phrase

_TIME = re.compile(
    r"(?<![\d:])([01]?\d|2[0-3])\s?[:.]\s?([0-5]\d)(?:\s?[:.]\s?([0-5]\d))?\s*([AP]\.?M\.?)?(?![\d])"
)

_US_DOLLAR = re.compile(r"\bUSD\b|\bUS\s?\$")

#: A guessed day/month order costs this much confidence.
_GUESSED = 0.6


class DocumentOrder(NamedTuple):
    """How the document writes numeric dates, and whether its own dates showed it."""

    order: Order
    shown: bool


def document_order(lines: list[Line]) -> DocumentOrder:
    """Day-first or month-first for this document: its dates say, else US dollars suggest the
    American order and anything else the day-first order most of the world writes."""
    order = date_order([line.text for line in lines])
    if order is not None:
        return DocumentOrder(order, shown=True)
    # "$" alone is printed from Singapore to Malaysia: only a US dollar named as such suggests
    # the American order.
    american = any(_US_DOLLAR.search(line.text.upper()) for line in lines)
    return DocumentOrder("mdy" if american else "dmy", shown=False)


def find_date(
    lines: list[Line],
    order: DocumentOrder,
    label: re.Pattern[str] | None = None,
    exclude: re.Pattern[str] | None = None,
) -> Found:
    """The first date on a line ``label`` matches (or alone on the line below it); with no
    ``label``, the first date of the document.

    Lines ``exclude`` matches are skipped (a due date is not an issue date). With a ``label`` and
    no labelled date, nothing is found: the caller asked for that date specifically.
    """
    for index, line in enumerate(lines):
        upper = line.text.upper()
        labelled = _label_in(line, label, exclude) if label is not None else None
        if label is not None and labelled is None:
            continue
        if label is None and exclude is not None and exclude.search(upper):
            continue
        # After the label first: "Date: 05/03/2024  Due: 04/04/2024" has two.
        found = find_dates(upper[labelled.end() :], order.order) if labelled else []
        found = found or find_dates(upper, order.order)
        if found:
            return _dated(found[0], 0.9, line, order)
        if labelled is None:
            continue
        cell = cell_below(lines, index, labelled.start(), labelled.end())
        for below in (cell, lines[index + 1] if index + 1 < len(lines) else None):
            dates = find_dates(below.text, order.order) if below is not None else []
            if below is not None and dates:
                return _dated(dates[0], 0.8, below, order)
    return NOT_FOUND


def _label_in(line: Line, label: re.Pattern[str], exclude: re.Pattern[str] | None) -> re.Match[str] | None:
    """The first match of ``label`` in the line's upper-cased text that is not part of an
    ``exclude`` label: "DATE" in "DUE DATE" or "DATE D'ÉCHÉANCE", "DATA" in "DATA DI SCADENZA"
    belong to a due date. Labels in two cells of a table header are two labels."""
    upper = line.text.upper()
    others = list(exclude.finditer(upper)) if exclude is not None else []
    for match in label.finditer(upper):
        if not any(_one_label(line, match, other) for other in others):
            return match
    return None


def _one_label(line: Line, first: re.Match[str], second: re.Match[str]) -> bool:
    """Whether two matches are words of one label: they overlap, or stand together as one
    phrase with no colon between them."""
    left, right = sorted((first, second), key=lambda match: match.start())
    if right.start() < left.end():
        return True
    return ":" not in line.text[left.end() : right.start()] and one_phrase(line, left.end(), right.start())


def _dated(match: DateMatch, strength: float, line: Line, order: DocumentOrder) -> Found:
    """A date as the schema has it, with the rule's strength, a guess's cost and the OCR's."""
    if match.ambiguous and not order.shown:
        strength *= _GUESSED
    return Found(match.value.isoformat(), round(strength * line.confidence, 3))


def find_time(lines: list[Line]) -> Found:
    """The first time of day printed on a line that also has a date or a time label."""
    for line in lines:
        upper = line.text.upper()
        if not (find_dates(upper) or "TIME" in upper or "MASA" in upper):
            continue
        match = _TIME.search(upper)
        if match:
            hours, minutes, seconds, half = match.groups()
            hour = int(hours)
            if half and half.startswith("P") and hour < 12:
                hour += 12
            elif half and half.startswith("A") and hour == 12:
                hour = 0
            value = f"{hour:02d}:{minutes}" + (f":{seconds}" if seconds else "")
            return Found(value, round(0.8 * line.confidence, 3))
    return NOT_FOUND
