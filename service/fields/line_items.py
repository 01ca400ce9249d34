"""A receipt's or an invoice's line items from where their words stand.

The items stand between the table's header (or, with none, the head of the document) and the
first line of totals, tax or payment. Each visual line is a row (``service.fields.layout``
already joins a row's words by their baseline); a row's cells are split where a number column
begins, or at a gap as wide as a column's edge. A row whose last number has cents is an item's
number row: the description is the text to the left of its numbers, and the numbers are, from
the right, the amount, then the unit price and the quantity (assigned by the header's columns
when it names them, else by which two multiply to the amount, else by their order).

Receipts often print an item on several lines, and three ways round:

- the name on the number row, continued on the lines below ("(T02) BRAISED PORK  2.0  7.00
  14.00" over "RICE WITH PEANUT");
- the name above, then the number row with only an article code and the numbers
  ("KILAT AUTO ECO WASH" over "9555916500133  1 X 3.11  3.11");
- the number row first, then the name below it ("8239  1  15.00  15.00" over "SR: 11" PROWESS
  ..."), when the table's first row under the header has no name.

An article code or barcode in a column of its own is not part of the description, nor are stock
codes on a line of their own (no run of three letters) or the tax flags after the amount.
Discount lines (a negative amount, or a discount word) are not items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from statistics import median
from typing import Any

from service.fields import labels
from service.fields.amounts import CURRENCY_MARKS, has_decimals, parse_amount, unsmudge
from service.fields.found import NOT_FOUND, Found
from service.fields.layout import Line
from service.fields.totals import CASH, CHANGE, ROUNDING, STRONG_TOTAL, SUBTOTAL, TAX, TOTAL
from service.models import Word

#: Column headers by what the column holds, in the invoice set's eight languages and as
#: receipts abbreviate them.
_HEADERS = {
    "description": re.compile(
        r"^(?:DESCRIPTION|DESC|CODE/DESC|ITEMS?|ITEN|ITERN|ITERR|PRODUCT|ARTICLE|PARTICULARS|"
        r"D[ÉE]SIGNATION|LIBELL[ÉE]|BESCHREIBUNG|BEZEICHNUNG|ARTIKEL|LEISTUNG|OMSCHRIJVING|DESCRIPCI[ÓO]N|"
        r"CONCEPTO|DESCRIZIONE|ARTICOLO|DESCRI[ÇC][ÃA]O|OPIS|NAZWA|TOWAR)$"
    ),
    "quantity": re.compile(
        r"^(?:QTY|QTY\(S\)|QUANTITY|QTE|QT[ÉE]|QUANTIT[ÉE]|MENGE|ANZAHL|AANTAL|CANTIDAD|CANT\.?|"
        r"QUANTIT[ÀA]|Q\.?T[ÀA]|QUANTIDADE|QTD\.?|ILO[ŚS][ĆC]|IL\.?)$"
    ),
    "unit_price": re.compile(
        r"^(?:PRICE|U\.?\s?PRICE|UNIT|U/P|U\.P\.?|RSP|S/PRICE|PRIX|PREIS|EINZELPREIS|PRIJS|PRECIO|"
        r"PREZZO|PRE[ÇC]O|CENA|@)$"
    ),
    "amount": re.compile(
        r"^(?:AMOUNT|AMT|AMNOUNT|TOTAL|TOTAL\(RM\)|RM|SUBTOTAL|MONTANT|BETRAG|GESAMT|BEDRAG|TOTAAL|IMPORTE|"
        r"IMPORTO|VALOR|WARTO[ŚS][ĆC]|KWOTA)$"
    ),
}
#: Words of column headers that name no column of an item's: units and tax columns.
_HEADER_WORDS = {"CODE", "TAX", "GST", "RM", "DISC", "DISC%", "%", "EXC.", "INC.", "UOM", "NO", "NO."}
#: Where the items end: the first line of totals, tax, rounding, payment or item counts.
_END_LABELS = (
    SUBTOTAL,
    TOTAL,
    STRONG_TOTAL,
    TAX,
    CASH,
    CHANGE,
    ROUNDING,
    labels.SUBTOTAL,
    labels.TOTAL,
)
_END = re.compile(
    r"\bITEM\s*\(?S\)?\s*[:\d]|\bITEMS?\s*COUNT|\bNO\.?\s*OF\s*ITEMS|\bTOT(?:AL)?\s*QTY|\bQTY\s*\(?S\)?\s*:|"
    r"\bQTY\s*COUNT|\bTOTAL\s*ITEM"
)
#: Lines of the document's head that an item's name above its first number row never is.
_HEAD = re.compile(
    r":|\bINVOICE\b|RECEIPT|CASHIER|\bDATE\b|\bTIME\b|\bTABLE\b|\bTEL\b|\bGST\b|\bBILL\b|\bNO\b|#|"
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}"
)
#: Lines that change an item's price rather than sell one.
_DISCOUNT = re.compile(
    r"DISC(?:OUNT)?\b|REBATE|VOUCHER|PROMO|SAVING|RABAT|REMISE|SKONTO|SCONTO|DESCUENTO|DESCONTO"
)
#: Tax codes and flags printed after an item's amount ("SR", "S", "Z", "*S", "ZRL").
_FLAG = re.compile(r"^(?:SR|ZRL?|SRM|[A-Z]\*?|\*+S?|\)|\|)$", re.IGNORECASE)
#: Words that stand among an item's numbers: multiplication signs, units and currency marks.
_FILLER = re.compile(r"^(?:X|×|@|\*|=|-|PC|PCS|NOS|SET|UNIT|UNITS|EA|KG|G|M|L|LITRE|/|\(|\))$", re.IGNORECASE)
#: A quantity with its unit or sign glued on ("2PC", "1X", "10.00NOS").
_GLUED_QUANTITY = re.compile(r"^(\d{1,4}(?:[.,]\d{1,3})?)(?:PCS?|X|NOS|SET|UNITS?|EA)$", re.IGNORECASE)
#: A price and a quantity written as one word: "7.90*3".
_TIMES = re.compile(r"^(\d+[.,]\d{2})\*(\d{1,4})$")
#: A stock code on a line of its own: a code, a dash, a pack size ("WA45-/2A - 12", "WA36 - 6/60").
_STOCK_CODE = re.compile(r"^[\w/#.\s-]*-\s*[\d/]+$")
#: An article code or barcode: digits only, four or more.
_CODE = re.compile(r"^\d{4,}-?$")
#: Tax codes that may stand among an item's numbers ("2  SR  12.00").
_TAX_CODE = re.compile(r"^(?:SR|ZRL?|S|Z|T|E)$")
_CURRENCIES = {mark.upper() for mark in CURRENCY_MARKS} | {"ZŁ", "R$", "RS"}
#: How sure the rule is of an item, before the OCR's own confidence.
_STRENGTH = 0.7
#: The numbers before an amount that may be its quantity and unit price (a row of a hundred
#: numbers is no item's, and would cost pairs by the thousand).
_MAX_NUMBERS = 6
#: At most this many name lines above a number row, or below one.
_MAX_NAME_LINES = 3
#: The most columns an items' table has.
MAX_COLUMNS = 24


@dataclass
class _Row:
    """One number row: its description's words and its numbers, left to right."""

    index: int
    name: list[Word]
    numbers: list[tuple[Decimal, Word]]
    leading_quantity: Decimal | None = None
    joined_quantity: Decimal | None = None  # "7.90*3"
    confidence: float = 0.0
    #: Where the numbers' columns begin among the line's words (the name's words stand before).
    numbers_at: int = 0


