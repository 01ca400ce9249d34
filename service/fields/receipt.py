"""A receipt's fields from its lines: who sold, where, when, and for how much.

The merchant heads the receipt: its name is the first line carrying a company form (Sdn Bhd,
Ltd, LLC, GmbH, ...), or else the first line of words, and its address is the lines below the
name down to the first line of phone, tax number or sale details.
"""

from __future__ import annotations

import re

from service.fields.amounts import has_decimals
from service.fields.dates import find_dates
from service.fields.found import NOT_FOUND, Found
from service.fields.layout import Line
from service.fields.totals import find_currency, find_subtotal, find_tax, find_total
from service.fields.when import document_order, find_date, find_time

#: Legal forms and trade words that end a company's name.
COMPANY_FORM = re.compile(
    r"\b(?:SDN\.?\s*BHD\.?|SDN\.?\s*BND\.?|S/B|BHD\.?|BERHAD|LTD\.?|LIMITED|LLC|L\.L\.C\.|INC\.?|CORP\.?|"
    r"CORPORATION|GMBH|PLC|PTE\.?\s*LTD\.?|PTY\.?\s*LTD\.?|S\.?A\.?R\.?L\.?|B\.?V\.?|AG|S\.?P\.?A\.?|"
    r"ENTERPRISES?|TRADING|CO\.|COMPANY)(?![A-Z])(?!\.?\s*(?:NO\b|REG|#))"
)
#: The OCR's usual misreadings of "Sdn Bhd" (a Malaysian private company): O for D, N for H.
_MISREAD_FORMS = (
    (re.compile(r"\b(S)[O0](N\.?\s*B[HN]D)", re.IGNORECASE), r"\1D\2"),
    (re.compile(r"(SDN\.?\s*B)N(D)"), r"\1H\2"),
)
#: Headings that are not anyone's name.
_HEADING = re.compile(
    r"^(?:TAX\s*INVOICE|INVOICE|RECEIPT|OFFICIAL\s*RECEIPT|CASH\s*(?:BILL|SALES?|RECEIPT)|SIMPLIFIED|"
    r"WELCOME|THANK|COPY|DUPLICATE|REPRINT|TABLE|ORDER)"
)
#: A line that ends the address: contact details, tax numbers, or the sale itself.
_AFTER_ADDRESS = re.compile(
    r"\bTEL\b|TEL\s*[:.]|PHONE|\bFAX\b|\bH/?P\b|\bMOBILE|E-?MAIL|WWW\.|HTTP|\bGST\b|\bSST\b|\bVAT\b|\bTAX\b|"
    r"\bREG\b|\bCO\.?\s*(?:REG|NO)|INVOICE|RECEIPT|\bDATE\b|CASHIER|\bBILL\b|\bTABLE\b|DOC(?:UMENT)?\s*NO|"
    r"\bTIME\b|\bID\s*:|\bNO\s*:"
)
_REGISTRATION = re.compile(r"\(?\b\d{3,}[-\s]?[A-Z]\b\)?|\(?\bCO\.?\s*(?:REG\.?)?\s*NO\.?.*")
_PHONE = re.compile(r"(?:TEL|PHONE|H/?P|MOBILE)\s*(?:NO)?\s*[:.]?\s*(\+?[\d][\d\s()-]{6,}\d)")
_PAYMENT = re.compile(r"\b(VISA|MASTER\s*CARD|MASTERCARD|AMEX|DEBIT|CREDIT\s*CARD|CASH|E-?WALLET|CARD)\b")

#: How many lines from the top the merchant's name may start at (logos and noise come first).
_HEAD_LINES = 8
_MAX_ADDRESS_LINES = 5
#: Lines of other things that may stand between the name and the address.
_MAX_SKIPPED = 3
#: Below this mean word confidence a line is taken for a logo, a stamp or noise.
_LEGIBLE = 0.5


