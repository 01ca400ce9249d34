"""What a field picker returns: a value and how sure it is."""

from __future__ import annotations

from typing import Any, NamedTuple


class Found(NamedTuple):
    """A field's value and its confidence in [0, 1] (the rule's strength times the OCR's)."""

    value: Any
    confidence: float


NOT_FOUND = Found(None, 0.0)