@dataclass
class _Item:
    row: _Row
    names: list[str] = field(default_factory=list)
    named: bool = False  # the name stands on the number row


def find_line_items(lines: list[Line]) -> Found:
    """The document's line items, each ``{"description", "quantity", "unit_price", "amount"}``
    (None where not printed), in order; not found when no item row stands before the totals."""
    lines, header, rows = _region(lines)
    items = _items(rows, header=header is not None)
    columns = _columns(lines[header]) if header is not None else {}
    if not items:
        return NOT_FOUND
    values = [_values(item, columns) for item in items]
    confidence = sum(item.row.confidence for item in items) / len(items)
    return Found(values, round(_STRENGTH * confidence, 3))


def _region(lines: list[Line]) -> tuple[list[Line], int | None, list[_Row | Line]]:
    """The items' region: (the lines, rejoined; the header's index among them, or None; the
    region's lines under the header up to the totals, each a number row or a line of text)."""
    lines = _rejoined(lines)
    start, header = _table_start(lines)
    rows: list[_Row | Line] = []
    for index in range(start, len(lines)):
        line = lines[index]
        row = _number_row(line, index)
        if row is not None and header is not None:
            row.name = [word for word in row.name if not _under_unit(word, lines[header])]
        if header is None and not rows:
            if row is None or _HEAD.search(line.text.upper()) or _ends_items(line.text.upper()):
                continue  # the head of a document with no table header: the items begin at a number row
            rows.extend(Line(above.page, above.words) for above in _names_above(lines, index))
        elif _ends_items(line.text.upper()):
            break
        rows.append(row if row is not None else line)
    return lines, header, rows


