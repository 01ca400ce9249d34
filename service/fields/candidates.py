"""Every value a field could take, found in the document's lines, and what describes each one.

The field chooser (``service.fields.chooser``) scores these candidates with a small learned
model and answers the best. A candidate carries the words it was read from, so the answer's
evidence is where the value stands, never a guess. Its features are plain numbers, most of
them 0 or 1, named for what they say about the candidate: the label words on its line or the
line above, where it stands on the page, how tall it is against the page's text, whether
the document's other amounts confirm it, and what the rules (``service.fields.receipt``,
``invoice``) answered.

Candidates are bounded: at most ``MAX_LINES`` lines are looked at, and each line gives at most
a few amounts and dates, so a page of noise cannot make the model score millions of them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from statistics import median
from typing import Any

from service.fields import labels
from service.fields.amounts import currency_of, find_amounts, has_decimals, parse_amount
from service.fields.dates import find_dates
from service.fields.found import Found
from service.fields.layout import Line, word_at
from service.fields.receipt import (
    ADDRESS_WORD,
    AFTER_ADDRESS,
    COMPANY_FORM,
    CONTACT,
    HEADING,
    POSTCODE,
    REGISTRATION_LINE,
    address_like,
    clean_name,
    fix_forms,
)
from service.fields.totals import (
    CASH,
    CHANGE,
    NOT_TOTAL,
    ROUNDED_TOTAL,
    ROUNDING,
    STRONG_TOTAL,
    SUBTOTAL,
    TAX,
    TOTAL,
    confirmations,
    rounding_of,
)
from service.fields.when import DocumentOrder, document_order
from service.models import Word

#: The lines looked at, from the top of the document: a receipt has a hundred at most.
MAX_LINES = 400
#: Lines from the top a merchant's or a vendor's name may stand on.
HEAD_LINES = 10
#: Words an amount may be printed across ("RM 9 . 00").
_AMOUNT_WORDS = 3
_DATE_LABEL = re.compile(r"\bDATE\b|\bTARIKH\b|\bDATED\b|" + labels.ISSUE_DATE.pattern)
_TIME = re.compile(r"\d{1,2}\s?:\s?\d{2}")
_LETTERS = re.compile(r"[A-Z]{3,}")


@dataclass(frozen=True)
class Candidate:
    """One value a field could take: its value on the wire, the line and words it was read
    from, and its features by name."""

    value: Any
    line: int
    words: tuple[Word, ...]
    features: dict[str, float]


@dataclass(frozen=True)
class Document:
    """What every candidate's features are measured against: the lines, the rules' answers,
    the text's usual height, and the document's day/month order."""

    lines: list[Line]
    rules: dict[str, Found]
    height: float
    #: The right edge of the rightmost word: the text's width, near enough the page's.
    width: float
    order: DocumentOrder

    @classmethod
    def of(cls, lines: list[Line], rules: dict[str, Found]) -> Document:
        """The document of ``lines`` (the first MAX_LINES) as the rules read it."""
        lines = lines[:MAX_LINES]
        heights = [word.box[3] - word.box[1] for line in lines for word in line.words]
        width = max((word.box[2] for line in lines for word in line.words), default=1)
        return cls(
            lines, rules, float(median(heights)) if heights else 1.0, max(width, 1), document_order(lines)
        )

    def position(self, index: int) -> float:
        """How far down the document line ``index`` stands, 0 (first line) to 1 (last)."""
        return index / max(len(self.lines) - 1, 1)

    def tallness(self, words: tuple[Word, ...]) -> float:
        """The words' height against the text's usual height (a total is often printed large)."""
        return max(word.box[3] - word.box[1] for word in words) / max(self.height, 1.0)

    def rules_say(self, name: str, value: Any) -> float:
        """1 when the rules answered ``value`` for ``name``."""
        return float(self.rules.get(name, Found(None, 0.0)).value == value and value is not None)


def amounts(document: Document, total_name: str = "total") -> list[Candidate]:
    """Every amount printed on the document, as a candidate for its total."""
    lines = document.lines
    found = list(_amounts(lines))
    values = Counter(value for _, value, _ in found)
    ranked = sorted({value for _, value, _ in found if value > 0}, reverse=True)
    payment_at = next(
        (
            index
            for index, line in enumerate(lines)
            if CASH.search(line.text.upper()) or CHANGE.search(line.text.upper())
        ),
        len(lines),
    )
    subtotal, tax = (
        document.rules.get("subtotal", Found(None, 0.0)),
        document.rules.get("tax", Found(None, 0.0)),
    )
    rounding = rounding_of(lines)
    confirmed = confirmations(lines, subtotal, tax, rounding[1] if rounding else None)
    items = _items_sum(document.rules.get("line_items", Found(None, 0.0)).value)
    candidates = []
    for index, value, words in found:
        line = lines[index]
        before = " ".join(word.text for word in line.words[: line.words.index(words[0])]).upper()
        above = lines[index - 1].text.upper() if index > 0 and not _LETTERS.search(before) else ""
        wire = float(value.quantize(Decimal("0.01")))
        features = {
            **_labels("", before),
            **_labels("above_", above if not find_amounts(above) else ""),
            "position": document.position(index),
            "after_payment": float(index > payment_at),
            "tall": document.tallness(words),
            "right": words[-1].box[2] / max(max(word.box[2] for word in line.words), 1),
            "last_on_line": float(words[-1] is line.words[-1]),
            "cents": float(has_decimals(" ".join(word.text for word in words))),
            "largest": float(bool(ranked) and value == ranked[0]),
            "rank": ranked.index(value) / max(len(ranked) - 1, 1) if value in ranked else 1.0,
            "repeats": min(values[value] - 1, 3) / 3,
            "confirmed": min(confirmed[value], 3) / 3,
            "items_sum": float(items is not None and value == items),
            "currency_mark": float(currency_of(" ".join(word.text for word in words)) is not None),
            "is_subtotal": float(subtotal.value == wire),
            "is_tax": float(tax.value == wire and tax.value != subtotal.value),
            "not_positive": float(value <= 0),
            "confidence": line.confidence,
            "rules": document.rules_say(total_name, wire),
        }
        candidates.append(Candidate(wire, index, words, features))
    return candidates


def _items_sum(items: Any) -> Decimal | None:
    """What the line items the rules read add up to, when there are any and all have amounts."""
    if not isinstance(items, list) or not items:
        return None
    amounts = [item.get("amount") if isinstance(item, dict) else None for item in items]
    if any(not isinstance(amount, (int, float)) for amount in amounts):
        return None
    return sum((Decimal(str(amount)) for amount in amounts), Decimal(0)).quantize(Decimal("0.01"))


def _amounts(lines: list[Line]) -> Iterator[tuple[int, Decimal, tuple[Word, ...]]]:
    """(line index, amount, its words) for every amount: a run of up to three words that reads
    as an amount as a whole, else an amount inside one word ("TOTAL:9.00")."""
    for index, line in enumerate(lines):
        words = line.words
        taken: set[int] = set()
        for start in range(len(words)):
            if start in taken:
                continue
            for end in range(min(start + _AMOUNT_WORDS, len(words)), start, -1):
                text = " ".join(word.text for word in words[start:end])
                value = parse_amount(text)
                if value is None and end - start == 1:
                    inside = find_amounts(text)
                    value = inside[-1][0] if len(inside) == 1 and any(c.isdigit() for c in text) else None
                if value is not None and any(char.isdigit() for char in text):
                    taken.update(range(start, end))
                    yield index, value, tuple(words[start:end])
                    break


def _labels(prefix: str, text: str) -> dict[str, float]:
    """Which labels ``text`` (the words before an amount, or the line above it) holds."""
    return {
        f"{prefix}total": float(bool(TOTAL.search(text)) and not NOT_TOTAL.search(text)),
        f"{prefix}strong_total": float(bool(STRONG_TOTAL.search(text))),
        f"{prefix}rounded_total": float(bool(ROUNDED_TOTAL.search(text))),
        f"{prefix}not_total": float(bool(NOT_TOTAL.search(text))),
        f"{prefix}subtotal": float(bool(SUBTOTAL.search(text))),
        f"{prefix}tax": float(bool(TAX.search(text))),
        f"{prefix}cash": float(bool(CASH.search(text))),
        f"{prefix}change": float(bool(CHANGE.search(text))),
        f"{prefix}rounding": float(bool(ROUNDING.search(text))),
    }


def dates(
    document: Document, date_name: str = "date", exclude: re.Pattern[str] | None = None
) -> list[Candidate]:
    """Every date printed on the document, as a candidate for its date (of issue or sale);
    dates glued to the time or text after them ("25/12/201810:30") are read too."""
    lines = document.lines
    found = []
    for index, line in enumerate(lines):
        upper = line.text.upper()
        for match, glued in _dates_in(upper, document.order):
            start = upper.find(match.text)
            if start < 0:
                continue
            words = tuple(line.words[word_at(line, start) : word_at(line, start + len(match.text) - 1) + 1])
            found.append((index, match, glued, words))
    values = Counter(match.value for _, match, _, _ in found)
    candidates = []
    for rank, (index, match, glued, words) in enumerate(found):
        upper = lines[index].text.upper()
        above = lines[index - 1].text.upper() if index > 0 else ""
        wire = match.value.isoformat()
        features = {
            "label": float(bool(_DATE_LABEL.search(upper))),
            "label_above": float(
                bool(_DATE_LABEL.search(above)) and not find_dates(above, document.order.order)
            ),
            "other_label": float(bool(exclude.search(upper)) if exclude is not None else 0.0),
            "position": document.position(index),
            "first": float(rank == 0),
            "repeats": min(values[match.value] - 1, 3) / 3,
            "distinct": min(len(values) - 1, 4) / 4,
            "time_on_line": float(bool(_TIME.search(upper))),
            "guessed_order": float(match.ambiguous and not document.order.shown),
            "named_month": float(bool(re.search(r"[A-Z]", match.text))),
            "glued": float(glued),
            "tall": document.tallness(words),
            "confidence": lines[index].confidence,
            "rules": document.rules_say(date_name, wire),
        }
        candidates.append(Candidate(wire, index, words, features))
    return candidates


#: A numeric date's year run into what follows it: "25/12/201810:30", "2018-12-25T".
_GLUED_YEAR = re.compile(r"(?<!\d)(\d{1,2}\s?[/.-]\s?\d{1,2}\s?[/.-]\s?(?:19|20)\d{2})(?=[\dA-Z])")


def _dates_in(upper: str, order: DocumentOrder) -> Iterator[tuple[Any, bool]]:
    """Each date in a line, and whether it was found only once unglued from what follows."""
    seen = set()
    for match in find_dates(upper, order.order):
        seen.add(match.text)
        yield match, False
    unglued = _GLUED_YEAR.sub(r"\1 ", upper)
    if unglued != upper:
        for match in find_dates(unglued, order.order):
            if match.text not in seen:
                yield match, True


def names(document: Document, name_field: str = "merchant_name") -> list[Candidate]:
    """Every line at the head of the document, and every two lines together, as a candidate
    for the name of who issued it."""
    lines = document.lines[:HEAD_LINES]
    candidates = []
    for index in range(len(lines)):
        for span in (1, 2):
            chosen = lines[index : index + span]
            if len(chosen) < span:
                continue
            text = fix_forms(" ".join(line.text for line in chosen))
            forms = list(COMPANY_FORM.finditer(text.upper()))
            value = clean_name(text[: forms[-1].end()] if forms else text)
            letters = sum(char.isalpha() for char in value)
            if letters < 3:
                continue
            words = tuple(word for line in chosen for word in line.words)
            upper = value.upper()
            features = {
                "index": index / HEAD_LINES,
                "two_lines": float(span == 2),
                "company_form": float(bool(forms)),
                "form_on_second": float(
                    span == 2 and not COMPANY_FORM.search(fix_forms(chosen[0].text).upper()) and bool(forms)
                ),
                "tall": document.tallness(words),
                "letters": min(letters, 40) / 40,
                "letter_share": letters / max(len(value.replace(" ", "")), 1),
                "digits": min(sum(char.isdigit() for char in value), 10) / 10,
                "address_words": float(bool(ADDRESS_WORD.search(upper))),
                "heading": float(bool(HEADING.match(upper))),
                "after_address": float(bool(AFTER_ADDRESS.search(upper))),
                "confidence": sum(line.confidence for line in chosen) / span,
                "centered": 1 - abs((words[0].box[0] + words[-1].box[2]) / 2 / document.width - 0.5) * 2,
                "rules": document.rules_say(name_field, value),
            }
            candidates.append(Candidate(value, index, words, features))
    return _first_of_each(candidates)


def _first_of_each(candidates: list[Candidate]) -> list[Candidate]:
    """The first candidate of each value: a name or an address read again from more lines is
    the same answer."""
    first: dict[Any, Candidate] = {}
    for candidate in candidates:
        first.setdefault(candidate.value, candidate)
    return list(first.values())


#: Lines from the top an address may start on, and the most lines it may run over.
ADDRESS_HEAD, ADDRESS_LINES = 15, 5


def addresses(document: Document, name_field: str = "merchant_name") -> list[Candidate]:
    """Every run of one to five lines near the head, as a candidate for the issuer's address
    (a line's contact details after the address cut off: "... 81750 Johor. Tel: 07-387")."""
    lines = document.lines[: ADDRESS_HEAD + ADDRESS_LINES]
    name = document.rules.get(name_field, Found(None, 0.0)).value
    name_key = re.sub(r"\W", "", str(name).upper()) if name else None
    candidates = []
    for start in range(min(ADDRESS_HEAD, len(lines))):
        texts: list[str] = []
        for end in range(start, min(start + ADDRESS_LINES, len(lines))):
            text = lines[end].text
            contact = CONTACT.search(text)
            if contact is not None and contact.start() > 0:
                text = text[: contact.start()].strip(" ,;.|")
            texts.append(text)
            value = " ".join(texts)
            chosen = lines[start : end + 1]
            uppers = [part.upper() for part in texts]
            after = lines[end + 1].text.upper() if end + 1 < len(lines) else ""
            before = re.sub(r"\W", "", lines[start - 1].text.upper()) if start > 0 else ""
            features = {
                "start": start / ADDRESS_HEAD,
                "lines": (end - start + 1) / ADDRESS_LINES,
                "address_share": sum(address_like(part) for part in uppers) / len(uppers),
                "first_address": float(address_like(uppers[0])),
                "last_postcode": float(bool(POSTCODE.search(uppers[-1]))),
                "postcode": float(any(POSTCODE.search(part) for part in uppers)),
                "registration": float(any(REGISTRATION_LINE.search(part) for part in uppers)),
                "contact": float(any(CONTACT.search(part) for part in uppers)),
                "contact_cut": float(contact is not None and contact.start() > 0),
                "after_address": float(any(AFTER_ADDRESS.search(part) for part in uppers)),
                "amounts": float(any(has_decimals(part) for part in uppers)),
                "dates": float(any(find_dates(part) for part in uppers)),
                "heading": float(any(HEADING.match(part.strip(" -*")) for part in uppers)),
                "next_ends": float(
                    bool(after) and (bool(CONTACT.search(after)) or bool(AFTER_ADDRESS.search(after)))
                ),
                "next_address": float(address_like(after)) if after else 0.0,
                "after_name": float(name_key is not None and before.endswith(name_key[-12:])),
                "holds_name": float(name_key is not None and name_key in re.sub(r"\W", "", value.upper())),
                "confidence": sum(line.confidence for line in chosen) / len(chosen),
                "tall": document.tallness(tuple(word for line in chosen for word in line.words)),
                "rules": document.rules_say("merchant_address", value),
            }
            candidates.append(
                Candidate(value, start, tuple(word for line in chosen for word in line.words), features)
            )
    return _first_of_each(candidates)
