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
from service.fields.line_items import find_line_items
from service.fields.totals import find_currency, find_subtotal, find_tax, find_total
from service.fields.when import document_order, find_date, find_time

#: Legal forms and trade words that end a company's name.
COMPANY_FORM = re.compile(
    r"\b(?:SDN\.?\s*BHD\.?|SDN\.?\s*BND\.?|S/B|BHD\.?|BERHAD|LTD\.?|LIMITED|LLC|L\.L\.C\.|INC\.?|CORP\.?|"
    r"CORPORATION|GMBH|PLC|PTE\.?\s*LTD\.?|PTY\.?\s*LTD\.?|S\.?A\.?R\.?L\.?|B\.?V\.?|AG|S\.?P\.?A\.?|"
    r"ENTERPRISES?|TRADING|CO\.|COMPANY)(?![A-Z])(?!\.?\s*(?:NO\b|REG|#))"
)
#: The OCR's usual misreadings of "Sdn Bhd" and "S/B" (a Malaysian private company): O, I or
#: nothing for D, D for B, N for H, 5 for S, the form glued to the name or hyphenated to it.
_MISREAD_FORMS = (
    (re.compile(r"\bS[O0I1]?N(\.?\s*)[BD][HN]D\b", re.IGNORECASE), r"SDN\1BHD"),
    (re.compile(r"(?<=[A-Za-z])-?(SDN\.?\s*BHD)\b", re.IGNORECASE), r" \1"),
    (re.compile(r"\b5/B\b"), "S/B"),
    (re.compile(r"\b(MRS?|MS|DR)\.(?=[A-Z])", re.IGNORECASE), r"\1. "),  # "MR.D.I.Y." is "MR. D.I.Y."
)
#: "Owned by ..." before the company that owns a shop's brand.
_OWNED_BY = re.compile(r"^OWN(?:ED)?\s*BY\s*:?\s*", re.IGNORECASE)
#: Headings that are not anyone's name.
HEADING = re.compile(
    r"^(?:TAX\s*INVOICE|INVOICE|RECEIPT|OFFICIAL\s*RECEIPT|CASH\s*(?:BILL|SALES?|RECEIPT)|SIMPLIFIED|"
    r"WELCOME|THANK|COPY|DUPLICATE|REPRINT|TABLE|ORDER)"
)
#: A line that ends the address: contact details, tax numbers, or the sale itself.
AFTER_ADDRESS = re.compile(
    r"\bTEL\b|TEL\s*[:.]|PHONE|\bFAX\b|\bH/?P\b|\bMOBILE|E-?MAIL|WWW\.|HTTP|\bGST\b|\bSST\b|\bVAT\b|\bTAX\b|"
    r"\bREG\b|\bCO\.?\s*(?:REG|NO)|INVOICE|RECEIPT|\bDATE\b|CASHIER|\bBILL\b|\bTABLE\b|DOC(?:UMENT)?\s*NO|"
    r"\bTIME\b|\bID\s*:|\bNO\s*:"
)
#: Words of street addresses (English and Malay, as the receipts print them, abbreviations too).
ADDRESS_WORD = re.compile(
    r"\bNO\W{0,3}[A-Z]?\d|\b(?:LOT|JALAN|JLN|JL|LORONG|LRG|TAMAN|TMN|LEVEL|UNIT|BLOCK|BLK|FLR|FLOOR|ROAD|RD|STREET|"
    r"AVENUE|AVE|LANE|BANDAR|BDR|KAWASAN|SEKSYEN|SEK|PERSIARAN|KAMPUNG|KG|MALL|PLAZA|SUITE|"
    r"KUALA LUMPUR|SELANGOR|JOHOR|PENANG|PULAU PINANG|PERAK|KEDAH|MELAKA|SABAH|SARAWAK|MALAYSIA)\b"
)
POSTCODE = re.compile(r"(?<![\w.,-])\d{5}(?!\d|[.,-]\d)")
#: Contact details, which end an address even on a line that names a street.
CONTACT = re.compile(r"\bTEL\b|TEL\s*[:.]|PHONE|\bFAX\b|E-?MAIL|WWW\.|HTTP|\bGST\b|\bSST\b", re.IGNORECASE)
#: A company's registration or tax number, printed between its name and its address.
REGISTRATION_LINE = re.compile(
    r"\bCO(?:M?[MN]?PANY)?\.?\s*(?:REG|NO)|\bROC\b|\bBR\s*NO|\b(?:GST|SST|VAT|TAX)\s*(?:REG|ID|NO|REF)|"
    r"\bREG(?:ISTRATION)?\b|^\W*(?:NO\W*)?[A-Z]{0,3}\d{4,}\s*-?\s*[A-Z]?\W*$"
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
        "line_items": find_line_items(lines),
    }