def _rejoined(lines: list[Line]) -> list[Line]:
    """``lines`` with a name and its numbers made one line again where a tilted scan put them
    on two: side by side, the numbers right of the name, less than a line's height apart."""
    joined: list[Line] = []
    for line in lines:
        last = joined[-1] if joined else None
        if last is not None and last.page == line.page and _beside(last, line):
            joined[-1] = Line(line.page, sorted([*last.words, *line.words], key=lambda word: word.box[0]))
        else:
            joined.append(line)
    return joined


def _beside(upper: Line, lower: Line) -> bool:
    left, right = sorted((upper, lower), key=lambda line: line.words[0].box[0])
    if left.words[-1].box[2] >= right.words[0].box[0]:
        return False
    if has_decimals(left.text) or not has_decimals(right.text):
        return False
    # The name's last word and the numbers' first, each other's neighbours, overlap in height.
    near, far = left.words[-1].box, right.words[0].box
    return min(near[3], far[3]) > max(near[1], far[1])


def _ends_items(upper: str) -> bool:
    return any(pattern.search(upper) for pattern in _END_LABELS) or bool(_END.search(upper))


def _header_kinds(line: Line) -> dict[str, Word]:
    """The columns a line names, each with its header word: a header names two or more."""
    kinds: dict[str, Word] = {}
    for word in line.words:
        text = word.text.upper().strip(":.()")
        for kind, pattern in _HEADERS.items():
            if kind not in kinds and (pattern.match(text) or pattern.match(word.text.upper())):
                kinds[kind] = word
                break
    return kinds


def _table_start(lines: list[Line]) -> tuple[int, int | None]:
    """(index of the first line under the header, the header's index), or (0, None) when no
    line is a header. Lines of units under the header ("RM", "(RM)") are skipped too."""
    for index, line in enumerate(lines):
        kinds = _header_kinds(line)
        if len(kinds) >= 2 and ("amount" in kinds or "unit_price" in kinds) and not has_decimals(line.text):
            start = index + 1
            while start < min(index + 3, len(lines)) and _header_more(lines[start]):
                start += 1
            return start, index
    return 0, None


def _header_more(line: Line) -> bool:
    """Whether a line under the header is more of it: its units ("RM", "(RM)") or the rest of
    two-line headings ("Price  Tax  Tax Code"), with no digit."""
    if re.search(r"\d", line.text):
        return False
    words = [word.text.upper().strip("():") for word in line.words]
    return (
        all(word in _CURRENCIES for word in words)
        or bool(_header_kinds(line))
        or all(word in _HEADER_WORDS for word in words)
    )


