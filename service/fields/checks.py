"""Checks that a typed document's amounts add up, whoever read them (rules, chooser or a model).

- ``total``: subtotal + tax (+ tip) = total, to the cent or within cash rounding;
- ``line_items_sum``: the line items' amounts add up to the subtotal (or, with no subtotal, to
  the total);
- ``line_amounts``: each line item's quantity × unit price = its amount.

A check is made only when the fields it needs are there: a document with no subtotal has no
``total`` check, rather than a failed one.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from service.models import Check

#: The most cash rounding may move a total: to the nearest 0.05 (Malaysia, Switzerland...).
ROUNDING = Decimal("0.05")
#: At most this many line items are checked (a schema's own type may answer thousands).
MAX_ITEMS = 500


def checks(fields: dict[str, Any]) -> list[Check]:
    """The checks ``fields`` (a receipt's, an invoice's or an own type's with these names) allow."""
    found = []
    total, subtotal = _amount(fields.get("total")), _amount(fields.get("subtotal"))
    if total is not None and subtotal is not None:
        parts = [("subtotal", subtotal)] + [
            (name, value) for name in ("tax", "tip") if (value := _amount(fields.get(name))) is not None
        ]
        found.append(_adds_up("total", parts, total, "total"))
    items = fields.get("line_items")
    if isinstance(items, list) and items:
        items = [item for item in items[:MAX_ITEMS] if isinstance(item, dict)]
        amounts = [_amount(item.get("amount")) for item in items]
        target = ("subtotal", subtotal) if subtotal is not None else ("total", total)
        if target[1] is not None and all(amount is not None for amount in amounts):
            parts = [
                (f"item {number}", amount)
                for number, amount in enumerate(amounts, start=1)
                if amount is not None
            ]
            found.append(_adds_up("line_items_sum", parts, target[1], target[0], exact=True))
        lines = _line_amounts(items)
        if lines is not None:
            found.append(lines)
    return found


def _adds_up(
    name: str, parts: list[tuple[str, Decimal]], expected: Decimal, expected_name: str, *, exact: bool = False
) -> Check:
    summed = sum((value for _, value in parts), Decimal(0))
    difference = abs(summed - expected)
    ok = difference == 0 or (not exact and difference <= ROUNDING)
    shown = " + ".join(f"{label} {value:.2f}" for label, value in parts[:6]) + (
        " + ..." if len(parts) > 6 else ""
    )
    relation = "=" if difference == 0 else "≈" if ok else "≠"
    rounded = " after cash rounding" if ok and difference else ""
    return Check(name, ok, f"{shown} = {summed:.2f} {relation} {expected_name} {expected:.2f}{rounded}.")


def _line_amounts(items: list[dict[str, Any]]) -> Check | None:
    """quantity × unit price = amount on every item that prints all three; None when none does."""
    checked = wrong = 0
    first_wrong = ""
    for number, item in enumerate(items, start=1):
        quantity, price, amount = (_amount(item.get(key)) for key in ("quantity", "unit_price", "amount"))
        if quantity is None or price is None or amount is None:
            continue
        checked += 1
        if abs(quantity * price - amount) > Decimal("0.01"):
            wrong += 1
            product = f"{quantity.normalize():f} × {price:.2f} = {quantity * price:.2f}"
            first_wrong = first_wrong or f"item {number}: {product} ≠ {amount:.2f}"
    if not checked:
        return None
    if not wrong:
        return Check(
            "line_amounts", True, f"quantity × unit price = amount on all {checked} items that print them."
        )
    return Check("line_amounts", False, f"{wrong} of {checked} items do not multiply out; {first_wrong}.")


def _amount(value: Any) -> Decimal | None:
    """A number of the answer to the cent; None for anything else (text, a flag, nan, inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:  # beyond Decimal's precision
        return None
