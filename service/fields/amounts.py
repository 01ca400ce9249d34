"""Money amounts as printed ("1,234.56", "1.234,56", "RM 9.00", "$ 12", "-0.02") and currencies.

Amounts are ``Decimal`` so that sums cross-check exactly; callers turn them into numbers for the
wire at the end.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

#: Symbols and prefixes that name a currency, upper-cased, with their ISO 4217 code. "$" alone is
#: the US dollar: the document may say otherwise with an explicit code, which wins.
CURRENCY_MARKS = {
    "RM": "MYR",
    "MYR": "MYR",
    "$": "USD",
    "US$": "USD",
    "USD": "USD",
    "€": "EUR",
    "EUR": "EUR",
    "£": "GBP",
    "GBP": "GBP",
    "S$": "SGD",
    "SGD": "SGD",
    "A$": "AUD",
    "AUD": "AUD",
    "C$": "CAD",
    "CAD": "CAD",
    "CHF": "CHF",
    "¥": "JPY",
    "JPY": "JPY",
    "₹": "INR",
    "INR": "INR",
    "RP": "IDR",
    "IDR": "IDR",
    "RS": "INR",
    "RS.": "INR",
    "ZŁ": "PLN",
    "PLN": "PLN",
    "R$": "BRL",
    "BRL": "BRL",
}

_MARK = "|".join(re.escape(mark) for mark in sorted(CURRENCY_MARKS, key=len, reverse=True))

# A number with optional sign, currency mark before or after, thousands groups with ",", "." or
# an apostrophe, and a decimal part of one to two digits (or cents alone: ".02"). Digits must
# stand alone: "12/03/2018", "A123", "12:30" and "6%" are not amounts, nor is a run of more
# than 15 digits (an account number, or a text layer's filler), which would also overflow the
# cents arithmetic.
_AMOUNT = re.compile(
    rf"""(?<![\w/.,:-])
    (?P<sign>[-(])?\s?
    (?P<pre>{_MARK})?\s?
    (?P<sign2>-)?
    (?P<number>\d{{1,3}}(?:[,.'’]\d{{3}}){{1,4}}(?:[.,]\d{{1,2}})?|\d{{1,15}}(?:[.,]\d{{1,2}})?|\.\d{{2}})
    (?![\w/:%]|[.,]\d|\s?%)
    \)?\s?(?P<post>{_MARK})?""",
    re.VERBOSE | re.IGNORECASE,
)


_STANDALONE_MARK = re.compile(rf"(?<![A-Z0-9])({_MARK})(?![A-Z])")


def parse_amount(text: str) -> Decimal | None:
    """The amount ``text`` holds as a whole, or None: "1.234,56" → 1234.56, "RM 9.00" → 9.00.

    One or two digits after the last separator are the decimals. Three digits after it make it a
    thousands separator when it is a comma or an apostrophe ("1,234") or repeats ("1.234.567");
    a single point before three digits stays a decimal point ("0.434" kg).
    """
    match = _AMOUNT.fullmatch(unsmudge(text.strip()))
    return _value(match) if match else None


def find_amounts(text: str) -> list[tuple[Decimal, str | None]]:
    """Every amount in a line of text, left to right, with the currency code marked beside it."""
    found = []
    for match in _AMOUNT.finditer(unsmudge(text)):
        value = _value(match)
        if value is not None:
            mark = (match["pre"] or match["post"] or "").upper()
            found.append((value, CURRENCY_MARKS.get(mark)))
    return found


def unsmudge(text: str) -> str:
    """Undo the OCR's usual slips inside numbers: "49. 39" → "49.39", "§5.10" → "55.10", "1O.00" → "10.00".

    Thermal print's small decimal point often reads as a space after it, a 5 as "§", and an
    O or o between digits is a zero.
    """
    text = re.sub(r"(\d)([.,]) (\d{2})(?!\d)", r"\1\2\3", text)
    text = re.sub(r"§(?=[\d.,])", "5", text)
    return re.sub(r"(?<=\d)[Oo](?=[\d.,])|(?<=\d[.,])[Oo]|(?<=\d[.,]\d)[Oo]", "0", text)


def has_decimals(text: str) -> bool:
    """Whether an amount is printed with cents (receipts print totals so; counts have none)."""
    return bool(re.search(r"\d[.,]\d{2}(?!\d)", text))


def _value(match: re.Match[str]) -> Decimal | None:
    number = match["number"]
    separators = [char for char in number if char in ",.'’"]
    if separators:
        last = max(number.rfind(char) for char in ",.'’")
        decimals = len(number) - last - 1
        if decimals == 3 and len(set(separators)) == 1 and number[last] in ",'’":
            number = number.replace(number[last], "")  # "1,234": a thousands group
        elif decimals == 3 and len(separators) > 1 and len(set(separators)) == 1:
            number = number.replace(number[last], "")  # "1.234.567"
        else:
            whole = re.sub(r"[,.'’]", "", number[:last])
            number = f"{whole}.{number[last + 1 :]}"
    try:
        value = Decimal(number)
    except InvalidOperation:  # pragma: no cover - the pattern admits digits only
        return None
    negative = match["sign"] or match["sign2"]
    return -value if negative else value


def currency_of(text: str) -> str | None:
    """The ISO code of the first currency mark in ``text`` that stands as a word, or None."""
    match = _STANDALONE_MARK.search(text.upper())
    return CURRENCY_MARKS[match[1]] if match else None