def _under_unit(word: Word, header: Line) -> bool:
    """Whether a word stands under the header's unit-of-measure column ("UOM"): "WALK", "PCS"."""
    return any(
        head.text.upper().strip(":.") in ("UOM", "UNIT")
        and head.box[0] < (word.box[0] + word.box[2]) / 2 < head.box[2]
        for head in header.words
    )


def _columns(header: Line) -> dict[str, tuple[float, float]]:
    """Each numeric column the header names, as the x span of its header word."""
    return {
        kind: (word.box[0], word.box[2])
        for kind, word in _header_kinds(header).items()
        if kind != "description"
    }


def _number_value(text: str) -> Decimal | None:
    """A number cell's value: an amount, a count, or a price with a currency mark glued on."""
    text = unsmudge(text).strip("|")
    value = parse_amount(text)
    if value is None:
        # "15.0C" (a thermal 0 read as C), "S5.50" ($ read as S), "24.00*" and "5.00SR" (the
        # tax flag glued on)
        text = re.sub(r"(?<=[.,]\d)[cC]$", "0", text)
        text = re.sub(r"^[Ss](?=\d+[.,]\d{2}$)", "", text)
        value = parse_amount(re.sub(r"(?<=\d[.,]\d\d)(?:\*+S?|SR|ZRL?|S|Z|T)$", "", text))
    return value


def _number_row(line: Line, index: int) -> _Row | None:
    """``line`` as a number row, or None when its last number has no cents (not an item)."""
    words = list(line.words)
    while words and _FLAG.match(words[-1].text) and not _number_value(words[-1].text):
        words.pop()
    if len(words) >= 2 and re.fullmatch(r"[^\W\d_]{1,3}|\d", words[-1].text) and _cents(words[-2].text):
        words.pop()  # a currency or a flag, misread: "123,98 zt" (zł), "16.95 5" (S)
    numbers: list[tuple[Decimal, Word]] = []
    joined: Decimal | None = None
    while words:
        word = words[-1]
        text = word.text
        upper = text.upper()
        times = _TIMES.match(text)
        glued = _GLUED_QUANTITY.match(text)
        value = _number_value(text)
        if times:
            numbers.insert(0, (Decimal(times[1].replace(",", ".")), word))
            joined = Decimal(times[2])
        elif value is not None and not _CODE.match(text):
            if not _cents(text) and len(words) >= 2 and _part_of_name(line, words[-2], word):
                break  # "GARBAGE BAG (GREEN) 74": a number in the name, not a column
            numbers.insert(0, (value, word))
        elif glued:
            numbers.insert(0, (Decimal(glued[1].replace(",", ".")), word))
        elif not (
            _FILLER.match(text)
            or _TAX_CODE.match(text)
            or upper in _CURRENCIES
            or upper.strip("()") in _CURRENCIES
        ):
            break
        words.pop()
    if not numbers or not _cents(numbers[-1][1].text):
        return None
    numbers_at = len(words)
    name = words
    if name and _CODE.match(name[0].text) and (len(name) == 1 or _wide_gap(line, name[0], name[1], 1.0)):
        name = name[1:]  # an article code or barcode in its own column
    if any(_cents(word.text) for word in name):
        name = []  # numbers among words ("1 * RM 2.83 UNI ( 0.17)=RM 2.83"): no name here
    leading: Decimal | None = None
    if len(name) >= 2 and re.fullmatch(r"\d{1,3}(?:[.,]\d)?", name[0].text):
        leading = Decimal(name[0].text.replace(",", "."))  # "1  HH TIGER 12 GLASSES  145.00"
        name = name[1:]
    confidence = sum(word.confidence for word in line.words) / len(line.words) / 100
    return _Row(index, name, numbers, leading, joined, confidence, numbers_at)


def _cents(text: str) -> bool:
    """Whether a word is an amount with cents."""
    value = _number_value(text)
    return value is not None and has_decimals(unsmudge(text).replace("C", "0").replace("c", "0"))