def receipt_fields(lines: list[Line]) -> dict[str, Found]:
    """Every receipt field the rules can find; the others are missing from the answer."""
    order = document_order(lines)
    name_at, merchant_name = find_merchant(lines)
    subtotal, tax = find_subtotal(lines), find_tax(lines)
    return {
        "merchant_name": merchant_name,
        "merchant_address": find_address(lines, name_at),
        "merchant_phone": _phone(lines),
        "date": find_date(lines, order),
        "time": find_time(lines),
        "currency": find_currency(lines),
        "subtotal": subtotal,
        "tax": tax,
        "total": find_total(lines, subtotal, tax),
        "payment_method": _payment(lines),
    }


def find_merchant(lines: list[Line]) -> tuple[int | None, Found]:
    """(index of the name's last line, the name) from the head of the receipt."""
    head = [(index, line) for index, line in enumerate(lines[:_HEAD_LINES]) if _wordy(line)]
    for index, line in head:
        text = _fix_forms(line.text)
        forms = list(COMPANY_FORM.finditer(text.upper()))
        if not forms:
            continue
        # The last form ends the name: "AEON CO. (M) BHD" runs to BHD.
        name = _clean_name(text[: forms[-1].end()])
        if (
            len(re.sub(r"[^A-Za-z]", "", text[: forms[0].start()])) < 2
            and index > 0
            and _wordy(lines[index - 1])
        ):
            # "SDN BHD" alone on its line: the name is on the line above.
            name = f"{_clean_name(lines[index - 1].text)} {name}"
        return index, Found(name, round(0.85 * line.confidence, 3))
    for index, line in head:
        if not _HEADING.match(line.text.upper()) and not _AFTER_ADDRESS.search(line.text.upper()):
            return index, Found(_clean_name(line.text), round(0.6 * line.confidence, 3))
    return None, NOT_FOUND


def find_address(lines: list[Line], name_at: int | None) -> Found:
    """The lines below the merchant's name, joined, down to the first line that is not address."""
    if name_at is None:
        return NOT_FOUND
    taken: list[Line] = []
    for line in lines[name_at + 1 : name_at + 1 + _MAX_ADDRESS_LINES + _MAX_SKIPPED]:
        upper = line.text.upper()
        if _AFTER_ADDRESS.search(upper) or has_decimals(upper):  # contact details, or the sale begins
            break
        if find_dates(upper) or not _wordy(line):
            if taken:
                break
            continue  # a registration number, a smudge or a date between the name and the address
        taken.append(line)
        if len(taken) == _MAX_ADDRESS_LINES:
            break
    if not taken:
        return NOT_FOUND
    text = " ".join(line.text for line in taken)
    # A postcode is the strongest sign the lines are an address.
    strength = 0.8 if re.search(r"\b\d{4,6}\b", text) else 0.5
    confidence = sum(line.confidence for line in taken) / len(taken)
    return Found(text, round(strength * confidence, 3))


def _clean_name(text: str) -> str:
    """A company name without the registration number printed beside it, or table rules around it."""
    text = _REGISTRATION.sub("", text).strip(" ,:;-_|!'\"‘’“”{}[]>").lstrip(".")
    return re.sub(r"\s+", " ", text)


def _fix_forms(text: str) -> str:
    for misread, fixed in _MISREAD_FORMS:
        text = misread.sub(fixed, text)
    return text


def _wordy(line: Line) -> bool:
    """Whether a line has legible words rather than OCR noise: three letters or more, mostly letters."""
    letters = sum(char.isalpha() for char in line.text)
    mostly_letters = letters >= 3 and letters >= 0.4 * len(line.text.replace(" ", ""))
    return mostly_letters and line.confidence >= _LEGIBLE


def _phone(lines: list[Line]) -> Found:
    for line in lines:
        match = _PHONE.search(line.text.upper())
        if match:
            return Found(match[1].strip(), round(0.8 * line.confidence, 3))
    return NOT_FOUND


def _payment(lines: list[Line]) -> Found:
    for line in lines:
        match = _PAYMENT.search(line.text.upper())
        if match and re.search(r"\d", line.text):  # "CASH 50.00", "VISA 11.66", not a slogan
            return Found(match[1].title(), round(0.6 * line.confidence, 3))
    return NOT_FOUND
