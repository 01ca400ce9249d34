"""What a field picker returns: a value, how sure it is, and where it was read."""

from __future__ import annotations

from typing import Any, NamedTuple

from service.models import Word


class Found(NamedTuple):
    """A field's value and its confidence in [0, 1] (the rule's strength times the OCR's, or
    the chooser's probability); the words it was read from and their page, when the picker
    knows them (else the evidence is looked for in the text)."""

    value: Any
    confidence: float
    words: tuple[Word, ...] = ()
    page: int | None = None


NOT_FOUND = Found(None, 0.0)
