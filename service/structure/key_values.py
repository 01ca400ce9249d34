"""Key-value pairs: a label and the value printed after it on its line.

A first cut: a line with a colon after its first words ("Invoice No: 123").
"""

from __future__ import annotations

from service.models import PageResult
from service.structure.parts import KeyValue, Run
from service.structure.runs import run_of


def key_values_of(lines: list[Run], pages: list[PageResult]) -> list[KeyValue]:
    """The key-value pairs on ``lines``, in reading order."""
    words_of = {page.page: page.words for page in pages}
    found: list[KeyValue] = []
    for line in lines:
        words = words_of[line.page]
        for position, number in enumerate(line.words[:-1]):
            if words[number].text.endswith(":") and position < 4:
                key = run_of(line.page, [(n, words[n]) for n in line.words[: position + 1]])
                value = run_of(line.page, [(n, words[n]) for n in line.words[position + 1 :]])
                found.append(KeyValue(key=key, value=value, confidence=min(key.confidence, value.confidence)))
                break
    return found

