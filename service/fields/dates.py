"""Dates as printed, normalized to ``datetime.date``.

Numeric dates ("25/12/2018", "18-11-18", "2018.03.04", "20180304") and month names
("03 MAR 2018", "Mar 3, 2018", "30-Dec-17"). Whether "03/04/2018" is the 3rd of April or the
4th of March is decided by the document: ``date_order`` looks at all of its numeric dates, and
only when none of them settles it does a caller fall back to a guess and lower its confidence.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal, NamedTuple

Order = Literal["dmy", "mdy"]

#: Month names as documents print them: English and Malay (receipts), French, German, Dutch,
#: Spanish, Italian, Portuguese and Polish (invoices; Polish in the genitive a date uses, and the
#: nominative), upper-cased, with the abbreviations that cannot be mistaken for a word.
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            (
                "JAN",
                "JANUARY",
                "JANUARI",
                "JANVIER",
                "JANV",
                "JANUAR",
                "ENERO",
                "ENE",
                "GENNAIO",
                "JANEIRO",
                "STYCZNIA",
                "STYCZEŃ",
            ),
            (
                "FEB",
                "FEBRUARY",
                "FEBRUARI",
                "FÉVRIER",
                "FEVRIER",
                "FÉVR",
                "FEBRUAR",
                "FEBRERO",
                "FEBBRAIO",
                "FEVEREIRO",
                "LUTEGO",
                "LUTY",
            ),
            (
                "MAR",
                "MARCH",
                "MAC",
                "MARS",
                "MÄRZ",
                "MAERZ",
                "MAART",
                "MARZO",
                "MARÇO",
                "MARCO",
                "MARCA",
                "MARZEC",
            ),
            ("APR", "APRIL", "AVRIL", "AVR", "ABRIL", "ABR", "APRILE", "KWIETNIA", "KWIECIEŃ"),
            ("MAY", "MEI", "MAI", "MAYO", "MAGGIO", "MAIO", "MAJA", "MAJ"),
            ("JUN", "JUNE", "JUIN", "JUNI", "JUNIO", "GIUGNO", "JUNHO", "CZERWCA", "CZERWIEC"),
            (
                "JUL",
                "JULY",
                "JULAI",
                "JUILLET",
                "JUIL",
                "JULI",
                "JULIO",
                "LUGLIO",
                "JULHO",
                "LIPCA",
                "LIPIEC",
            ),
            ("AUG", "AUGUST", "OGOS", "AOÛT", "AOUT", "AUGUSTUS", "AGOSTO", "AGO", "SIERPNIA", "SIERPIEŃ"),
            (
                "SEP",
                "SEPT",
                "SEPTEMBER",
                "SEPTEMBRE",
                "SEPTIEMBRE",
                "SETTEMBRE",
                "SETEMBRO",
                "WRZEŚNIA",
                "WRZESIEŃ",
            ),
            (
                "OCT",
                "OCTOBER",
                "OKT",
                "OKTOBER",
                "OCTOBRE",
                "OCTUBRE",
                "OTTOBRE",
                "OUTUBRO",
                "PAŹDZIERNIKA",
                "PAŹDZIERNIK",
            ),
            ("NOV", "NOVEMBER", "NOVEMBRE", "NOVIEMBRE", "NOVEMBRO", "LISTOPADA", "LISTOPAD"),
            (
                "DEC",
                "DECEMBER",
                "DIS",
                "DISEMBER",
                "DÉCEMBRE",
                "DECEMBRE",
                "DÉC",
                "DEZEMBER",
                "DEZ",
                "DICIEMBRE",
                "DIC",
                "DICEMBRE",
                "DEZEMBRO",
                "GRUDNIA",
                "GRUDZIEŃ",
            ),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))

#: Years a receipt or invoice can carry; anything else is a misread or not a date. A document
#: from after next year would come from the future: "2048" is a misread "2018".
FIRST_YEAR = 1990

_NUMERIC = re.compile(r"(?<![\d.,])(\d{1,4})\s?([/.-])\s?(\d{1,2})\s?\2\s?(\d{2,4})(?!\d|[/.-]\d)")
_YEAR_FIRST = re.compile(r"\d{4}")
_COMPACT = re.compile(r"(?<!\d)(\d{8})(?!\d)")
#: What stands between a date's parts: spaces and punctuation, or Spanish and Portuguese "de".
_SEP = r"(?:[\s.,/-]|\bDE\b)*"
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(\d{{1,2}})(?:ST|ND|RD|TH|ER)?{_SEP}({_MONTH})(?![A-ZÀ-Ż])\.?{_SEP}(\d{{4}}|\d{{2}})(?!\d)"
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?<![A-Z])({_MONTH})\.?[\s.,/-]*(\d{{1,2}})(?:ST|ND|RD|TH)?[\s.,/-]+(\d{{4}}|\d{{2}})(?!\d)"
)


class DateMatch(NamedTuple):
    """One date found in a line: its value, the text it came from, and how sure its reading is."""

    value: date
    text: str
    #: True when the day and month could be swapped and nothing in the text itself decides.
    ambiguous: bool


class _Numeric(NamedTuple):
    first: int
    second: int
    year: int
    text: str


def date_order(texts: list[str]) -> Order | None:
    """Day-first or month-first, as the numeric dates in ``texts`` show it; None if they do not.

    "25/12/2018" proves day-first and "12/25/2018" month-first; "03/04/2018" proves nothing.
    When a document's dates disagree, the majority wins.
    """
    votes = {"dmy": 0, "mdy": 0}
    for text in texts:
        for numeric in _numeric_dates(text.upper()):
            # Only a real date votes: "6.60.00" is a price or a time, not a month-first date.
            # ISO dates (year first) say nothing of how the document writes the others.
            if _YEAR_FIRST.match(numeric.text):
                continue
            if numeric.first > 12 >= numeric.second and _make(numeric.year, numeric.second, numeric.first):
                votes["dmy"] += 1
            elif numeric.second > 12 >= numeric.first and _make(numeric.year, numeric.first, numeric.second):
                votes["mdy"] += 1
    if votes["dmy"] == votes["mdy"]:
        return None
    return "dmy" if votes["dmy"] > votes["mdy"] else "mdy"


def find_dates(text: str, order: Order = "dmy") -> list[DateMatch]:
    """Every valid date in ``text``, left to right; ``order`` settles an ambiguous numeric one."""
    upper = text.upper()
    found: list[tuple[int, DateMatch]] = []
    for numeric in _numeric_dates(upper):
        match = _from_numeric(numeric, order)
        if match is not None:
            found.append((upper.find(numeric.text), match))
    for regex, day_group, month_group in ((_DAY_MONTH_YEAR, 1, 2), (_MONTH_DAY_YEAR, 2, 1)):
        for found_match in regex.finditer(upper):
            value = _make(int(found_match[3]), MONTHS[found_match[month_group]], int(found_match[day_group]))
            if value is not None:
                found.append((found_match.start(), DateMatch(value, found_match[0], ambiguous=False)))
    for compact in _COMPACT.finditer(upper):
        digits = compact[1]
        # 20180304 (year first) or 25032018 (year last, day first as the rest of the world writes it).
        value = _make(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
        if value is None:
            value = _make(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
        if value is not None:
            found.append((compact.start(), DateMatch(value, digits, ambiguous=False)))
    return [match for _, match in sorted(found, key=lambda item: item[0])]


def parse_date(text: str, order: Order = "dmy") -> date | None:
    """The first date in ``text``, or None."""
    found = find_dates(text, order)
    return found[0].value if found else None


def _numeric_dates(upper: str) -> list[_Numeric]:
    found = []
    for match in _NUMERIC.finditer(upper):
        first, _, second, year = match.groups()
        if len(first) == 4:  # 2018-03-04: year first, always month before day (ISO 8601)
            found.append(_Numeric(int(second), int(year), int(first), match[0]))
        elif len(first) <= 2:
            found.append(_Numeric(int(first), int(second), int(year), match[0]))
    return found


def _from_numeric(numeric: _Numeric, order: Order) -> DateMatch | None:
    first, second, year, _ = numeric
    if _YEAR_FIRST.match(numeric.text):  # year-first dates hold (month, day)
        value = _make(year, first, second)
        return DateMatch(value, numeric.text, ambiguous=False) if value else None
    day_first = _make(year, second, first)
    month_first = _make(year, first, second)
    if day_first is None or month_first is None or day_first == month_first:
        value = day_first or month_first
        return DateMatch(value, numeric.text, ambiguous=False) if value else None
    return DateMatch(day_first if order == "dmy" else month_first, numeric.text, ambiguous=True)


def _make(year: int, month: int, day: int) -> date | None:
    if year < 100:
        year += 2000 if year < 70 else 1900
    # Years after next year are misreads; "next year" is asked each time, so a worker that
    # runs across New Year does not keep the year it was started in.
    if not FIRST_YEAR <= year <= date.today().year + 1:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None
