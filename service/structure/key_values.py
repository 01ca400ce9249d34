"""Key-value pairs: a label and the value printed after it on its line, or under it.

Three ways a document pairs them, found on each visual line cut into groups at a column's gap
(as wide as the line's height):

- "Label: value": a word ending in a colon among a group's first words ("Invoice No: 123",
  "Date: 25/12/2018   Time: 14:05" holds two); the value is the rest of the group, or the
  next group when the label stands alone in its own;
- a known label and its value without a colon: across a gap ("Invoice Number      INV-1",
  "Subtotal      10.00") or in one group, the value starting at the first word with a digit
  ("Date 12/03/2024");
- a label over its value: a line of labels alone, each paired with the words of the next line
  that stand under it ("Invoice Date" over "2024-03-12", a row of header cells).

The known labels are the field rules' (``service.fields.labels`` in the invoice set's eight
languages, the totals' words in ``service.fields.totals``). A key is short (``MAX_KEY_WORDS``)
and a value is no paragraph of prose (``MAX_VALUE_WORDS``). The items of a table are not pairs
(their lines are skipped), but the totals under it are. Confidence: the less sure of the key's
and the value's words.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from itertools import pairwise
from statistics import median

from service.fields import labels, totals
from service.fields.amounts import CURRENCY_MARKS
from service.models import PageResult, Word
from service.structure.parts import KeyValue, Run
from service.structure.runs import run_of

#: The most words a key has.
MAX_KEY_WORDS = 6
#: The most words a value has: more is prose, not a filled-in field.
MAX_VALUE_WORDS = 10
#: A line of more groups than this is a table's row, not a row of labels over their values.
_MAX_LABEL_GROUPS = 8
#: A label's value below it stands on the next line, at most this many line heights lower.
_BELOW = 2.5
#: Every label the field rules know, as one pattern on upper-cased text.
KNOWN_LABEL = re.compile(
    "|".join(
        f"(?:{pattern.pattern})"
        for pattern in (
            labels.INVOICE_NUMBER,
            labels.ISSUE_DATE,
            labels.DUE_DATE,
            labels.PURCHASE_ORDER,
            labels.TAX_ID,
            totals.SUBTOTAL,
            totals.STRONG_TOTAL,
            totals.TOTAL,
            totals.TAX,
            totals.CASH,
            totals.CHANGE,
            totals.ROUNDING,
        )
    )
)
_CURRENCIES = {mark.upper() for mark in CURRENCY_MARKS}

Group = list[tuple[int, Word]]


def key_values_of(lines: list[Run], pages: list[PageResult], skip: Collection[int] = ()) -> list[KeyValue]:
    """The key-value pairs on ``lines``, in reading order; ``skip``: lines (by their index in
    ``lines``) that hold no pairs, a table's."""
    words_of = {page.page: page.words for page in pages}
    found: list[KeyValue] = []
    for number, line in enumerate(lines):
        if number in skip:
            continue
        words = words_of[line.page]
        groups = [
            part
            for group in _groups([(index, words[index]) for index in line.words])
            for part in _at_labels(group)
        ]
        pairs, bare = _pairs_on_line(line.page, groups)
        if bare and len(bare) == len(groups) <= _MAX_LABEL_GROUPS and number + 1 < len(lines):
            below = lines[number + 1]
            if number + 1 not in skip and _just_below(line, below):
                pairs = _pairs_below(line.page, groups, [(index, words[index]) for index in below.words])
                bare = []
        for position in bare:  # "Signature:" with nothing filled in
            if groups[position][-1][1].text.endswith(":"):
                key = run_of(line.page, groups[position])
                pairs.append(KeyValue(key=key, value=None, confidence=key.confidence))
        found.extend(pairs)
    return found


def _groups(words: Group) -> list[Group]:
    """A line's words cut where a gap is a column's edge: as wide as the line's height."""
    if not words:
        return []
    height = median(word.box[3] - word.box[1] for _, word in words)
    groups = [[words[0]]]
    for (_, left), right in pairwise(words):
        if right[1].box[0] - left.box[2] >= height:
            groups.append([right])
        else:
            groups[-1].append(right)
    return groups


def _at_labels(group: Group) -> list[Group]:
    """``group`` cut before each further "Label:" after a value, where the words stand too
    close for a column's gap ("Date: 25/12/2018 Time: 14:05" is two pairs): the label is its
    word ending in a colon, with the words before it that a known label begins with ("Invoice
    No: 123 Due Date: 2024" is cut before "Due", "Name: John Smith Phone: 555" before
    "Phone:"), never all of the value before it."""
    parts: list[Group] = []
    start = 0
    seen_key = False
    for position, (_, word) in enumerate(group):
        if not (word.text.endswith(":") and any(char.isalpha() for char in word.text)):
            continue
        if not seen_key:
            seen_key = True
            continue
        first_value = _first_value(group, start)
        cut = position
        while cut - 1 > first_value and position - cut < MAX_KEY_WORDS - 1:
            before = group[cut - 1][1].text
            if any(char.isdigit() or char == ":" for char in before) or not _label_from(
                group[cut - 1 : position + 1]
            ):
                break
            cut -= 1
        if cut <= first_value:
            continue  # no value between the two labels: "Invoice No:" is one label
        parts.append(group[start:cut])
        start = cut
    parts.append(group[start:])
    return parts


