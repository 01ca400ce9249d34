"""The offline field rules: amounts, dates, lines, and field picking on small synthetic layouts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.doctypes import get_document_type
from service.fields import find_fields
from service.fields.amounts import find_amounts, parse_amount
from service.fields.dates import date_order, find_dates, parse_date
from service.fields.layout import lines_of
from service.models import PageResult, Word

CHAR, HEIGHT, GAP = 12, 24, 40


def page(rows: list[str | tuple[str, str]], *, tilt: float = 0.0, confidence: float = 90.0) -> PageResult:
    """A page whose words stand where ``rows`` put them: a string is one left-aligned line, a pair
    is a label at the left and a value at the right. ``tilt`` drops each word by that many pixels
    per pixel of x, like a photo taken at an angle."""
    words = []
    for number, row in enumerate(rows):
        top = 100 + number * GAP
        parts = [(row, 50)] if isinstance(row, str) else [(row[0], 50), (row[1], 700)]
        for text, left in parts:
            x = left
            for token in text.split():
                dy = round(x * tilt)
                words.append(Word(token, confidence, [x, top + dy, x + CHAR * len(token), top + dy + HEIGHT]))
                x += CHAR * (len(token) + 1)
    return PageResult(
        page=1, text="", confidence=confidence, width=1000, height=2000, source="ocr", words=words
    )


def receipt(rows, **kwargs):
    """(fields, confidence) of a receipt laid out as ``rows``, by the rules alone."""
    return find_fields("receipt", get_document_type("receipt").schema, [page(rows, **kwargs)], learned=False)[
        :2
    ]


def invoice(rows, **kwargs):
    """(fields, confidence) of an invoice laid out as ``rows``, by the rules alone."""
    return find_fields("invoice", get_document_type("invoice").schema, [page(rows, **kwargs)], learned=False)[
        :2
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("RM 9.00", "9.00"),
        ("RM9.00", "9.00"),
        ("$ 12", "12"),
        ("€12,50", "12.50"),
        ("1,234", "1234"),
        ("1.234.567", "1234567"),
        ("-0.02", "-0.02"),
        ("(3.00)", "-3.00"),
        ("9.00 MYR", "9.00"),
        ("49. 39", "49.39"),  # thermal print: the point read as a point and a space
        ("§5.10", "55.10"),  # a 5 read as §
    ],
)
def test_amounts_parse_as_numbers(text, value):
    assert parse_amount(text) == Decimal(value)


HUGE = ["1" * 40 + ".00", ",".join(["1", *["000"] * 9])]  # past what the cents arithmetic holds


@pytest.mark.parametrize("text", ["12/03/2018", "A123", "12:30", "total", "6%", "", *HUGE])
def test_things_that_are_not_amounts(text):
    assert parse_amount(text) is None


def test_amounts_in_a_line_carry_their_currency():
    assert find_amounts("TOTAL RM 11.66 CASH 50.00") == [(Decimal("11.66"), "MYR"), (Decimal("50.00"), None)]
    assert find_amounts("GST @ 6% 0.66") == [(Decimal("0.66"), None)]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("25/12/2018", date(2018, 12, 25)),
        ("18-11-18", date(2018, 11, 18)),
        ("2018-03-04", date(2018, 3, 4)),
        ("2018.03.04", date(2018, 3, 4)),
        ("20180304", date(2018, 3, 4)),
        ("25032018", date(2018, 3, 25)),
        ("03 MAR 2018", date(2018, 3, 3)),
        ("30 Dec 17", date(2017, 12, 30)),
        ("3-Mar-2018", date(2018, 3, 3)),
        ("March 13th, 2018", date(2018, 3, 13)),
        ("Mar 3, 2018", date(2018, 3, 3)),
        ("Date: 19/05/16 12:01:43 pm", date(2016, 5, 19)),
    ],
)
def test_dates_normalize(text, value):
    assert parse_date(text) == value


NOT_DATES = ["32/01/2018", "12/13/14/15", "Invoice 12345678", "TEL 03-5636 0199", "9018-04-06"]


@pytest.mark.parametrize("text", NOT_DATES)
def test_things_that_are_not_dates(text):
    assert parse_date(text) is None


def test_an_ambiguous_date_follows_the_order_it_is_given_and_says_so():
    (day_first,) = find_dates("03/04/2018", "dmy")
    (month_first,) = find_dates("03/04/2018", "mdy")
    assert (day_first.value, month_first.value) == (date(2018, 4, 3), date(2018, 3, 4))
    assert day_first.ambiguous and month_first.ambiguous
    assert not find_dates("25/04/2018", "mdy")[0].ambiguous


def test_the_documents_own_dates_decide_the_order():
    assert date_order(["Printed 03/04/2018", "Valid until 25/04/2018"]) == "dmy"
    assert date_order(["03/04/2018", "04/25/2018"]) == "mdy"
    assert date_order(["03/04/2018"]) is None
    assert date_order(["Price 6.60.00", "2018-04-25"]) is None  # not dates, and ISO says nothing


def test_words_become_lines_even_on_a_tilted_photo():
    rows = [("TOTAL", "11.66"), ("CASH", "50.00"), "THANK YOU"]
    for tilt in (0.0, 0.015, -0.015):  # up to 0.9°: the amount stands 10 px off its label's height
        lines = lines_of([page(rows, tilt=tilt)])
        assert [line.text for line in lines] == ["TOTAL 11.66", "CASH 50.00", "THANK YOU"]


SHOP = [
    "Kopi Logo",
    "KEDAI RUNCIT MAJU SDN BHD (123456-X)",
    "NO 5, JALAN BUNGA 2,",
    "43000 KAJANG, SELANGOR",
    "TEL: 03-8736 1234",
    "INVOICE NO: 88123",
    "DATE: 05/01/2018 14:05",
]


def test_a_receipt_total_is_the_labelled_total_not_subtotal_cash_or_change():
    fields, confidence = receipt(
        [
            *SHOP,
            ("ITEM A", "10.00"),
            ("SUB TOTAL", "10.00"),
            ("GST 6%", "0.60"),
            ("TOTAL QTY", "1"),
            ("TOTAL", "RM 10.60"),
            ("CASH", "50.00"),
            ("CHANGE", "39.40"),
            "GST SUMMARY",
            ("TOTAL", "10.00"),
        ]
    )
    assert fields["total"] == 10.60 and fields["subtotal"] == 10.00 and fields["tax"] == 0.60
    assert fields["merchant_name"] == "KEDAI RUNCIT MAJU SDN BHD"
    assert fields["merchant_address"] == "NO 5, JALAN BUNGA 2, 43000 KAJANG, SELANGOR"
    assert fields["merchant_phone"] == "03-8736 1234"
    assert fields["date"] == "2018-01-05" and fields["time"] == "14:05"
    assert fields["currency"] == "MYR"
    assert set(fields) == set(get_document_type("receipt").schema["properties"])
    assert all(0 <= value <= 1 for value in confidence.values())
    assert confidence["tip"] == 0.0 and fields["tip"] is None
    # Confirmed by subtotal + tax and by cash - change: surer than the merchant's first guess.
    assert confidence["total"] > 0.8


def test_a_cash_rounding_adjustment_is_applied_to_the_total_when_the_receipt_prints_it():
    fields, _ = receipt([*SHOP, ("TOTAL INCL GST", "22.91"), ("ROUNDING ADJ", "-0.01"), ("CASH", "22.90")])
    assert fields["total"] == 22.90
    fields, _ = receipt([*SHOP, ("TOTAL", "22.91"), ("ROUNDING ADJ", "-.01"), ("ROUNDING", "22.90")])
    assert fields["total"] == 22.90
    # The rounded amount printed nowhere: the total is the printed one (as SROIE's receipts have it).
    fields, _ = receipt([*SHOP, ("TOTAL INCL GST", "22.91"), ("ROUNDING ADJ", "-0.01"), ("CASH", "50.00")])
    assert fields["total"] == 22.91
    fields, _ = receipt([*SHOP, ("TOTAL", "22.91"), ("ROUNDING ADJ", "-0.01"), ("ROUNDED TOTAL", "22.90")])
    assert fields["total"] == 22.90


def test_a_total_whose_label_is_lost_is_found_from_cash_and_change():
    fields, confidence = receipt([*SHOP, ("T0TL", "8.50"), ("CASH", "10.00"), ("CHANGE", "1.50")])
    assert fields["total"] == 8.50 and confidence["total"] <= 0.5


def test_a_receipt_date_order_comes_from_its_other_dates_and_a_guess_costs_confidence():
    shown, shown_confidence = receipt([*SHOP[:-1], "DATE: 05/01/2018", "VALID UNTIL 25/01/2018"])
    guessed, guessed_confidence = receipt([*SHOP[:-1], "DATE: 05/01/2018"])
    assert shown["date"] == guessed["date"] == "2018-01-05"
    assert guessed_confidence["date"] < shown_confidence["date"]
    american, _ = receipt([*SHOP[:-1], "DATE: 05/01/2018", ("TOTAL", "USD 5.00")])
    assert american["date"] == "2018-05-01"


def test_a_name_without_a_company_form_is_the_first_line_of_words_less_surely():
    rows = ["THE COFFEE CORNER", "12 MAIN STREET", "SPRINGFIELD 12345", ("TOTAL", "4.50")]
    fields, confidence = receipt(rows)
    assert fields["merchant_name"] == "THE COFFEE CORNER"
    assert fields["merchant_address"] == "12 MAIN STREET SPRINGFIELD 12345"
    _, formal_confidence = receipt(SHOP)
    assert confidence["merchant_name"] < formal_confidence["merchant_name"]


def test_smudges_above_the_name_are_skipped():
    rows = page(SHOP)
    for word in rows.words[:2]:  # the logo's words, barely legible
        word.confidence = 20.0
    fields = find_fields("receipt", get_document_type("receipt").schema, [rows], learned=False).values
    assert fields["merchant_name"] == "KEDAI RUNCIT MAJU SDN BHD"


def test_an_invoice_is_read_from_its_labels():
    fields, confidence = invoice(
        [
            "ACME WIDGETS GMBH",
            "Hauptstrasse 1, 10115 Berlin",
            "INVOICE",
            ("Invoice No:", "RE-2024-117"),
            ("Invoice Date:", "12/03/2024"),
            ("Due Date:", "11/04/2024"),
            ("PO Number:", "PO-7781"),
            ("Widgets", "1.000,00"),
            ("Subtotal", "EUR 1.000,00"),
            ("VAT 19%", "EUR 190,00"),
            ("Total", "EUR 1.190,00"),
            ("Amount due", "EUR 1.190,00"),
            "Payment terms: Net 30",
            "IBAN: DE89 3704 0044 0532 0130 00",
        ]
    )
    assert fields["invoice_number"] == "RE-2024-117"
    assert fields["invoice_date"] == "2024-03-12" and fields["due_date"] == "2024-04-11"
    assert fields["purchase_order"] == "PO-7781"
    assert fields["vendor_name"] == "ACME WIDGETS GMBH"
    assert fields["currency"] == "EUR"
    amounts = (fields["subtotal"], fields["tax"], fields["total"], fields["amount_due"])
    assert amounts == (1000.0, 190.0, 1190.0, 1190.0)
    assert fields["payment_terms"] == "Net 30"
    assert fields["iban"] == "DE89370400440532013000"
    assert confidence["customer_name"] == 0.0 and fields["customer_name"] is None


def test_an_invoice_label_above_its_value_and_month_names():
    fields, _ = invoice(["Globex LLC", "Invoice Number", "A-5521", "Date: 7 January 2025", "Due: Feb 6, 2025",
                         "Total", "$ 12"])  # fmt: skip
    assert fields["invoice_number"] == "A-5521"
    assert (fields["invoice_date"], fields["due_date"]) == ("2025-01-07", "2025-02-06")
    assert fields["vendor_name"] == "Globex LLC" and fields["total"] == 12.0 and fields["currency"] == "USD"


def test_a_huge_number_after_a_total_label_is_not_a_total():
    fields, confidence = receipt([("TOTAL", "1" * 40 + ".00")])
    assert fields["total"] is None and confidence["total"] == 0.0


def test_a_type_without_rules_answers_nulls():
    schema = {"properties": {"passport_number": {"type": ["string", "null"]}}}
    assert find_fields("passport", schema, [page(["P<UTOERIKSSON<<ANNA"])]) == (
        {"passport_number": None},
        {"passport_number": 0.0},
        {},
    )


@pytest.mark.parametrize(
    ("head", "name", "address"),
    [
        # A registration line and a heading between the name and the address are passed over.
        (
            [
                "MR. D.I.Y. SDN BHD",
                "(CO.REG :704427-T)",
                "TAX INVOICE",
                "LOT 18, JALAN KPB 6,",
                "43300 SERI KEMBANGAN",
            ],
            "MR. D.I.Y. SDN BHD",
            "LOT 18, JALAN KPB 6, 43300 SERI KEMBANGAN",
        ),
        # A branch's name above the street is not address; the phone after the postcode ends it.
        (
            ["IKEA SDN BHD", "IKEA Cheras", "No 2A Jalan Cochrane", "55100 Kuala Lumpur Tel: 03-1234 5678"],
            "IKEA SDN BHD",
            "No 2A Jalan Cochrane 55100 Kuala Lumpur",
        ),
        # The shop's own name heads the receipt; the owning company is printed below its address.
        (
            [
                "SANYU STATIONERY SHOP",
                "NO. 31G, JALAN SETIA INDAH",
                "40170 SETIA ALAM",
                "Mobile: 012-918 7937",
                "SANYU SUPPLY SDN BHD",
            ],
            "SANYU SUPPLY SDN BHD",
            "NO. 31G, JALAN SETIA INDAH 40170 SETIA ALAM",
        ),
        # Misread company forms.
        (["EDEN IMPRESSIONSDN BHD", "Lot 20, Level UG1"], "EDEN IMPRESSION SDN BHD", "Lot 20, Level UG1"),
        (
            ["99 SPEED MART 5/B (519537-X)", "LOT 2811, JALAN ANGSA"],
            "99 SPEED MART S/B",
            "LOT 2811, JALAN ANGSA",
        ),
        (
            ["HOME MASTER HARDWARE &", "ELECTRICAL", "NO.113G, JALAN SETIA"],
            "HOME MASTER HARDWARE & ELECTRICAL",
            "NO.113G, JALAN SETIA",
        ),
    ],
)
def test_merchant_and_address_from_the_head_of_a_receipt(head, name, address):
    fields, _ = receipt([*head, "DATE: 05/01/2018", ("TOTAL", "9.00")])
    assert (fields["merchant_name"], fields["merchant_address"]) == (name, address)


@pytest.mark.parametrize(
    ("rows", "total"),
    [
        ([("GRAND TOTAL", "10 00"), ("CASH", "20.00"), ("CHANGE DUE", "10.00")], 10.00),  # the point lost
        ([("TOTAL", "4 8 . 0 0"), ("CASH", "48.00")], 48.00),  # spaced out
        ([("Due", "25.15"), ("Change", "0.00"), ("(Total Included GST 6% :", "1.42)")], 25.15),
        (
            [("TOTAL", "11.60"), ("Total GST", "0.66"), "Tax Code % Amount GST", ("Total :", "10.94 0.66")],
            11.60,
        ),
        (
            [
                ("Total Sales Incl. GST", "48.93"),
                ("Rounding Adjustment", "0.02"),
                ("Total After Rounding", "48.95"),
            ],
            48.95,
        ),
    ],
)
def test_totals_the_ocr_split_or_labelled_otherwise(rows, total):
    fields, _ = receipt([*SHOP, *rows])
    assert fields["total"] == total


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("7. Mai 2014", "2014-05-07"),
        ("19 april 2014", "2014-04-19"),
        ("02 Juillet 2015", "2015-07-02"),
        ("5 de marzo de 2024", "2024-03-05"),
        ("3 października 2019", "2019-10-03"),
        ("1er janvier 2020", "2020-01-01"),
        ("06 Marzo 2018", "2018-03-06"),
    ],
)
def test_month_names_in_the_languages_of_invoices(text, value):
    assert str(parse_date(text)) == value


@pytest.mark.parametrize(
    ("text", "value", "code"),
    [("€ 2.321,00", "2321.00", "EUR"), ("Rs 1939", "1939", "INR"), ("2.321,00 zł", "2321.00", "PLN")],
)
def test_amounts_with_the_currencies_of_invoices(text, value, code):
    assert find_amounts(text) == [(Decimal(value), code)]
