"""Visual lines from recognised words.

Tesseract's own lines follow its blocks, so on a receipt "TOTAL" and "11.66" can land in two
blocks far apart in its text. Here words are joined by where they stand: left to right, a word
joins the line whose last word sits at its height, so a slightly tilted photo still gives whole
lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import median

from service.models import PageResult, Word


@dataclass
class Line:
    """One visual line of a page: its words left to right."""

    page: int
    words: list[Word] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The words joined by single spaces."""
        return " ".join(word.text for word in self.words)

    @property
    def confidence(self) -> float:
        """How sure the OCR is of the line, 0 to 1: the mean of its words' confidences."""
        return sum(word.confidence for word in self.words) / len(self.words) / 100


def lines_of(pages: list[PageResult]) -> list[Line]:
    """Every page's words as visual lines, in reading order (top to bottom, page by page)."""
    lines: list[Line] = []
    for page in pages:
        lines.extend(_page_lines(page))
    return lines


def _page_lines(page: PageResult) -> list[Line]:
    words = [word for word in page.words if word.text.strip()]
    if not words:
        return []
    size = median(word.box[3] - word.box[1] for word in words)
    lines: list[Line] = []
    anchors: list[Word] = []  # each line's last letter-sized word: dots and dashes drift
    for word in sorted(words, key=lambda word: word.box[0]):
        center = (word.box[1] + word.box[3]) / 2
        best, distance = None, size * 0.6
        for number, line in enumerate(lines):
            if line.words[-1].box[2] > word.box[0] + size / 2:  # overlaps its last word: another line
                continue
            gap = abs((anchors[number].box[1] + anchors[number].box[3]) / 2 - center)
            if gap < distance:
                best, distance = number, gap
        if best is None:
            lines.append(Line(page.page, [word]))
            anchors.append(word)
        else:
            lines[best].words.append(word)
            if word.box[3] - word.box[1] >= size / 2:
                anchors[best] = word
    return sorted(lines, key=lambda line: min((word.box[1] + word.box[3]) / 2 for word in line.words))
