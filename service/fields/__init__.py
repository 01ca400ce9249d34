"""Typed documents' fields from OCR words and their positions alone, with no model server.

``find_fields(code, schema, pages)`` answers every property of the schema: a value where the
rules for that document type found one, else null, and beside it a confidence in [0, 1]
(0 for null). Rules exist for ``receipt`` and ``invoice``; another type gets nulls, because
guessing the meaning of an unknown schema's fields from words alone would be made up. For the
fields the chooser has a model for (``service.fields.chooser``), its choice among the
candidates replaces the rules' answer, and the rules' answer is one of its features. Each
field's evidence says where it was read (``service.fields.evidence``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from service.fields.chooser import choose
from service.fields.evidence import evidence_found
from service.fields.found import Found
from service.fields.invoice import invoice_fields
from service.fields.layout import Line, lines_of
from service.fields.receipt import receipt_fields
from service.models import FieldEvidence, PageResult
from service.options import Psm


class ReadingProfile(NamedTuple):
    """How the engine reads a document of a type whose fields come from these rules."""

    #: Tesseract's page segmentation, unless the client chose one.
    psm: Psm | None = None
    #: Words under this confidence (0-100) are left out of the text; the rules still see them.
    min_confidence: float = 0.0


#: Measured on the SROIE receipts (README, Accuracy): a receipt is one column, so read as one
#: block of text (psm 6) its totals stay on their lines (+10 points of totals); leaving out words
#: under 30% confidence (stamps, logos, smudges) raised word F1 from 0.71 to 0.74.
READINGS = {"receipt": ReadingProfile(psm=6, min_confidence=30.0)}

#: The document types with rules, by code.
RULES: dict[str, Callable[[list[Line]], dict[str, Found]]] = {
    "receipt": receipt_fields,
    "invoice": invoice_fields,
}


class Fields(NamedTuple):
    """A typed document's fields as the rules and the chooser read them."""

    values: dict[str, Any]
    confidence: dict[str, float]
    evidence: dict[str, FieldEvidence]


def find_fields(
    code: str, schema: dict[str, Any], pages: list[PageResult], *, learned: bool = True
) -> Fields:
    """The fields of a document of type ``code`` whose pages carry their words; ``learned``:
    the chooser picks the fields it has a model for (else the rules alone answer, as the
    accuracy benchmark compares)."""
    rules = RULES.get(code)
    lines = lines_of(pages)
    found = rules(lines) if rules is not None else {}
    if learned and rules is not None:
        found = {**found, **choose(code, lines, found)}
    fields: dict[str, Any] = {}
    confidence: dict[str, float] = {}
    for name in schema.get("properties", {}):
        hit = found.get(name, Found(None, 0.0))
        value, sure = hit.value, hit.confidence
        fields[name] = value
        confidence[name] = round(max(0.0, min(sure, 1.0)), 3) if value is not None else 0.0
    found = {name: hit._replace(confidence=confidence.get(name, 0.0)) for name, hit in found.items()}
    return Fields(fields, confidence, evidence_found(found, fields, pages, lines))
