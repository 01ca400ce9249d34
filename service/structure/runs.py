"""Words made into runs: the visual lines of ``service.fields.layout`` with the words'
indexes, and a run from any words of one page."""

from __future__ import annotations

from collections.abc import Iterable

from service.fields.layout import lines_of
from service.models import PageResult, Word
from service.structure.parts import Run

#: The most lines a document's structure looks at: a hostile page of thousands of lines costs
#: no more than this many.
MAX_LINES = 2000


def line_runs(pages: list[PageResult]) -> list[Run]:
    """Every page's visual lines as runs, in reading order, at most MAX_LINES."""
    index = {id(word): number for page in pages for number, word in enumerate(page.words)}
    runs: list[Run] = []
    for line in lines_of(pages)[:MAX_LINES]:
        runs.append(run_of(line.page, [(index[id(word)], word) for word in line.words]))
    return runs


def run_of(page: int, words: Iterable[tuple[int, Word]]) -> Run:
    """One run of ``(index, word)`` pairs of page ``page``, in the order given."""
    chosen = list(words)
    boxes = [word.box for _, word in chosen]
    return Run(
        page=page,
        text=" ".join(word.text for _, word in chosen),
        words=tuple(number for number, _ in chosen),
        box=(
            min(box[0] for box in boxes),
            min(box[1] for box in boxes),
            max(box[2] for box in boxes),
            max(box[3] for box in boxes),
        ),
        confidence=round(sum(word.confidence for _, word in chosen) / len(chosen) / 100, 4),
    )