def _wide_gap(line: Line, left: Word, right: Word, heights: float = 1.5) -> bool:
    """Whether the gap between two words of ``line`` is a column's edge: ``heights`` times the
    line's height or more."""
    height = median(word.box[3] - word.box[1] for word in line.words)
    return right.box[0] - left.box[2] >= heights * height


def _part_of_name(line: Line, left: Word, number: Word) -> bool:
    """Whether a count stands in the name's cell: just after a word, with no column's gap."""
    return _wordy(left.text) and not _wide_gap(line, left, number, 1.0)


def _name_line(text: str) -> bool:
    """Whether a line of no numbers reads as (part of) a name: three letters or more, and not
    a stock code ("WA43-A-24", "PI12PJ11-4 - 6/300", "CH50514")."""
    letters = sum(char.isalpha() for char in text)
    return _wordy(text) or (letters >= 3 and not _STOCK_CODE.match(text))


def _wordy(text: str) -> bool:
    """Whether a line reads as a name rather than a code: a run of three letters."""
    return bool(re.search(r"[^\W\d_]{3}", text))


def _items(rows: list[_Row | Line], *, header: bool) -> list[_Item]:
    """The number rows as items, with the name lines above or below each joined to it."""
    numbered = [row for row in rows if isinstance(row, _Row)]
    if not numbered:
        return []
    # The name below its number row: the table's first row, right under the header, has none.
    below = header and rows[0] is numbered[0] and not _name_text(numbered[0])
    items: list[_Item] = []
    pending: list[str] = []

    def settle(next_named: bool) -> None:
        """The name lines since the last number row continue its item's name (or, in the
        name-below layout, are it), unless they are the next row's name."""
        if items and pending and (below or (items[-1].named and next_named)):
            items[-1].names.extend(pending[:_MAX_NAME_LINES])
        pending.clear()

    for row in rows:
        if isinstance(row, Line):
            text = _clean_name(_name_cell(row))
            if _name_line(text) and not _DISCOUNT.search(text.upper()):
                pending.append(text)
            continue
        own = _name_text(row)
        if _DISCOUNT.search(own.upper()) or row.numbers[-1][0] < 0:
            settle(True)
            continue
        names = [] if own or below else pending[-_MAX_NAME_LINES:]
        if names:
            pending.clear()
        settle(bool(own))
        items.append(_Item(row, [own] if own else names, named=bool(own)))
    settle(True)
    return [item for item in items if item.names]


def _names_above(lines: list[Line], index: int) -> list[Line]:
    """The name lines above the first number row of a table with no header: up to the head."""
    names: list[Line] = []
    for line in reversed(lines[max(0, index - _MAX_NAME_LINES) : index]):
        if _HEAD.search(line.text.upper()) or has_decimals(line.text) or _header_more(line):
            break
        names.insert(0, line)
    return names


def _name_cell(line: Line) -> str:
    """A name line's text without numbers standing apart at its right, in the number columns
    (an amount whose point the OCR lost: "SPRAY PAINT       742")."""
    words = list(line.words)
    if len(words) >= 2 and _CODE.match(words[0].text) and _wide_gap(line, words[0], words[1], 1.0):
        words = words[1:]  # an article code or barcode in its own column
    while len(words) >= 2 and re.fullmatch(r"[\d.,]+", words[-1].text):
        if not _wide_gap(line, words[-2], words[-1]):
            break
        words.pop()
    return " ".join(word.text for word in words)


def _name_text(row: _Row) -> str:
    """The name on a number row, or "" when its words are no name (a code, a smudge)."""
    text = " ".join(word.text for word in row.name)
    return _clean_name(text) if _wordy(text) else ""


def _clean_name(text: str) -> str:
    """A description without the bullet before it, a unit price after it ("@ 5.6600") or the
    OCR's O for a zero in a code."""
    text = re.sub(r"\s*@\s*\d+(?:[.,]\d+)?\s*$", "", text)
    text = re.sub(r"\s+(?:SR|ZRL?|\*S?)$", "", text)
    text = re.sub(r"(?<=\d)O(?=\d|\b)", "0", text)  # "ES1O0O", "EW-100O-1L": an O after a digit is a 0
    return re.sub(r"\s+", " ", text.strip(" -•*|")).strip()


