"""Where each field's value stands in the OCR words: its evidence.

``llm-text`` gives the model the OCR text, not the picture, so every value it answers should be
in that text. ``evidence_of`` matches each scalar field (a string or a number at the top level of
the answer; objects and arrays such as ``line_items`` are skipped) back to the shortest run of
consecutive OCR words, on one line or running on over the next lines of the same page, that holds
it: strings compared case- and punctuation-blind (a run that is the value before one that
contains it), numbers as numbers ("1,234.50" is 1234.5), ISO
dates as dates ("25/12/2018" is 2018-12-25). A value the text does not hold gets a warning, a low
confidence and no box: a box is never guessed.

The field rules and the chooser (``evidence_found``) answer values read from the words, and
say which words when they know; their fields' evidence is those words, else found the same way.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from service.fields.amounts import parse_amount
from service.fields.dates import parse_date
from service.fields.found import Found
from service.fields.layout import Line, lines_of
from service.models import EvidenceSource, FieldEvidence, PageResult, Word

#: The confidence of a value the text does not hold.
UNMATCHED_CONFIDENCE = 0.1
#: A matched value is as sure as the OCR of its words, up to this: the model chose it.
MAX_CONFIDENCE = 0.99
#: A number or a date is looked for in runs of at most this many words ("EUR 1,440.00",
#: "March 5, 2024").
MAX_TOKEN_WORDS = 4

_NOT_ALPHANUMERIC = re.compile(r"[\W_]+")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def normalized(text: str) -> str:
    """``text`` casefolded, without punctuation or whitespace."""
    return _NOT_ALPHANUMERIC.sub("", text.casefold())


def evidence_of(
    fields: dict[str, Any], pages: list[PageResult]
) -> tuple[dict[str, FieldEvidence], dict[str, float], list[str]]:
    """Each scalar field of ``fields`` matched to the words of ``pages`` (read with their words):
    its evidence, every field's confidence (0 for a null field, as the field rules give), and a
    warning per value the text does not hold."""
    lines = lines_of(pages)
    sizes = {page.page: (page.width, page.height) for page in pages}
    evidence: dict[str, FieldEvidence] = {}
    confidence: dict[str, float] = {}
    warnings: list[str] = []
    for name, value in fields.items():
        if value is None:
            confidence[name] = 0.0
            continue
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        found = _match(value, lines)
        if found is None:
            warnings.append(f"The model's `{name}` ({value}) is not in the text it was given.")
            evidence[name] = FieldEvidence(confidence=UNMATCHED_CONFIDENCE)
        else:
            page, words = found
            evidence[name] = _evidence(page, words, sizes[page])
        confidence[name] = evidence[name].confidence
    return evidence, confidence, warnings


def evidence_found(
    found: dict[str, Found], fields: dict[str, Any], pages: list[PageResult], lines: list[Line]
) -> dict[str, FieldEvidence]:
    """The evidence of each scalar field the field rules or the chooser answered (``fields``,
    from ``found``): the words the picker read it from when it says, else the words that hold
    it, as for a model's answer. Its confidence is the picker's; a value not found in the words
    (a total after cash rounding, a name the rules joined) has no box. ``lines``: the pages'
    lines, as the pickers read them."""
    sizes = {page.page: (page.width, page.height) for page in pages}
    evidence: dict[str, FieldEvidence] = {}
    for name, value in fields.items():
        if value is None or isinstance(value, bool) or not isinstance(value, (str, int, float)):
            continue
        hit = found.get(name)
        confidence = hit.confidence if hit is not None else 0.0
        at = (hit.page, list(hit.words)) if hit is not None and hit.words and hit.page is not None else None
        at = at or _match(value, lines)
        if at is None:
            evidence[name] = FieldEvidence(confidence=confidence)
        else:
            page, words = at
            evidence[name] = msgspec.structs.replace(
                _evidence(page, words, sizes[page]), confidence=confidence
            )
    return evidence


def _match(value: str | int | float, lines: list[Line]) -> tuple[int, list[Word]] | None:
    """The page and the shortest run of words that hold ``value``, the first in reading order."""
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            when = date.fromisoformat(value.strip())
        except ValueError:
            when = None
        if when is not None:
            found = _shortest(lines, lambda text: when in (parse_date(text, "dmy"), parse_date(text, "mdy")),
                              max_words=MAX_TOKEN_WORDS, one_line=True)  # fmt: skip
            if found is not None:
                return found
    if isinstance(value, (int, float)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return _shortest(lines, lambda text: parse_amount(text) == number, max_words=MAX_TOKEN_WORDS,
                         one_line=True)  # fmt: skip
    target = normalized(value)
    if not target:
        return None
    found = _shortest_containing(lines, target, exact=True) or _shortest_containing(
        lines, target, exact=False
    )
    if found is None and (amount := parse_amount(value)) is not None:  # "1.234,50" for 1234.5
        found = _shortest(lines, lambda text: parse_amount(text) == amount, max_words=MAX_TOKEN_WORDS,
                          one_line=True)  # fmt: skip
    return found


def _runs(lines: list[Line], one_line: bool) -> list[list[tuple[Line, Word]]]:
    """The words of each page in reading order (of each line, when ``one_line``)."""
    runs: list[list[tuple[Line, Word]]] = []
    last_page = None
    for line in lines:
        if one_line or line.page != last_page:
            runs.append([])
            last_page = line.page
        runs[-1].extend((line, word) for word in line.words)
    return runs


def _shortest(
    lines: list[Line], holds: Any, *, max_words: int, one_line: bool
) -> tuple[int, list[Word]] | None:
    """The first shortest run of at most ``max_words`` words whose text (joined by spaces)
    ``holds`` the value."""
    best: tuple[int, list[Word]] | None = None
    for run in _runs(lines, one_line):
        for start in range(len(run)):
            for end in range(start + 1, min(start + max_words, len(run)) + 1):
                if best is not None and end - start >= len(best[1]):
                    break
                words = [word for _, word in run[start:end]]
                if holds(" ".join(word.text for word in words)):
                    best = (run[start][0].page, words)
                    break
    return best


def _shortest_containing(lines: list[Line], target: str, *, exact: bool) -> tuple[int, list[Word]] | None:
    """The first shortest run of consecutive words on a page whose normalized text is
    ``target`` (itself normalized), or when not ``exact`` contains it: "BHD" is the word
    "BHD" before it is part of "BHDX"."""
    best: tuple[int, list[Word]] | None = None
    for run in _runs(lines, one_line=False):
        keys = [normalized(word.text) for _, word in run]
        for start in range(len(run)):
            if not keys[start]:
                continue
            joined = ""
            for end in range(start, len(run)):
                if best is not None and end - start + 1 >= len(best[1]):
                    break
                joined += keys[end]
                if target in joined:
                    # Else a later start is shorter; an exact run ends on the target's last letter.
                    shortest = target not in joined[len(keys[start]) :]
                    if shortest and (not exact or joined == target):
                        best = (run[start][0].page, [word for _, word in run[start : end + 1]])
                    break
                if len(joined) - len(keys[start]) >= len(target):
                    break  # a run holding it would not need this first word
    return best


def _evidence(page: int, words: list[Word], size: tuple[int, int]) -> FieldEvidence:
    left = min(word.box[0] for word in words)
    top = min(word.box[1] for word in words)
    right = max(word.box[2] for word in words)
    bottom = max(word.box[3] for word in words)
    mean = sum(word.confidence for word in words) / len(words) / 100
    confidence = round(min(max(mean, 0.0), MAX_CONFIDENCE), 3)
    return boxed(page, [left, top, right, bottom], size, confidence, words=[word.text for word in words])


def boxed(
    page: int,
    box: list[int],
    size: tuple[int, int],
    confidence: float,
    *,
    words: list[str] | None = None,
    source: EvidenceSource = "ocr",
) -> FieldEvidence:
    """The evidence of a value that stands in ``box`` on ``page`` (of ``size``, in pixels): the
    box, its corners and the box relative to the page."""
    left, top, right, bottom = box
    width, height = max(size[0], 1), max(size[1], 1)
    return FieldEvidence(
        confidence=confidence,
        page=page,
        box=[left, top, right, bottom],
        polygon=[[left, top], [right, top], [right, bottom], [left, bottom]],
        box_normalized=[
            round(left / width, 4),
            round(top / height, 4),
            round(right / width, 4),
            round(bottom / height, 4),
        ],
        words=words or [],
        source=source,
    )
