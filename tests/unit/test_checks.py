"""The arithmetic checks of a document's amounts."""

from __future__ import annotations

from service.fields.checks import MAX_ITEMS, checks
from service.models import Check


def test_subtotal_and_tax_make_the_total():
    assert checks({"subtotal": 12.0, "tax": 0.72, "total": 12.72}) == [
        Check("total", True, "subtotal 12.00 + tax 0.72 = 12.72 = total 12.72.")
    ]


def test_cash_rounding_is_allowed_and_said():
    (check,) = checks({"subtotal": 22.91, "tax": None, "total": 22.9})
    assert check.ok and check.detail.endswith("≈ total 22.90 after cash rounding.")


def test_a_total_that_does_not_add_up_says_by_how_much():
    (check,) = checks({"subtotal": 10.0, "tax": 0.6, "tip": 2.0, "total": 11.6})
    assert not check.ok
    assert check.detail == "subtotal 10.00 + tax 0.60 + tip 2.00 = 12.60 ≠ total 11.60."


def test_no_subtotal_no_total_check():
    assert checks({"total": 9.0, "tax": 0.5}) == []


def test_line_items_add_up_and_multiply_out():
    items = [
        {"description": "TEA", "quantity": 2, "unit_price": 1.5, "amount": 3.0},
        {"description": "BUN", "quantity": 1, "unit_price": 2.0, "amount": 2.0},
    ]
    found = {check.name: check for check in checks({"subtotal": 5.0, "total": 5.0, "line_items": items})}
    assert found["line_items_sum"].ok and found["line_items_sum"].detail.startswith(
        "item 1 3.00 + item 2 2.00"
    )
    assert found["line_amounts"] == Check(
        "line_amounts", True, "quantity × unit price = amount on all 2 items that print them."
    )


def test_an_item_that_does_not_multiply_out_is_named():
    items = [{"description": "TEA", "quantity": 3, "unit_price": 1.5, "amount": 3.0}]
    found = {check.name: check for check in checks({"total": 4.0, "line_items": items})}
    assert not found["line_items_sum"].ok  # to the total, as there is no subtotal
    assert found["line_amounts"].detail == "1 of 1 items do not multiply out; item 1: 3 × 1.50 = 4.50 ≠ 3.00."


def test_odd_values_are_passed_over_and_items_are_bounded():
    odd = {"subtotal": "12.00", "total": True, "line_items": ["x", {"amount": float("nan")}]}
    assert checks(odd) == []
    many = [{"amount": 1.0} for _ in range(MAX_ITEMS + 100)]
    (check,) = checks({"total": float(MAX_ITEMS), "line_items": many})
    assert check.ok and check.detail.count("+") == 6  # the first six parts shown, then "..."
