"""The field chooser: candidates, the shipped model, and the evidence of what it chose."""

from __future__ import annotations

import time

from service.doctypes import get_document_type
from service.fields import find_fields
from service.fields.candidates import MAX_LINES, Document, amounts, dates
from service.fields.chooser import FIELDS, models
from service.fields.layout import lines_of
from tests.unit.test_fields import page

RECEIPT = [
    "KEDAI BUKU CAHAYA SDN BHD",
    "(Co. No. 113825-W)",
    "NO. 12, JALAN SAGU 18, TAMAN DAYA,",
    "81100 JOHOR BAHRU, JOHOR.",
    "TEL: 07-355 1234",
    "TAX INVOICE",
    ("DATE: 25/12/2018", "10:30"),
    ("PEN 2 X 3.00", "6.00"),
    ("BOOK 1 X 6.00", "6.00"),
    ("SUBTOTAL", "12.00"),
    ("GST 6%", "0.72"),
    ("TOTAL", "12.72"),
    ("CASH", "20.00"),
    ("CHANGE", "7.28"),
]
SCHEMA = get_document_type("receipt").schema or {}


def test_every_field_the_chooser_picks_has_a_shipped_model():
    shipped = models()
    for code, fields in FIELDS.items():
        for name in fields:
            model = shipped[f"{code}.{name}"]
            assert len(model.features) == len(model.coefficients) == len(model.mean) == len(model.scale)
            assert 0 < model.threshold < 1


def test_a_receipt_is_chosen_with_its_evidence_and_its_checks_add_up():
    receipt = page(RECEIPT)
    fields, confidence, evidence = find_fields("receipt", SCHEMA, [receipt])
    assert fields["total"] == 12.72 and fields["date"] == "2018-12-25"
    assert fields["merchant_name"] == "KEDAI BUKU CAHAYA SDN BHD"
    assert fields["merchant_address"] == "NO. 12, JALAN SAGU 18, TAMAN DAYA, 81100 JOHOR BAHRU, JOHOR."
    total = evidence["total"]
    (word,) = [word for word in receipt.words if word.text == "12.72"]
    assert (total.page, total.words, total.box) == (1, ["12.72"], word.box)
    assert total.confidence == confidence["total"] and 0.5 < total.confidence <= 1
    assert total.box_normalized == [round(word.box[0] / 1000, 4), round(word.box[1] / 2000, 4),
                                    round(word.box[2] / 1000, 4), round(word.box[3] / 2000, 4)]  # fmt: skip
    assert evidence["merchant_name"].words == ["KEDAI", "BUKU", "CAHAYA", "SDN", "BHD"]
    assert "merchant_phone" in evidence and evidence["merchant_phone"].words == ["07-355", "1234"]


def test_a_receipt_without_amounts_has_no_total():
    fields, confidence, evidence = find_fields("receipt", SCHEMA, [page(RECEIPT[:7])])
    assert fields["total"] is None and confidence["total"] == 0.0 and "total" not in evidence


def test_a_date_glued_to_its_time_is_a_candidate():
    lines = lines_of([page(["SHOP SDN BHD", "DATE:25/12/201810:30:12", ("TOTAL", "9.00")])])
    found = dates(Document.of(lines, {}))
    assert [(candidate.value, candidate.features["glued"]) for candidate in found] == [("2018-12-25", 1.0)]


def test_candidates_are_bounded_on_a_page_of_noise():
    noise = page([("TOTAL", f"{number}.00") for number in range(3000)])
    started = time.perf_counter()
    found = amounts(Document.of(lines_of([noise]), {}))
    assert len({candidate.line for candidate in found}) == MAX_LINES
    fields, _, _ = find_fields("receipt", SCHEMA, [noise])
    assert time.perf_counter() - started < 20
    assert fields["total"] is not None
