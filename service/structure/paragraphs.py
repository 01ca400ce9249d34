"""Paragraphs: lines that belong together, and the role of each on its page.

A first cut: every line is its own paragraph, with no role.
"""

from __future__ import annotations

from service.models import PageResult
from service.structure.parts import Paragraph, Run


def paragraphs_of(lines: list[Run], pages: list[PageResult]) -> list[Paragraph]:
    """The paragraphs of ``lines`` (the document's line runs), in reading order."""
    return [Paragraph(lines=(line,)) for line in lines]
