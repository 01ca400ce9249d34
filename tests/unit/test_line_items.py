"""Line items from word geometry (service/fields/line_items.py): small layouts of the ways
receipts print items, the generated invoices (truth known), and three hand-labelled receipts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.invoices import invoices
from service.doctypes import get_document_type
from service.extract import extract
from service.fields import find_fields
from service.models import PageResult, Word
from service.options import Options
from service.settings import Settings
from service.startup import prepare_process

ROOT = Path(__file__).resolve().parents[2]
SROIE = ROOT.parent / "shared" / "datasets" / "sroie-dev"
CHAR, HEIGHT, GAP = 12, 24, 40


def page(rows: list[list[tuple[int, str]]]) -> PageResult:
    """A page of rows, each a list of (left, text) cells; a cell's words stand one space apart."""
    words = []
    for number, cells in enumerate(rows):
        top = 100 + number * GAP
        for left, text in cells:
            x = left
            for token in text.split():
                words.append(Word(token, 95.0, [x, top, x + CHAR * len(token), top + HEIGHT]))
                x += CHAR * (len(token) + 1)
    return PageResult(page=1, text="", confidence=95.0, width=1000, height=2000, source="ocr", words=words)


def items_of(rows: list[list[tuple[int, str]]], code: str = "receipt") -> list[dict] | None:
    fields, confidence, _ = find_fields(code, get_document_type(code).schema, [page(rows)])
    assert (confidence["line_items"] > 0) == (fields["line_items"] is not None)
    return fields["line_items"]


def item(description: str, quantity: float | None, unit_price: float | None, amount: float) -> dict:
    return {"description": description, "quantity": quantity, "unit_price": unit_price, "amount": amount}


HEAD = [[(50, "KEDAI MAJU SDN BHD")], [(50, "DATE: 05/01/2018")]]
TOTALS = [[(50, "TOTAL"), (700, "26.60")], [(50, "CASH"), (700, "50.00")]]


def test_names_on_their_rows_continue_on_the_lines_below_under_a_header():
    rows = [
        *HEAD,
        [(50, "Description"), (400, "Qty"), (500, "Price"), (650, "Amount")],
        [(50, "(T02) BRAISED PORK"), (400, "2.0"), (500, "7.00"), (650, "14.00")],
        [(50, "RICE WITH PEANUT")],
        [(50, "(V02) SOUR & SPICY"), (400, "1.0"), (500, "12.00"), (650, "12.00")],
        [(50, "MUSTARD")],
        *TOTALS,
    ]
    assert items_of(rows) == [
        item("(T02) BRAISED PORK RICE WITH PEANUT", 2, 7.0, 14.0),
        item("(V02) SOUR & SPICY MUSTARD", 1, 12.0, 12.0),
    ]


def test_names_above_a_row_of_barcode_and_numbers_without_stock_codes():
    rows = [
        *HEAD,
        [(50, "KILAT AUTO ECO WASH 1L")],
        [(50, "WA45 /2A - 12")],
        [(50, "9555916500133"), (400, "1 X"), (500, "3.11"), (650, "3.11")],
        [(50, "HANDKERCHIEF 2PCS")],
        [(50, "9090822"), (400, "2 X"), (500, "4.50"), (650, "9.00")],
        [(50, "ITEM(S) : 2"), (400, "QTY(S) : 3")],
        *TOTALS,
    ]
    assert items_of(rows) == [
        item("KILAT AUTO ECO WASH 1L", 1, 3.11, 3.11),
        item("HANDKERCHIEF 2PCS", 2, 4.5, 9.0),
    ]


def test_names_below_their_code_rows_when_the_first_row_has_none():
    rows = [
        *HEAD,
        [(50, "Item"), (400, "Qty"), (500, "S/Price"), (650, "Amount"), (760, "Tax")],
        [(50, "1627"), (400, "1"), (500, "4.45"), (650, "4.45"), (760, "SR")],
        [(50, 'WALL SCRAPER 3"')],
        [(50, "2167"), (400, "2"), (500, "50.88"), (650, "101.76"), (760, "SR")],
        [(50, "4.5KG RENDEROC PLUG")],
        [(50, "TOTAL QTY:"), (400, "3"), (650, "106.21")],
        *TOTALS,
    ]
    assert items_of(rows) == [
        item('WALL SCRAPER 3"', 1, 4.45, 4.45),
        item("4.5KG RENDEROC PLUG", 2, 50.88, 101.76),
    ]


def test_discount_lines_are_no_items_and_the_totals_end_them():
    rows = [
        *HEAD,
        [(50, "Description"), (650, "Amount")],
        [(50, "TOMBOW C/TAPE CX5N")],
        [(80, "2pc @ 9.89"), (650, "19.78 T")],
        [(50, "PU EXPANDING FILE-TS"), (650, "20.90 T")],
        [(60, "Member Discount"), (650, "-2.09")],
        [(50, "Total RM Incl. of GST"), (650, "38.59")],
        [(50, "SPARE KEY"), (650, "1.00")],
    ]
    assert items_of(rows) == [
        item("TOMBOW C/TAPE CX5N", 2, 9.89, 19.78),
        item("PU EXPANDING FILE-TS", None, None, 20.9),
    ]


def test_a_document_without_item_rows_has_null_line_items():
    assert items_of([*HEAD, [(50, "THANK YOU")], *TOTALS]) is None
    assert items_of([[(50, "Invoice No.: 12345")], [(50, "Total"), (700, "1.234,56 €")]], "invoice") is None


@pytest.fixture(scope="module")
def engines():
    return prepare_process(Settings())


def test_the_generated_invoices_items_from_their_text_layer(engines):
    made = invoices(16, scans=False)
    for truth, pdf, _ in made:
        fields = extract(pdf, Options(document_type_code="invoice"), engines).fields or {}
        assert fields["line_items"] == truth.line_items, (truth.stem, truth.language, truth.layout)


def test_a_scanned_invoices_items_on_tesseract(engines):
    truth, _, png = invoices(1)[0]
    fields = extract(png or b"", Options(document_type_code="invoice", engine="tesseract"), engines).fields
    found = [(item["description"], item["amount"]) for item in (fields or {})["line_items"]]
    assert found == [(item["description"], item["amount"]) for item in truth.line_items]


@pytest.mark.skipif(not (SROIE / "img").is_dir(), reason="the sroie-dev data set is not on this machine")
@pytest.mark.parametrize("stem", ["000", "072", "140"])
def test_hand_labelled_receipts_on_ppocr(engines, stem):
    labels = json.loads((ROOT / "fixtures" / "sroie_line_items.json").read_text(encoding="utf-8"))
    image = (SROIE / "img" / f"{stem}.jpg").read_bytes()
    fields = extract(image, Options(document_type_code="receipt", engine="ppocr"), engines).fields or {}
    found = [(item["description"].upper(), item["amount"]) for item in fields["line_items"]]
    assert found == [(item["description"], item["amount"]) for item in labels[stem]]