def _values(item: _Item, columns: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """An item as the schema has it: the amount is the last number, the others by column or
    by arithmetic."""
    row = item.row
    amount = row.numbers[-1][0]
    others = row.numbers[:-1]
    quantity: Decimal | None = row.joined_quantity or row.leading_quantity
    price: Decimal | None = None
    if columns:
        for value, word in others:
            kind = _column_of(word, columns)
            if kind == "quantity" and quantity is None:
                quantity = value
            elif kind == "unit_price":
                price = value
    pair = _multiplying(others, amount, quantity)
    if pair is not None:
        quantity, price = pair
    if quantity is None and others and _count_like(others[0][0]) and (len(others) >= 2 or not columns):
        quantity = others[0][0]
        others = others[1:]
    elif quantity is not None and others and others[0][0] == quantity:
        others = others[1:]
    if price is None and others and len(row.numbers) >= 3 and has_decimals(others[0][1].text):
        price = others[0][0]
    return {
        "description": " ".join(item.names),
        "quantity": _number(quantity),
        "unit_price": _number(price),
        "amount": float(amount.quantize(Decimal("0.01"))),
    }


def _multiplying(
    others: list[tuple[Decimal, Word]], amount: Decimal, quantity: Decimal | None
) -> tuple[Decimal, Decimal] | None:
    """(quantity, unit price) among the row's numbers whose product is the amount."""
    values = [value for value, _ in others[-_MAX_NUMBERS:]]
    if quantity is not None:
        values = [quantity, *values]
    for left in range(len(values)):
        for right in range(left + 1, len(values)):
            first, second = values[left], values[right]
            if first > 0 and second > 0 and abs(first * second - amount) <= Decimal("0.01"):
                if quantity is not None and left == 0:
                    return first, second
                return (first, second) if _count_like(first) or not _count_like(second) else (second, first)
    return None


def _count_like(value: Decimal) -> bool:
    return value > 0 and value == value.to_integral_value() and value < 1000


def _column_of(word: Word, columns: dict[str, tuple[float, float]]) -> str | None:
    """The header column a number stands under: the one whose header overlaps it most, or is
    nearest."""
    center = (word.box[0] + word.box[2]) / 2

    def distance(span: tuple[float, float]) -> float:
        left, right = span
        return 0.0 if left <= center <= right else min(abs(center - left), abs(center - right))

    kind, span = min(columns.items(), key=lambda column: distance(column[1]))
    width = word.box[3] - word.box[1]
    return kind if distance(span) <= 3 * width else None


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


# The items region as a table: the same region, header and rows as the items above, cut into
# columns, for the document's structure (service/structure/tables.py).


@dataclass
class GridRow:
    """One row of the items' table: its words in each column (an empty list: an empty cell)."""

    header: bool
    cells: list[list[Word]]


@dataclass
class ItemsGrid:
    """The items region as rows of cells under common columns, the header row first."""

    #: Each column's [left, right] in page pixels.
    columns: list[tuple[float, float]]
    rows: list[GridRow]


def items_grid(lines: list[Line]) -> ItemsGrid | None:
    """The items region of ``lines`` (one page's) as a grid, or None when it has no number row.

    A row is the header line, or an item's number row with the name lines the items above join
    to it (the lines below a named row, or above an unnamed one). A line's words are cut into
    groups at a column's gap, and the name apart from the numbers; the columns are where the
    header's groups and the numbers' groups stand (their x spans overlapping make one column)
    and where names begin.
    """
    lines, header, region = _region(lines)
    numbered = [row for row in region if isinstance(row, _Row)]
    if not numbered:
        return None
    grouped: list[tuple[bool, list[list[Word]]]] = []
    if header is not None:
        grouped.append((True, _gapped(lines[header].words)))
    for row, names in _joined_rows(region, below=header is not None and not _name_text(numbered[0])):
        line = lines[row.index]
        above = [name for name in names if name.words[0].box[1] < line.words[0].box[1]]
        groups = [group for name in above for group in _gapped(name.words)]
        groups.extend(_row_groups(line, row))
        groups.extend(group for name in names if name not in above for group in _gapped(name.words))
        grouped.append((False, groups))
    columns = _grid_columns(grouped)
    if len(columns) > MAX_COLUMNS:
        return None  # no items' table has so many columns: numbers strewn over the page
    rows = []
    for is_header, groups in grouped:
        cells: list[list[Word]] = [[] for _ in columns]
        for group in groups:
            cells[_nearest_column(group, columns)].extend(group)
        rows.append(GridRow(is_header, cells))
    return ItemsGrid(columns, rows)


def _joined_rows(region: list[_Row | Line], *, below: bool) -> list[tuple[_Row, list[Line]]]:
    """Each number row with the name lines that belong to it, as ``_items`` joins them: under
    a named row (or every row, names below), a line continues the row above; otherwise it is
    the name of the row below, unless that row has its own."""
    joined: list[tuple[_Row, list[Line]]] = []
    pending: list[Line] = []
    for row in region:
        if isinstance(row, Line):
            if joined and (below or _name_text(joined[-1][0])):
                joined[-1][1].append(row)
            else:
                pending.append(row)
            continue
        joined.append((row, [] if _name_text(row) else pending))  # a named row's lines above are not its
        pending = []
    if pending and joined:
        joined[-1][1].extend(pending)
    return joined


def _gapped(words: list[Word]) -> list[list[Word]]:
    """``words`` (of one line, left to right) cut where a gap is a column's edge: as wide as
    the line's height."""
    if not words:
        return []
    height = median(word.box[3] - word.box[1] for word in words)
    groups = [[words[0]]]
    for left, right in pairwise(words):
        if right.box[0] - left.box[2] >= height:
            groups.append([right])
        else:
            groups[-1].append(right)
    return groups


def _row_groups(line: Line, row: _Row) -> list[list[Word]]:
    """A number row's words in groups: the text before its numbers' columns cut at wide gaps,
    then the numbers and the words among them (currencies, flags) cut at wide gaps and before
    each number."""
    numbers = {id(word) for _, word in row.numbers}
    first = row.numbers_at
    groups = _gapped(line.words[:first])
    for group in _gapped(line.words[first:]):
        part: list[Word] = []
        for word in group:
            if id(word) in numbers and part and any(id(other) in numbers for other in part):
                groups.append(part)
                part = []
            part.append(word)
        groups.append(part)
    return groups


def _grid_columns(grouped: list[tuple[bool, list[list[Word]]]]) -> list[tuple[float, float]]:
    """The columns: the header's groups and every number row's groups but its first (a name's
    width says nothing of its column) by their x spans, the first by where it begins (give or
    take a letter's height: a tilted scan); spans that overlap make one column."""
    spans: list[tuple[float, float]] = []
    for is_header, groups in grouped:
        for position, group in enumerate(groups):
            left, right = group[0].box[0], group[-1].box[2]
            if position == 0 and not is_header:
                right = left + group[0].box[3] - group[0].box[1]
            spans.append((left, right))
    spans.sort()
    columns: list[tuple[float, float]] = []
    for start, end in spans:
        if columns and start <= columns[-1][1]:
            columns[-1] = (columns[-1][0], max(columns[-1][1], end))
        else:
            columns.append((start, end))
    return columns


def _nearest_column(group: list[Word], columns: list[tuple[float, float]]) -> int:
    """The column a group stands in: the one its span overlaps most, else the nearest."""
    left, right = group[0].box[0], group[-1].box[2]

    def fit(column: tuple[float, float]) -> tuple[float, float]:
        overlap = min(right, column[1]) - max(left, column[0])
        return (overlap, -min(abs(left - column[1]), abs(right - column[0])))

    return max(range(len(columns)), key=lambda number: fit(columns[number]))
