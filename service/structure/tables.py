"""Tables, from the rows and columns of the words' geometry.

A first cut: no tables.
"""

from __future__ import annotations

from service.models import PageResult
from service.structure.parts import Run, Table


def tables_of(lines: list[Run], pages: list[PageResult]) -> list[Table]:
    """The tables among ``lines``, in reading order."""
    return []
