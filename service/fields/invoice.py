"""An invoice's fields from its lines: labels and the values beside or below them.

Invoices label nearly everything ("Invoice No.", "Due Date", "Subtotal"), so most fields are a
label's value. The vendor is the issuer at the head of the page: the first line with a company
form, else the first line of words that is not the word "Invoice" itself.
"""

from __future__ import annotations

import re

from service.fields import labels
from service.fields.found import NOT_FOUND, Found
from service.fields.layout import Line, cell_below
from service.fields.line_items import find_line_items
from service.fields.receipt import find_address, find_merchant
from service.fields.totals import find_currency, find_subtotal, find_tax, find_total
from service.fields.when import document_order, find_date

_NUMBER = re.compile(r"[#:.\s]*([A-Z0-9][A-Z0-9/_.-]*\d[A-Z0-9/_.-]*)")
_TERMS = re.compile(r"\b(NET\s*\d+|DUE\s+ON\s+RECEIPT|\d+\s*DAYS)\b")
_IBAN = re.compile(r"\b([A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,4})?)\b")
_AMOUNT_DUE = re.compile(r"AMOUNT\s*DUE|BALANCE\s*DUE|TOTAL\s*DUE|AMOUNT\s*PAYABLE")


def invoice_fields(lines: list[Line]) -> dict[str, Found]:
    """Every invoice field the rules can find; the others are missing from the answer."""
    order = document_order(lines)
    vendor_at, vendor = find_merchant(lines)
    subtotal, tax = find_subtotal(lines), find_tax(lines)
    total = find_total(lines, subtotal, tax)
    return {
        "invoice_number": _labelled_code(lines, labels.INVOICE_NUMBER),
        "invoice_date": find_date(lines, order, labels.ISSUE_DATE, labels.DUE_DATE),
        "due_date": find_date(lines, order, labels.DUE_DATE),
        "purchase_order": _labelled_code(lines, labels.PURCHASE_ORDER),
        "vendor_name": vendor,
        "vendor_address": find_address(lines, vendor_at),
        "vendor_tax_id": _labelled_code(lines, labels.TAX_ID),
        "currency": find_currency(lines),
        "subtotal": subtotal,
        "tax": tax,
        "total": total,
        "amount_due": _amount_due(lines, total),
        "payment_terms": _terms(lines),
        "iban": _iban(lines),
        "line_items": find_line_items(lines),
    }


def _labelled_code(lines: list[Line], label: re.Pattern[str]) -> Found:
    """The identifier after a label on its line, in the table cell below it, or alone on the
    line below it."""
    for index, line in enumerate(lines):
        upper = line.text.upper()
        match = label.search(upper)
        if match is None:
            continue
        value = _NUMBER.match(upper[match.end() :])
        if value:
            return Found(
                line.text[match.end() :][value.start(1) : value.end(1)], round(0.85 * line.confidence, 3)
            )
        cell = cell_below(lines, index, match.start(), match.end())
        for below, strength in ((cell, 0.8), (lines[index + 1] if index + 1 < len(lines) else None, 0.7)):
            if below is None:
                continue
            value = _NUMBER.fullmatch(below.text.upper().strip())
            if value:
                return Found(
                    below.text.strip()[value.start(1) : value.end(1)], round(strength * below.confidence, 3)
                )
    return NOT_FOUND


def _amount_due(lines: list[Line], total: Found) -> Found:
    for line in lines:
        if _AMOUNT_DUE.search(line.text.upper()):
            return total
    return NOT_FOUND


def _terms(lines: list[Line]) -> Found:
    for line in lines:
        match = _TERMS.search(line.text.upper())
        if match and ("TERM" in line.text.upper() or match[1].startswith(("NET", "DUE"))):
            return Found(match[1].title(), round(0.7 * line.confidence, 3))
    return NOT_FOUND


def _iban(lines: list[Line]) -> Found:
    for line in lines:
        upper = line.text.upper()
        if "IBAN" not in upper:
            continue
        match = _IBAN.search(upper[upper.index("IBAN") + 4 :])
        if match:
            return Found(match[1].replace(" ", ""), round(0.85 * line.confidence, 3))
    return NOT_FOUND
