"""Matching a model's fields back to the OCR words they came from (``service.fields.evidence``)."""

from __future__ import annotations

from service.fields.evidence import MAX_CONFIDENCE, UNMATCHED_CONFIDENCE, evidence_of
from service.models import PageResult, Word


def page(number: int, rows: list[str], confidence: float = 90.0) -> PageResult:
    """A 1000x1000 page whose rows of words stand 50 px apart, each word 100 px wide."""
    words = [
        Word(
            text=text,
            confidence=confidence,
            box=[20 + 110 * column, 50 * row, 120 + 110 * column, 50 * row + 30],
        )
        for row, line in enumerate(rows, start=1)
        for column, text in enumerate(line.split())
    ]
    return PageResult(page=number, text="\n".join(rows), confidence=confidence, width=1000, height=1000,
                      source="ocr", words=words)  # fmt: skip


PAGES = [
    page(1, ["ACME TRADING LTD", "Invoice No: INV-7", "Date: 05/03/2024"]),
    page(
        2,
        ["12 High Street,", "Springfield", "Total Due EUR 1,234.50", "Items 3", "BHDX BHD"],
        confidence=80.0,
    ),
]


def test_values_point_at_their_shortest_run_of_words():
    fields = {"vendor": "Acme trading ltd.", "number": "inv 7", "date": "2024-03-05", "total": 1234.5,
              "items": 3, "code": "BHD"}  # fmt: skip
    evidence, confidence, warnings = evidence_of(fields, PAGES)
    assert warnings == []
    assert evidence["vendor"].words == ["ACME", "TRADING", "LTD"] and evidence["vendor"].page == 1
    assert evidence["vendor"].box == [20, 50, 340, 80]
    assert evidence["vendor"].box_normalized == [0.02, 0.05, 0.34, 0.08]
    assert evidence["number"].words == ["INV-7"]
    assert evidence["date"].words == ["05/03/2024"]  # dd/mm/yyyy read as the ISO date
    assert evidence["total"].words == ["1,234.50"] and evidence["total"].page == 2  # a number as a number
    assert evidence["items"].words == ["3"]
    assert evidence["code"].words == ["BHD"]  # the word itself before the word that contains it
    assert confidence["vendor"] == 0.9 and confidence["total"] == 0.8


def test_a_value_may_run_on_over_the_next_lines_of_its_page():
    evidence, _, warnings = evidence_of({"address": "12 High Street, Springfield"}, PAGES)
    assert warnings == []
    assert evidence["address"].words == ["12", "High", "Street,", "Springfield"]
    assert evidence["address"].box == [20, 50, 340, 130]
    assert evidence["address"].polygon == [[20, 50], [340, 50], [340, 130], [20, 130]]


def test_a_value_the_text_does_not_hold_gets_a_warning_and_no_box():
    evidence, confidence, warnings = evidence_of({"total": 99.5, "vendor": "Globex"}, PAGES)
    assert warnings == [
        "The model's `total` (99.5) is not in the text it was given.",
        "The model's `vendor` (Globex) is not in the text it was given.",
    ]
    assert evidence["total"].box is None and evidence["total"].page is None and evidence["total"].words == []
    assert confidence == {"total": UNMATCHED_CONFIDENCE, "vendor": UNMATCHED_CONFIDENCE}


def test_null_fields_have_no_evidence_and_nested_ones_are_skipped():
    fields = {"tip": None, "line_items": [{"description": "Widget"}], "paid": True, "owner": {"name": "ACME"}}
    evidence, confidence, warnings = evidence_of(fields, PAGES)
    assert (evidence, confidence, warnings) == ({}, {"tip": 0.0}, [])


def test_confidence_is_capped_below_certainty():
    certain = [page(1, ["TOTAL 5.00"], confidence=100.0)]
    evidence, _, _ = evidence_of({"total": 5}, certain)
    assert evidence["total"].confidence == MAX_CONFIDENCE
