"""QUERIES: a question answered from what Lector read, never from a model of its own.

A question is answered by a typed field it names ("What is the total?" is the receipt's or
the invoice's `total`, where the document was read as one), else by the key-value pair whose
key it names best ("What is the invoice number?" → "Invoice No: 123"). Words count when they
match after lower-casing and dropping punctuation and question words; a key matches when at
least half of its words are in the question. The confidence is the pair's (or the field's)
confidence scaled by how much of the key matched. No match: no answer, as Textract leaves
a QUERY without an ANSWER.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from service.api.dialects.textract.wire import Query
from service.structure import KeyValue

#: Words a question is made of that name nothing on the page.
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where how is are was were the a an of on for in to this that "
    "document page does do did much many please give me tell".split()
)
#: A key's words that mean the same as another's.
_SAME = {"no": "number", "num": "number", "nr": "number", "#": "number", "amt": "amount", "qty": "quantity"}
_WORD = re.compile(r"[a-z0-9#]+")
#: Half of a key's words must be in the question.
MIN_MATCH = 0.5


class Answer(msgspec.Struct, frozen=True):
    """A query's answer: the text, where it is, and how sure."""

    text: str
    #: 0 to 1.
    confidence: float
    page: int
    #: [left, top, right, bottom] in page pixels; None when the words were not found.
    box: tuple[int, int, int, int] | None = None


def _words(text: str) -> set[str]:
    found = {_SAME.get(word, word) for word in _WORD.findall(text.lower())}
    return found - _QUESTION_WORDS


def answer(
    query: Query,
    pairs: Sequence[KeyValue],
    fields: Mapping[str, Any] | None,
    evidence: Mapping[str, Any] | None,
) -> Answer | None:
    """The answer to ``query`` from the document's key-value ``pairs`` and typed ``fields``
    (with their ``evidence``, as a result dict holds it), or None."""
    asked = _words(query.text)
    if not asked:
        return None
    if fields:
        # The field whose name the question holds most of: "total tax" is the tax, not the total.
        named = [
            (len(parts), name)
            for name, value in fields.items()
            if value is not None
            and not isinstance(value, list | dict)
            and (parts := {_SAME.get(part, part) for part in name.split("_")}) <= asked
        ]
        if named:
            name = max(named)[1]
            found = (evidence or {}).get(name) or {}
            box = found.get("box")
            return Answer(
                text=str(fields[name]),
                confidence=float(found.get("confidence") or 0.5),
                page=int(found.get("page") or 1),
                box=(box[0], box[1], box[2], box[3]) if isinstance(box, list) and len(box) == 4 else None,
            )
    best: tuple[float, KeyValue] | None = None
    for pair in pairs[:2000]:
        if pair.value is None:
            continue
        key = _words(pair.key.text)
        if not key:
            continue
        score = len(key & asked) / len(key)
        if score >= MIN_MATCH and (best is None or score > best[0]):
            best = (score, pair)
    if best is None:
        return None
    score, pair = best
    assert pair.value is not None
    return Answer(
        text=pair.value.text, confidence=pair.confidence * score, page=pair.value.page, box=pair.value.box
    )
