"""Which document type a document is, from its text alone: ``identify(text, types)``.

Each type is known by the words that mark it. A built-in type with field rules has marks of
its own (``MARKS``): the labels and lines only it prints, in the languages its rules read. A
type added as data takes its words from its prompt and from its schema's property names,
titles and descriptions. A document scores, for each type, the weight of the marks it
carries (``_CERTAIN`` or more is certain), or the share of the type's words; ``text`` is
what a document is when no type is marked well enough (``TEXT_SCORE``). The scores are
turned into confidences that sum to 1.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

from service.doctypes import DocumentType
from service.fields import labels

#: An amount with cents: a payment line is a label and one of these.
_CENTS = r"[^\n]*\d[.,]\d{2}\b"
_INVOICE_WORD = re.compile(
    r"(?<!TAX )(?<!SIMPLIFIED TAX )\bINVOICE\b(?!\s*(?:NO|#|NUMBER))|\bFACTURE\b|\bRECHNUNG\b|\bFACTUUR\b|"
    r"\bFACTURA\b|\bFATTURA\b|\bFATURA\b|\bFAKTURA\b"
)
#: The billed party's label (with its colon: prose speaks of customers too).
_PARTIES = re.compile(
    r"^\W*(?:BILL|SHIP|INVOICE|SOLD)\s*TO\b|"
    r"\b(?:CUSTOMER|CLIENT|KUNDE|KLANT|CLIENTE|NABYWCA|ODBIORCA)\b\s*(?:NAME|NO\.?|#|ID)?\s*:",
    re.MULTILINE,
)
#: What marks a type with rules, each a pattern over upper-cased text and what it weighs.
#: A receipt's marks are its payment lines, with their amounts: prose says "change" too.
MARKS: dict[str, list[tuple[re.Pattern[str], float]]] = {
    "receipt": [
        (re.compile(r"\b(?:CASH|TUNAI|TENDERED|PAID)\b" + _CENTS), 1.5),
        (re.compile(r"\b(?:CHANGE|BAKI)\b" + _CENTS), 1.5),
        (re.compile(r"\bROUNDING\b" + _CENTS + r"|ROUND\w*\s*ADJ"), 1.0),
        (re.compile(r"\b(?:QTY|QUANTITY)\b"), 0.5),
        (re.compile(r"\b(?:CASHIER|COUNTER|POS|TERMINAL)\b\s*(?:NO\b|ID\b|#)?\s*:"), 1.0),
        (re.compile(r"THANK\s*YOU|\bTQ\b|PLEASE\s*COME\s*AGAIN"), 0.5),
        (re.compile(r"\b(?:RECEIPT|RESIT)\b"), 0.5),
        (re.compile(r"\b(?:GST|SST|TAX)\b" + _CENTS), 0.5),
        (re.compile(r"\bRM\s?\d"), 0.5),
        (re.compile(r"\b(?:SDN\.?\s*BHD|S/B)\b"), 0.5),
        (re.compile(r"\bTABLE\b\s*(?:NO\b)?\s*:|\bPAX\b|\bDINE\s*IN\b|TAKE\s*AWAY"), 0.5),
        (re.compile(r"\bVISA\b|MASTER\s*CARD|\bDEBIT\b"), 0.5),
        # A time of day beside the date: a till prints when the sale was made.
        (re.compile(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}[^\n]*\b[0-2]?\d:[0-5]\d\b|\bTIME\b\s*:"), 1.0),
    ],
    "invoice": [
        (_INVOICE_WORD, 1.0),
        (labels.INVOICE_NUMBER, 0.5),
        (labels.DUE_DATE_ONLY, 1.5),
        (labels.SUBTOTAL, 0.25),
        (re.compile(r"\bIBAN\b|\bBIC\b|\bSWIFT\b|BANK\s*(?:DETAILS|ACCOUNT)"), 1.0),
        (_PARTIES, 1.0),
        (re.compile(r"PAYMENT\s*TERMS|\bNET\s*\d+\b|ZAHLUNGSZIEL|CONDITIONS\s*DE\s*PAIEMENT"), 1.0),
        (re.compile(r"\b(?:VAT|TVA|MWST|UST|BTW|IVA)\b"), 0.5),
    ],
}
#: The score a document has as plain text: a type must be marked better than this.
TEXT_SCORE = 0.2
#: The weight of marks that makes a type certain.
_CERTAIN = 4.0
#: How sharply scores turn into confidences (a softmax temperature).
_SHARPNESS = 8.0
_WORD = re.compile(r"[A-ZÀ-Ž]{4,}")
#: Words of prompts and schemas that say nothing about the type.
_COMMON = frozenset(
    "THAT THIS WITH FROM THEIR WHEN THEN THAN EACH WHICH WHAT NULL STRING NUMBER ARRAY OBJECT JSON "
    "SCHEMA FIELD FIELDS VALUE VALUES RETURN FOLLOW FOLLOWS GIVEN RULES NEVER INVENT PRINTED DOCUMENT "
    "DOCUMENTS PAGE PAGES TEXT READ THEY THEM INTO ONLY WHERE WHILE THERE THESE THOSE ABOUT OTHER DATE "
    "DATES TYPE".split()
)


def identify(text: str, types: Iterable[DocumentType]) -> list[tuple[str, float]]:
    """(code, confidence) for each of ``types`` (and ``text``), the likeliest first."""
    upper = text.upper()
    words = set(_WORD.findall(upper))
    scores = {"text": TEXT_SCORE}
    for kind in types:
        if kind.code == "text":
            continue
        marks = MARKS.get(kind.code)
        scores[kind.code] = _marked(upper, marks) if marks else _worded(words, vocabulary(kind))
    top = max(scores.values())
    weights = {code: math.exp(_SHARPNESS * (score - top)) for code, score in scores.items()}
    total = sum(weights.values())
    ranked = [(code, round(weight / total, 3)) for code, weight in weights.items()]
    return sorted(ranked, key=lambda item: -item[1])


def vocabulary(kind: DocumentType) -> set[str]:
    """The words that mark a type added as data: its prompt's, and its schema's property names,
    titles and descriptions, upper-cased, four letters or more, common words left out."""
    parts = [kind.prompt, kind.title]
    parts.extend(_schema_words(kind.schema or {}))
    return {word for word in _WORD.findall(" ".join(parts).upper()) if word not in _COMMON}


def _marked(upper: str, marks: list[tuple[re.Pattern[str], float]]) -> float:
    """How well the text is marked as the type, 0 to 1: the weight of the marks it carries,
    where ``_CERTAIN`` or more is certain."""
    return min(sum(weight for pattern, weight in marks if pattern.search(upper)) / _CERTAIN, 1.0)


def _worded(words: set[str], vocabulary: set[str]) -> float:
    """The share of a type's words the text carries (capped: a long text has many words)."""
    if not vocabulary:
        return 0.0
    return min(len(words & vocabulary) / min(len(vocabulary), 12), 1.0)


def _schema_words(schema: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for name, part in schema.get("properties", {}).items():
        found.append(name.replace("_", " "))
        if isinstance(part, dict):
            found.extend(str(part.get(key, "")) for key in ("title", "description"))
            found.extend(_schema_words(part))
            if isinstance(part.get("items"), dict):
                found.extend(_schema_words(part["items"]))
    return found


def model_question(types: Iterable[DocumentType]) -> tuple[str, dict[str, Any]]:
    """(instructions, JSON Schema) that ask a vision model which of ``types`` (or ``text``) a
    document is, and how sure it is."""
    kinds = [kind for kind in types if kind.code != "text"]
    lines = [f"- `{kind.code}`: {kind.title}. {kind.description}" for kind in kinds]
    lines.append("- `text`: any other document, to be read as plain text.")
    instructions = (
        "You identify the type of a document from its first page. The types are:\n"
        + "\n".join(lines)
        + "\nAnswer with the type's code and your confidence, from 0 to 1."
    )
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["document_type_code", "confidence"],
        "properties": {
            "document_type_code": {"type": "string", "enum": [*(kind.code for kind in kinds), "text"]},
            "confidence": {"type": ["number", "null"], "description": "How sure, from 0 to 1"},
        },
    }
    return instructions, schema