def _label_from(words: Group) -> bool:
    """Whether a known label begins at the first of ``words``."""
    found = KNOWN_LABEL.search(" ".join(word.text for _, word in words).upper())
    return found is not None and found.start() == 0


def _first_value(group: Group, start: int) -> int:
    """Where the value of the part of ``group`` from ``start`` begins: after its first word
    ending in a colon."""
    return next((at + 1 for at in range(start, len(group)) if group[at][1].text.endswith(":")), len(group))


def _key_length(group: Group, *, whole: bool = False) -> int:
    """How many of a group's first words are a key: up to a word ending in a colon, or a
    known label's words up to the first word with a digit (the whole group when ``whole``: a
    value stands in the next); 0 when the group starts no key."""
    for position, (_, word) in enumerate(group[:MAX_KEY_WORDS]):
        if word.text.endswith(":") and (position > 0 or any(char.isalpha() for char in word.text)):
            return position + 1
    if len(group) <= MAX_KEY_WORDS and whole and _known(group):
        return len(group)  # "VAT 20%      50.00": the label's whole group, its value the next
    length = next(
        (at for at, (_, word) in enumerate(group) if any(char.isdigit() for char in word.text)), len(group)
    )
    while length > 1 and group[length - 1][1].text.upper() in _CURRENCIES:
        length -= 1  # "Total Due EUR 1,440.00": the currency is the value's
    if 0 < length <= MAX_KEY_WORDS and _known(group[:length]):
        return length
    return 0


def _currency_alone(words: Group) -> bool:
    return all(word.text.upper() in _CURRENCIES for _, word in words)


def _known(words: Group) -> bool:
    return bool(KNOWN_LABEL.search(" ".join(word.text for _, word in words).upper()))


def _pairs_on_line(page: int, groups: list[Group]) -> tuple[list[KeyValue], list[int]]:
    """The pairs within one line, and the groups that are a label alone with no value beside
    it (by position)."""
    pairs: list[KeyValue] = []
    bare: list[int] = []
    position = 0
    while position < len(groups):
        group = groups[position]
        following = groups[position + 1] if position + 1 < len(groups) else None
        length = _key_length(group, whole=following is not None and _key_length(following) == 0)
        if length == 0:
            position += 1
            continue
        value = group[length:]
        if not value and following is not None and _key_length(following) == 0:
            value = following
            position += 1
            after = groups[position + 1] if position + 1 < len(groups) else None
            if after is not None and _currency_alone(value) and _key_length(after) == 0:
                value = value + after  # "TOTAL    RM    20.03": the amount is the currency's
                position += 1
        position += 1
        if not value:
            bare.append(position - 1)
            continue
        if len(value) <= MAX_VALUE_WORDS:
            pairs.append(_pair(page, group[:length], value))
    return pairs, bare


def _just_below(line: Run, below: Run) -> bool:
    """Whether ``below`` is the line right under ``line``: same page, within a line or two."""
    height = line.box[3] - line.box[1]
    return below.page == line.page and 0 <= below.box[1] - line.box[3] <= _BELOW * height


def _pairs_below(page: int, labels_: list[Group], below: Group) -> list[KeyValue]:
    """Each label of a line of labels alone with the words of the line below that stand under
    it: their centre left of the next label and their right edge past the label's start."""
    pairs: list[KeyValue] = []
    for position, group in enumerate(labels_):
        left = group[0][1].box[0]
        right = labels_[position + 1][0][1].box[0] if position + 1 < len(labels_) else float("inf")
        value = [
            (index, word)
            for index, word in below
            if (word.box[0] + word.box[2]) / 2 < right and word.box[2] > left
        ]
        key = group[: _key_length(group)]
        if 0 < len(value) <= MAX_VALUE_WORDS and not _key_length(value):
            pairs.append(_pair(page, key, value))
        else:
            pairs.append(KeyValue(key=run_of(page, key), value=None, confidence=run_of(page, key).confidence))
    return pairs


def _pair(page: int, key: Group, value: Group) -> KeyValue:
    key_run, value_run = run_of(page, key), run_of(page, value)
    return KeyValue(key=key_run, value=value_run, confidence=min(key_run.confidence, value_run.confidence))
