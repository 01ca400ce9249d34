"""Paragraphs: lines that belong together, and the role of each on its page.

Consecutive lines of one page join one paragraph when they start at the same left edge (or are
centred alike), stand a normal line's gap apart and are printed at about the same size; a wide
gap, a change of size or of indentation starts another. A line that is a table's row or holds a
key-value pair is a paragraph of its own, as document-AI services report them; a line whose
words stand far apart (a heading and a text at the right margin) is cut into pieces first.

The roles, as layout analysis names them:

- ``pageNumber``: "Page 2 of 3", "- 2 -", "2/3" or a lone number in the page's top or bottom
  band (``BAND`` of its height);
- ``title``: the largest text near the top of the first page, noticeably larger than the body
  (once a document at most);
- ``pageHeader`` / ``pageFooter``: other short text within the top / bottom band;
- ``sectionHeading``: a short line noticeably larger than the body, or a short all-caps line
  followed by body text.

Text size is the font size estimated from each word's box and letters: a box holds the
capitals' or ascenders' height and the descenders' depth only when the word has them, so
"INVOICE" and "moving" of one font have boxes of different heights but one size.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from itertools import pairwise
from statistics import median

from service.models import PageResult, Word
from service.structure.parts import Paragraph, Role, Run
from service.structure.runs import run_of

#: The share of a page's height at its top and its bottom where headers, footers and page
#: numbers stand.
BAND = 0.06
#: How much larger than the body a heading's text is, and a title's.
_HEADING_SIZE, _TITLE_SIZE = 1.2, 1.3
#: Words of one line further apart than this many text sizes are in two pieces of text.
_APART = 3.0
#: The widest gap between two lines of one paragraph, in text sizes.
_GAP = 0.9
#: Two lines of one paragraph differ in size by less than this ratio.
_SAME_SIZE = 1.25
#: The most words of a heading, a title, or a header's or footer's text.
_SHORT = 12
_HEADING_WORDS = 8
#: Where a title may stand: in this top share of the first page.
_TITLE_ZONE = 0.33
PAGE_NUMBER = re.compile(
    r"^(?:(?:PAGE|P\.?|PG\.?|SEITE|PAGINA|PÁGINA|STRONA|BLZ\.?)\s*\d{1,4}(?:\s*(?:OF|/|VON|DE|DI|Z|SUR|VAN)\s*\d{1,4})?"
    r"|[-–—]\s*\d{1,4}\s*[-–—]|\d{1,4}\s*/\s*\d{1,4}|\d{1,4})$"
)
_ASCENDING = re.compile(r"[A-Z0-9bdfhiklt!?%&#@$€£ÀÁÂÄÉÈÊÍÓÔÖÚÜÇĄĘŁŚŹŻĆŃ]")
_DESCENDING = re.compile(r"[gjpqyQ,;(){}\[\]ąęç]")


def paragraphs_of(lines: list[Run], pages: list[PageResult], alone: Collection[int] = ()) -> list[Paragraph]:
    """The paragraphs of ``lines`` (the document's line runs), in reading order, with their
    roles; ``alone``: lines (by index) that are paragraphs of their own (table rows, key-value
    pairs)."""
    words_of = {page.page: page.words for page in pages}
    pieces: list[Run] = []
    alone_pieces: set[int] = set()
    for number, line in enumerate(lines):
        for piece in _apart(line, words_of[line.page]):
            if number in alone:
                alone_pieces.add(len(pieces))
            pieces.append(piece)
    lines, alone = pieces, alone_pieces
    sizes = [_size([words_of[line.page][number] for number in line.words]) for line in lines]
    groups: list[list[int]] = []
    for number in range(len(lines)):
        last = groups[-1][-1] if groups else None
        if (
            last is not None
            and last not in alone
            and number not in alone
            and _joins(lines, sizes, last, number)
        ):
            groups[-1].append(number)
        else:
            groups.append([number])
    heights = {page.page: page.height for page in pages}
    body = _body_sizes(lines, sizes)
    roles = _roles(groups, lines, sizes, heights, body, alone)
    return [
        Paragraph(lines=tuple(lines[n] for n in group), role=role)
        for group, role in zip(groups, roles, strict=True)
    ]


def _apart(line: Run, words: list[Word]) -> list[Run]:
    """A line cut where its words stand far apart (``_APART`` sizes): a heading at the left
    and another text at the right margin, or a label and its value, are pieces of their own."""
    pieces: list[list[int]] = [[line.words[0]]]
    for left, right in pairwise(line.words):
        size = max(_word_size(words[left]), _word_size(words[right]))
        if words[right].box[0] - words[left].box[2] > _APART * size:
            pieces.append([right])
        else:
            pieces[-1].append(right)
    if len(pieces) == 1:
        return [line]
    return [run_of(line.page, [(number, words[number]) for number in piece]) for piece in pieces]


def _size(words: list[Word]) -> float:
    """A line's text size: the median of its words' estimated font sizes (0: no letters)."""
    estimates = [size for size in (_word_size(word) for word in words) if size > 0]
    return median(estimates) if estimates else 0.0


def _word_size(word: Word) -> float:
    """A word's font size from its box's height: capitals or ascenders reach about 0.72 of it
    above the baseline, lower-case letters 0.5, descenders 0.22 below."""
    text = word.text
    if not any(char.isalnum() for char in text):
        return 0.0
    share = (0.72 if _ASCENDING.search(text) else 0.5) + (0.22 if _DESCENDING.search(text) else 0.0)
    return (word.box[3] - word.box[1]) / share


def _joins(lines: list[Run], sizes: list[float], above: int, below: int) -> bool:
    """Whether line ``below`` continues the paragraph of line ``above``."""
    upper, lower = lines[above], lines[below]
    if upper.page != lower.page or not sizes[above] or not sizes[below]:
        return False
    size = min(sizes[above], sizes[below])
    if max(sizes[above], sizes[below]) / size >= _SAME_SIZE:
        return False
    gap = lower.box[1] - upper.box[3]
    if gap < -size / 2 or gap > _GAP * size:
        return False
    same_left = abs(lower.box[0] - upper.box[0]) <= size
    centred = abs((lower.box[0] + lower.box[2]) - (upper.box[0] + upper.box[2])) / 2 <= size / 2
    return same_left or centred


def _body_sizes(lines: list[Run], sizes: list[float]) -> dict[int, float]:
    """Each page's body text size: the median size of its lines, weighted by their words."""
    by_page: dict[int, list[float]] = {}
    for line, size in zip(lines, sizes, strict=True):
        if size:
            by_page.setdefault(line.page, []).extend([size] * len(line.words))
    return {page: median(values) for page, values in by_page.items()}


def _roles(
    groups: list[list[int]],
    lines: list[Run],
    sizes: list[float],
    heights: dict[int, int],
    body: dict[int, float],
    alone: Collection[int],
) -> list[Role | None]:
    roles: list[Role | None] = [None] * len(groups)
    first_page = lines[0].page if lines else 0
    title: tuple[float, int] | None = None
    for position, group in enumerate(groups):
        first = lines[group[0]]
        page, height = first.page, heights.get(first.page, 0)
        top, bottom = first.box[1], lines[group[-1]].box[3]
        text = " ".join(lines[n].text for n in group)
        words = sum(len(lines[n].words) for n in group)
        size = max(sizes[n] for n in group)
        in_top = height > 0 and (top + bottom) / 2 <= BAND * height
        in_bottom = height > 0 and (top + bottom) / 2 >= (1 - BAND) * height
        if (in_top or in_bottom) and PAGE_NUMBER.match(text.upper().strip()):
            roles[position] = "pageNumber"
            continue
        larger = body.get(page, 0) > 0 and size >= _TITLE_SIZE * body[page]
        near_top = page == first_page and top <= _TITLE_ZONE * height
        if larger and near_top and words <= _SHORT and (title is None or size > title[0]):
            title = (size, position)
        if (in_top or in_bottom) and words <= _SHORT:
            roles[position] = "pageHeader" if in_top else "pageFooter"
        elif len(group) <= 2 and words <= _HEADING_WORDS and not any(n in alone for n in group):
            taller = body.get(page, 0) > 0 and size >= _HEADING_SIZE * body[page]
            if taller or (_shouting(text) and _body_follows(groups, lines, position)):
                roles[position] = "sectionHeading"
    if title is not None:
        roles[title[1]] = "title"
    return roles


def _shouting(text: str) -> bool:
    """Whether a text is in capitals: three letters or more, none lower-case, more letters
    than digits."""
    letters = [char for char in text if char.isalpha()]
    digits = sum(char.isdigit() for char in text)
    return len(letters) >= 3 and all(char.isupper() for char in letters) and len(letters) > digits


def _body_follows(groups: list[list[int]], lines: list[Run], position: int) -> bool:
    """Whether the next paragraph on the page is body text: it has lower-case letters."""
    if position + 1 >= len(groups):
        return False
    following = lines[groups[position + 1][0]]
    return following.page == lines[groups[position][0]].page and any(
        char.islower() for char in following.text
    )
