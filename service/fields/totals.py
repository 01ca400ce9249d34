"""The money fields receipts and invoices share: total, subtotal, tax and currency.

A total is an amount on a line labelled total, amount due or grand total, or on the line just
below such a label. Subtotals, tax lines, item counts, cash tendered and change are labels too,
but never the total. Among several totals, the one the document confirms wins: subtotal + tax,
cash - change, or the card payment equal to it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

from service.fields import labels
from service.fields.amounts import currency_of, find_amounts, has_decimals
from service.fields.found import NOT_FOUND, Found
from service.fields.layout import Line

STRONG_TOTAL = re.compile(
    r"GRAND\s*TOTAL|AMOUNT\s*DUE|TOTAL\s*DUE|BALANCE\s*DUE|TOTAL\s*PAYABLE|AMOUNT\s*PAYABLE|NET+\s*TOTAL|"
    r"NET+\s*AMOUNT|TOTAL\s*AMOUNT|ROUNDED\s*TOTAL|TOTAL\s*\(?(?:RM|MYR|USD|EUR|GBP|\$|€|£)|"
    r"TOTAL\s*INCL|TOTAL\s*SALES|TOTAL\s*TO\s*PAY|AMOUNT\s*TO\s*PAY|INVOICE\s*TOTAL|" + labels.TOTAL.pattern
)
TOTAL = re.compile(r"\bT[O0]TAL\b|\bT[O0]TAL(?=[:.\dR])|^TOTAL|\bJUMLAH\b|^(?:AMOUNT\s*)?DUE\b")
NOT_TOTAL = re.compile(
    r"SUB\s*-?\s*T[O0]TAL|T[O0]TAL\s*(?:QTY|QUANTITY|ITEMS?|PCS|UNITS?|POINTS?|SAVINGS?|DISCOUNTS?|"
    r"NO\b|NUMBER|WEIGHT|TAX|GST|VAT|SST|EXCL)|EXCL|BEFORE\s*(?:GST|TAX|VAT)|"
    r"\bCASH\b|CHANGE|TENDERED|\bPAID\b|\bDUE\s*DATE|ROUNDING|\bQTY\b|SUMMARY|\bSAVED?\b|TOTAL\s*HT\b|NETTO"
)
SUBTOTAL = re.compile(r"SUB\s*-?\s*T[O0]TAL|" + labels.SUBTOTAL.pattern)
TAX = re.compile(labels.TAX.pattern + r"(?!\s*(?:REG|NO|ID|INVOICE|CODE|SUMMARY))")
NOT_TAX = re.compile(r"INCL|EXCL|REG|INVOICE|SUMMARY|\bID\b|NUMBER|\bNO\b|CODE|RATE\s*$|SUB\s*-?\s*T[O0]TAL")
CASH = re.compile(r"\bCASH\b|TENDERED|\bPAID\b|PAYMENT")
CHANGE = re.compile(r"CHANGE|\bBAKI\b")
ROUNDING = re.compile(r"ROUNDING|ROUND\s*ADJ|\bADJ")
ROUNDED_TOTAL = re.compile(
    r"ROUNDED\s*TOTAL|T[O0P]TAL\s*(?:AFTER\s*)?ROUND|ROUND(?:ED|ING)?\W*\w?\W*T[O0]TAL|NETT\s*TOTAL"
)
NOT_ROUNDED = re.compile(r"SUB\s*-?\s*T[O0]TAL|CHANGE|\bCASH\b|TENDERED")

#: How much a label is worth as evidence that its amount is the total, and what weakens it.
_ROUNDED, _STRONG, _PLAIN, _CONFIRMED = 0.85, 0.75, 0.6, 0.25
_BELOW_PAYMENT, _NO_CENTS, _IS_TAX = 0.2, 0.3, 0.3
#: A cash-rounding adjustment is a few cents; anything larger is a misread.
_MAX_ROUNDING = Decimal("0.10")


def labelled_amounts(
    lines: list[Line], label: re.Pattern[str], exclude: re.Pattern[str] | None = None
) -> Iterator[tuple[int, Decimal, float]]:
    """(line index, amount, confidence) for every line ``label`` matches and ``exclude`` does not.

    The amount is the last one after the label on its line or, when the line has none, the
    first amount alone on one of the next two lines (a label above its value).
    """
    for index, line in enumerate(lines):
        upper = line.text.upper()
        match = label.search(upper)
        if match is None or (exclude is not None and exclude.search(upper)):
            continue
        after = upper[match.end() :]
        amounts = [value for value, _ in find_amounts(_respaced(after))]
        if amounts:
            yield index, amounts[-1], line.confidence
            continue
        for below in lines[index + 1 : index + 3]:
            amounts = [value for value, _ in find_amounts(below.text)]
            if amounts and not re.search(r"[A-Z]{3,}", below.text.upper()):
                yield index, amounts[0], below.confidence
                break


def _respaced(text: str) -> str:
    """``text``, or, when it has no amount with cents, the amount the OCR split with spaces:
    "4 8 . 0 0" is 48.00 and "10 00" at the end of a label's line is 10.00."""
    if has_decimals(text):
        return text
    joined = re.sub(r"(?<=\d) ?\. ?(?=\d)|(?<=\d) (?=\d)", lambda gap: gap[0].strip(), text)
    if has_decimals(joined):
        return joined
    return re.sub(r"(?<![\d.,])(\d{1,6}) (\d{2})\s*$", r"\1.\2", text)


