"""Visual lines from recognised words.

Tesseract's own lines follow its blocks, so on a receipt "TOTAL" and "11.66" can land in two
blocks far apart in its text. Here words are joined by where they stand: left to right, a word
joins the line whose last word sits at its height, so a slightly tilted photo still gives whole
lines.
"""

from __future__ import annotations

import math
from collections import defaultdict
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
    reach = max(size * 0.6, 1.0)  # how far from a line's height a word may stand and join it
    lines: list[Line] = []
    anchors: list[Word] = []  # each line's last letter-sized word: dots and dashes drift
    # Lines by the band of height their anchor stands in, so a word looks only at the lines
    # within reach rather than at every line of the page.
    bands: dict[int, set[int]] = defaultdict(set)

    def band(word: Word) -> int:
        return math.floor((word.box[1] + word.box[3]) / 2 / reach)

    for word in sorted(words, key=lambda word: word.box[0]):
        center = (word.box[1] + word.box[3]) / 2
        best, distance = None, size * 0.6
        near = sorted(number for key in (band(word) - 1, band(word), band(word) + 1) for number in bands[key])
        for number in near:
            line = lines[number]
            if line.words[-1].box[2] > word.box[0] + size / 2:  # overlaps its last word: another line
                continue
            gap = abs((anchors[number].box[1] + anchors[number].box[3]) / 2 - center)
            if gap < distance:
                best, distance = number, gap
        if best is None:
            lines.append(Line(page.page, [word]))
            anchors.append(word)
            bands[band(word)].add(len(lines) - 1)
        else:
            lines[best].words.append(word)
            if word.box[3] - word.box[1] >= size / 2:
                bands[band(anchors[best])].discard(best)
                anchors[best] = word
                bands[band(word)].add(best)
    return sorted(lines, key=lambda line: min((word.box[1] + word.box[3]) / 2 for word in line.words))


def word_at(line: Line, position: int) -> int:
    """The index of the word of ``line`` that character ``position`` of its text falls in (or
    the word just after, for a space)."""
    offset = 0
    for number, word in enumerate(line.words):
        offset += len(word.text) + 1
        if position < offset:
            return number
    return len(line.words) - 1


def one_phrase(line: Line, left_end: int, right_start: int) -> bool:
    """Whether the text ending at ``left_end`` and the text starting at ``right_start`` are one
    phrase: at most one short word between them and no wide gap (a table's column edge)."""
    first, last = word_at(line, max(left_end - 1, 0)), word_at(line, right_start)
    if last - first > 2:
        return False
    height = median(word.box[3] - word.box[1] for word in line.words)
    return all(_narrow_gap(line, number, height) for number in range(first, last))


def _narrow_gap(line: Line, number: int, height: float) -> bool:
    """Whether word ``number`` of ``line`` and the next stand in one cell: no gap as wide as a
    table's column edge (1.5 times the line's height) between them."""
    return line.words[number + 1].box[0] - line.words[number].box[2] < 1.5 * height


def cell_below(lines: list[Line], index: int, start: int, end: int) -> Line | None:
    """The words under the header cell that characters ``start:end`` of ``lines[index]`` fall
    in, on the next line that has any. The cell runs from its first word to the next wide gap
    (a column's edge); a word is under it when its centre is left of the next cell and it
    ends right of the cell's start. None when nothing stands below the cell."""
    line = lines[index]
    if not line.words or start >= end:
        return None
    first, last = word_at(line, start), word_at(line, end - 1)
    height = median(word.box[3] - word.box[1] for word in line.words)
    while last + 1 < len(line.words) and _narrow_gap(line, last, height):
        last += 1  # the rest of the header's words: "Date of issue"
    left = line.words[first].box[0]
    right = line.words[last + 1].box[0] if last + 1 < len(line.words) else float("inf")
    for below in lines[index + 1 : index + 3]:
        if below.page != line.page:
            return None
        words = [
            word for word in below.words if (word.box[0] + word.box[2]) / 2 < right and word.box[2] > left
        ]
        if words:
            return Line(below.page, words)
    return None