def find_merchant(lines: list[Line]) -> tuple[int | None, Found]:
    """(index of the name's last line, the name) from the head of the receipt."""
    head = [(index, line) for index, line in enumerate(lines[:_HEAD_LINES]) if _wordy(line)]
    for index, line in head:
        text = fix_forms(line.text)
        forms = list(COMPANY_FORM.finditer(text.upper()))
        if not forms:
            continue
        # The last form ends the name: "AEON CO. (M) BHD" runs to BHD.
        name = clean_name(text[: forms[-1].end()])
        continued = len(re.sub(r"[^A-Za-z]", "", text[: forms[0].start()])) < 2 or text.startswith("(")
        if continued and index > 0 and _wordy(lines[index - 1]):
            # "SDN BHD" or "(BRANCH) SDN BHD" on its own line: the name starts on the line above.
            name = f"{clean_name(lines[index - 1].text)} {name}"
        return index, Found(name, round(0.85 * line.confidence, 3))
    for index, line in head:
        if not HEADING.match(line.text.upper()) and not AFTER_ADDRESS.search(line.text.upper()):
            name = clean_name(line.text)
            if line.text.rstrip().endswith(("&", "-")) and index + 1 < len(lines):
                index += 1  # "HOME MASTER HARDWARE &" over "ELECTRICAL"
                name = f"{name} {clean_name(lines[index].text)}"
            return index, Found(name, round(0.6 * line.confidence, 3))
    return None, NOT_FOUND


def find_address(lines: list[Line], name_at: int | None) -> Found:
    """The lines of the merchant's address, joined.

    The address follows the name, or stands above it when the name found is the owning
    company's, printed further down. It reads as an address: a street word or a postcode
    (``address_like``). Registration and tax numbers between the name and the address are
    passed over, and so are lines of words with no number before the first line that reads
    as an address (a branch or a mall's name). It ends at contact details, the sale, or,
    once the postcode is read, the first line that is not address.
    """
    if name_at is None:
        return NOT_FOUND
    start = _address_above(lines, name_at)
    parts: list[tuple[str, float]] = []
    addressed = posted = False  # an address line, a postcode line taken
    for line in lines[start : start + _MAX_ADDRESS_LINES + _MAX_SKIPPED]:
        upper = line.text.upper()
        contact = CONTACT.search(line.text)
        if contact and contact.start() > 0 and address_like(line.text[: contact.start()].upper()):
            # "81750 Johor Bahru, Johor. Tel No.: 07-387 3322": the address, then the phone
            parts.append((line.text[: contact.start()].strip(" ,;.|"), line.confidence))
            break
        if REGISTRATION_LINE.search(upper):
            if addressed:
                break
            continue  # "(Co. No. 113825-W)", "GST Reg No: ..." between the name and the address
        reads_as_address = address_like(upper)
        if posted and not reads_as_address:
            break
        if reads_as_address and not contact:
            addressed, posted = True, posted or bool(POSTCODE.search(upper))
        elif HEADING.match(upper.strip(" -*")) and not addressed:
            continue  # "TAX INVOICE" above the address
        elif AFTER_ADDRESS.search(upper) or has_decimals(upper):  # contact details, or the sale begins
            break
        elif find_dates(upper) or not _wordy(line):
            if addressed:
                break
            continue  # a smudge or a date between the name and the address
        parts.append((line.text, line.confidence))
        if len(parts) == _MAX_ADDRESS_LINES:
            break
    while len(parts) > 1 and not address_like(parts[0][0].upper()) and _not_street(parts[0][0]):
        parts.pop(0)  # a branch or a mall's name above the street
    if not parts:
        return NOT_FOUND
    text = " ".join(part for part, _ in parts)
    # A postcode is the strongest sign the lines are an address.
    strength = 0.8 if POSTCODE.search(text) else 0.5
    confidence = sum(confidence for _, confidence in parts) / len(parts)
    return Found(text, round(strength * confidence, 3))


def _not_street(text: str) -> bool:
    """A line of words with no number, or one in parentheses: "(TONYMOLY SHOP (95874))"."""
    stripped = text.strip()
    return not re.search(r"\d", text) or (stripped.startswith("(") and stripped.endswith(")"))


def _address_above(lines: list[Line], name_at: int) -> int:
    """Where to look for the address: below the name, or from the first address line above it
    when the lines above hold a postcode (the name found is the owner's, lower down)."""
    above = [index for index in range(name_at) if address_like(lines[index].text.upper())]
    if above and any(POSTCODE.search(lines[index].text) for index in range(above[0], name_at)):
        return above[0]
    return name_at + 1


def address_like(upper: str) -> bool:
    """Whether a line reads as part of an address: a street word, or a postcode on a line
    with no amount on it."""
    return bool(ADDRESS_WORD.search(upper)) or (bool(POSTCODE.search(upper)) and not has_decimals(upper))


def clean_name(text: str) -> str:
    """A company name without the registration number printed beside it, or table rules around it."""
    text = _OWNED_BY.sub("", _REGISTRATION.sub("", text).strip(" ,:;-_|!'\"‘’“”{}[]>").lstrip("."))
    return re.sub(r"\s+", " ", text)


def fix_forms(text: str) -> str:
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