def _one(lines: list[Line], label: re.Pattern[str], exclude: re.Pattern[str] | None = None) -> Found:
    for _, value, confidence in labelled_amounts(lines, label, exclude):
        return Found(_money(value), round(0.8 * confidence, 3))
    return NOT_FOUND


def find_subtotal(lines: list[Line]) -> Found:
    """The amount labelled subtotal (or total before tax)."""
    return _one(lines, SUBTOTAL)


def find_tax(lines: list[Line]) -> Found:
    """The amount labelled tax, GST, VAT or SST (a tax-summary table's rate lines aside)."""
    return _one(lines, TAX, NOT_TAX)


def find_total(lines: list[Line], subtotal: Found, tax: Found) -> Found:
    """The amount paid: the labelled total the document confirms best, after any cash rounding.

    Totals run down the page (subtotal, tax, rounding, total), so a later labelled total beats
    an earlier one, except below the payment lines, where tax summaries repeat the word.
    """
    first_payment = next(
        (
            index
            for index, line in enumerate(lines)
            if CASH.search(line.text.upper()) or CHANGE.search(line.text.upper())
        ),
        len(lines),
    )
    candidates: dict[int, tuple[Decimal, float]] = {}
    for pattern in (TOTAL, STRONG_TOTAL, ROUNDED_TOTAL):
        for index, value, confidence in labelled_amounts(
            lines, pattern, NOT_TOTAL if pattern is TOTAL else NOT_ROUNDED
        ):
            candidates.setdefault(index, (value, confidence))
    rounding = rounding_of(lines)
    confirmed = confirmations(lines, subtotal, tax, rounding[1] if rounding else None)
    if not candidates:
        # No label survived the OCR: an amount the payment lines confirm is still the total.
        if confirmed:
            value, _ = confirmed.most_common(1)[0]
            return Found(_money(value), 0.4)
        return NOT_FOUND

    # The tax amount is never the total ("Total GST 0.66" under "TOTAL 11.60").
    tax_only = _cents(tax.value) if tax.value is not None and tax.value != subtotal.value else None

    def score(index: int) -> float:
        value, _ = candidates[index]
        upper = lines[index].text.upper()
        strength = (
            _ROUNDED if ROUNDED_TOTAL.search(upper) else _STRONG if STRONG_TOTAL.search(upper) else _PLAIN
        )
        strength += _CONFIRMED if value in confirmed else 0
        strength -= _IS_TAX if value == tax_only else 0
        strength -= _BELOW_PAYMENT if index > first_payment else 0
        strength -= _NO_CENTS if not has_decimals(str(value)) or value <= 0 else 0
        return strength

    strength, best = max((score(index), index) for index in candidates)
    value, confidence = candidates[best]
    if rounding is not None and rounding[0] > best and value > _MAX_ROUNDING:
        # "Total 22.91, Rounding -0.01, Rounding 22.90": the amount paid is the rounded one,
        # when the receipt prints it; a total is never an amount computed by Lector.
        rounded = value + rounding[1]
        if any(rounded in (amount for amount, _ in find_amounts(line.text)) for line in lines[best + 1 :]):
            value = rounded
    return Found(_money(value), round(max(min(strength, 1.0), 0.1) * confidence, 3))


def find_currency(lines: list[Line]) -> Found:
    """The currency the amounts are marked with, the most frequent mark winning."""
    marks = Counter(code for line in lines if (code := currency_of(line.text)) is not None)
    if not marks:
        return NOT_FOUND
    code, count = marks.most_common(1)[0]
    return Found(code, round(min(0.5 + 0.1 * count, 0.95), 3))


def rounding_of(lines: list[Line]) -> tuple[int, Decimal] | None:
    """(line index, amount) of the first cash-rounding adjustment of a few cents, if any."""
    for index, amount, _ in labelled_amounts(lines, ROUNDING, ROUNDED_TOTAL):
        if 0 < abs(amount) < _MAX_ROUNDING:
            return index, amount
    return None


def confirmations(
    lines: list[Line], subtotal: Found, tax: Found, rounding: Decimal | None
) -> Counter[Decimal]:
    """Amounts the document's own arithmetic points at as the total, before and after rounding."""
    confirmed: Counter[Decimal] = Counter()
    if subtotal.value is not None and tax.value is not None:
        confirmed[_cents(subtotal.value + tax.value)] += 1
    cash = [value for _, value, _ in labelled_amounts(lines, CASH, CHANGE)]
    change = [value for _, value, _ in labelled_amounts(lines, CHANGE)]
    # What was paid is firmer evidence than the sum: a tax line may be included in the subtotal.
    for paid in cash:
        for back in change:
            if paid > back >= 0:
                confirmed[paid - back] += 2
        if not change:  # exact cash or a card: the payment is the total
            confirmed[paid] += 2
    if rounding is not None:
        for value in list(confirmed):
            confirmed[value + rounding] += 1
    return confirmed


def _money(value: Decimal) -> float:
    """An amount for the wire: a JSON number, to the cent."""
    return float(_cents(value))


def _cents(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))
