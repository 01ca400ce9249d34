"""Payment QR codes: what a code printed on an invoice says to pay, and the fields it sets.

Two schemes are read, both plain text with one element per line:

- the EPC's SEPA credit transfer code ("GiroCode", EPC069-12): ``BCD``, version ``001`` or
  ``002``, a character set, ``SCT`` (or ``INST``), the BIC, the beneficiary's name, the IBAN,
  the amount as ``EUR123.45``, a purpose, a structured reference or a remittance text, and a
  note; trailing empty lines may be left out;
- the Swiss QR-bill (Swiss Payment Standards, version 2): ``SPC``, ``0200``, coding ``1``, the
  IBAN, the creditor's address (type ``S`` or ``K``, name, two lines, postcode, town, country),
  seven empty lines (the ultimate creditor), the amount, ``CHF`` or ``EUR``, the debtor's
  address, the reference type (``QRR``, ``SCOR``, ``NON``) and reference, a message, ``EPD``.

``payment_of(text)`` reads either, or gives None for anything else, a malformed code included:
a code is machine-made, so one that breaks its scheme (a wrong IBAN checksum, a missing line)
is not guessed at. ``overlay_payment(...)`` lets the first payment code of a document set its
fields: they win over the OCR's, since the code was read bit for bit.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NamedTuple

from service.fields.evidence import boxed
from service.models import FieldEvidence, PageResult

#: A field a payment code gives is this sure: the code carries its own error correction, and
#: the payer's bank reads the same bits.
CONFIDENCE = 0.99

#: The longest payload either scheme allows (EPC: 331 bytes; QR-bill: 997 characters).
_MAX_TEXT = 1000

_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", re.ASCII)
_BIC = re.compile(r"[A-Z]{6}[A-Z0-9]{2}(?:[A-Z0-9]{3})?", re.ASCII)
_EPC_AMOUNT = re.compile(r"EUR(\d{1,9}(?:\.\d{1,2})?)", re.ASCII)
_SWISS_AMOUNT = re.compile(r"\d{1,9}(?:\.\d{1,2})?", re.ASCII)
_SWISS_VERSION = re.compile(r"02\d\d", re.ASCII)


class Payment(NamedTuple):
    """What one payment code asks: who is paid, into which account, how much, quoting what."""

    scheme: Literal["epc", "swiss"]
    iban: str
    creditor: str
    bic: str | None = None
    amount: float | None = None
    currency: str | None = None
    reference: str | None = None


def payment_of(text: str) -> Payment | None:
    """The payment ``text`` (a code's content) asks for, or None when it is no well-formed
    EPC or Swiss QR-bill payload."""
    if len(text) > _MAX_TEXT:
        return None
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while len(lines) > 1 and not lines[-1]:  # a line feed after the last element
        lines.pop()
    if lines[0] == "BCD":
        return _epc(lines)
    if lines[0] == "SPC":
        return _swiss(lines)
    return None


def _epc(lines: list[str]) -> Payment | None:
    """An EPC069-12 payload: 7 to 12 lines, the last ones optional."""
    if not 7 <= len(lines) <= 12 or lines[1] not in ("001", "002") or lines[3] not in ("SCT", "INST"):
        return None
    if lines[2] not in {"1", "2", "3", "4", "5", "6", "7", "8"}:
        return None
    lines = lines + [""] * (12 - len(lines))
    bic, name, iban, amount = lines[4].replace(" ", "").upper(), lines[5], _iban(lines[6]), lines[7]
    if iban is None or not name or len(name) > 70:
        return None
    if (bic and not _BIC.fullmatch(bic)) or (not bic and lines[1] == "001"):  # optional from version 2
        return None
    value = None
    if amount:
        match = _EPC_AMOUNT.fullmatch(amount.replace(" ", ""))
        if match is None or (value := _amount(match[1])) is None:
            return None
    reference = lines[9] or lines[10] or None  # structured (a creditor reference), else the text
    return Payment("epc", iban, name, bic or None, value, "EUR", reference)


#: The QR-bill's lines up to its trailer, and the element each is.
_SWISS_LINES = 31
_SWISS_TRAILER, _SWISS_AMOUNT_AT, _SWISS_CURRENCY_AT, _SWISS_REFERENCE_AT = 30, 18, 19, 27


def _swiss(lines: list[str]) -> Payment | None:
    """A Swiss QR-bill payload: 31 lines up to ``EPD``, then up to three optional ones."""
    if not _SWISS_LINES <= len(lines) <= _SWISS_LINES + 3 or lines[_SWISS_TRAILER] != "EPD":
        return None
    if (
        not _SWISS_VERSION.fullmatch(lines[1])
        or lines[2] != "1"
        or lines[4] not in ("S", "K")
        or not lines[5]
    ):
        return None
    iban = _iban(lines[3])
    currency = lines[_SWISS_CURRENCY_AT]
    if iban is None or iban[:2] not in ("CH", "LI") or currency not in ("CHF", "EUR"):
        return None
    value, amount = None, lines[_SWISS_AMOUNT_AT]
    if amount and (not _SWISS_AMOUNT.fullmatch(amount) or (value := _amount(amount)) is None):
        return None
    kind, reference = lines[_SWISS_REFERENCE_AT], lines[_SWISS_REFERENCE_AT + 1]
    if kind not in ("QRR", "SCOR", "NON") or (kind == "NON") != (not reference):
        return None
    quoted = reference.replace(" ", "") or lines[_SWISS_REFERENCE_AT + 2] or None  # else the message
    return Payment("swiss", iban, lines[5], None, value, currency, quoted)


def _iban(text: str) -> str | None:
    """``text`` as an IBAN without spaces, when its ISO 13616 check digits hold."""
    iban = text.replace(" ", "").upper()
    if not _IBAN.fullmatch(iban):
        return None
    digits = "".join(str(int(char, 36)) for char in iban[4:] + iban[:4])
    return iban if int(digits) % 97 == 1 else None


def _amount(text: str) -> float | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return float(value) if value > 0 else None


#: Each field a payment sets, by the schema property it fills; ``total`` only when the rules or
#: the model found none (a payment may be a part of it: what remains, an instalment).
_FIELDS: dict[str, str] = {
    "iban": "iban",
    "bic": "bic",
    "vendor_name": "creditor",
    "amount_due": "amount",
    "currency": "currency",
    "payment_reference": "reference",
}
_FILLS = {"total": "amount"}


def overlay_payment(
    schema: dict[str, Any],
    pages: list[PageResult],
    fields: dict[str, Any],
    confidence: dict[str, float] | None,
    evidence: dict[str, FieldEvidence] | None,
) -> tuple[dict[str, Any], dict[str, float] | None, dict[str, FieldEvidence] | None]:
    """``fields`` (with their ``confidence`` and ``evidence``, either None when the engine gave
    none) as the first payment code on ``pages`` sets them: each of its values whose property
    ``schema`` has replaces what was found, with confidence CONFIDENCE and evidence whose
    ``source`` is ``qr`` and whose box is the code's. Unchanged without a payment code."""
    found = _first_payment(pages)
    if found is None:
        return fields, confidence, evidence
    payment, page, box = found
    properties = schema.get("properties", {})
    fields, evidence = dict(fields), dict(evidence or {})
    confidence = dict(confidence) if confidence is not None else None
    named = payment._asdict()
    targets = [(name, named[key]) for name, key in _FIELDS.items()]
    targets += [(name, named[key]) for name, key in _FILLS.items() if fields.get(name) is None]
    for name, value in targets:
        if name not in properties or value is None:
            continue
        fields[name] = value
        evidence[name] = boxed(page.page, box, (page.width, page.height), CONFIDENCE, source="qr")
        if confidence is not None:
            confidence[name] = CONFIDENCE
    return fields, confidence, evidence or None


def _first_payment(pages: list[PageResult]) -> tuple[Payment, PageResult, list[int]] | None:
    """The first payment code in page order, with its page and box."""
    for page in pages:
        for code in page.barcodes:
            payment = payment_of(code.text)
            if payment is not None:
                return payment, page, code.box
    return None
