"""Payment QR codes: the EPC GiroCode and the Swiss QR-bill read into a payment, anything else
refused quietly, and a document's first payment code setting its invoice fields."""

from __future__ import annotations

import random

import pytest

from fixtures.codes import GIROCODE, GIROCODE_FIELDS, SWISS_QR_BILL
from service.doctypes import get_document_type
from service.fields.payment_codes import CONFIDENCE, Payment, overlay_payment, payment_of
from service.models import Barcode, FieldEvidence, PageResult

INVOICE_SCHEMA = get_document_type("invoice").schema
RECEIPT_SCHEMA = get_document_type("receipt").schema
GIRO_LINES = GIROCODE.split("\n")
SWISS_LINES = SWISS_QR_BILL.split("\r\n")


def giro(**changes: str) -> str:
    """GIROCODE with some of its lines (by index, as ``l4="..."``) replaced."""
    lines = list(GIRO_LINES)
    for key, value in changes.items():
        lines[int(key[1:])] = value
    return "\n".join(lines)


def swiss(**changes: str) -> str:
    lines = list(SWISS_LINES)
    for key, value in changes.items():
        lines[int(key[1:])] = value
    return "\r\n".join(lines)


def test_a_girocode_gives_its_payment():
    assert payment_of(GIROCODE) == Payment(
        "epc",
        "DE89370400440532013000",
        "Northwind Traders Ltd",
        "COBADEFFXXX",
        1440.0,
        "EUR",
        "RF18539007547034",
    )


def test_a_girocode_of_version_1_with_crlf_and_its_optional_lines_left_out():
    payload = "\r\n".join(["BCD", "001", "2", "SCT", "BPOTBEB1", "Red Cross", "BE72000000001616"])
    assert payment_of(payload) == Payment("epc", "BE72000000001616", "Red Cross", "BPOTBEB1", currency="EUR")


def test_a_line_feed_after_the_last_element_is_no_line():
    assert payment_of(GIROCODE + "\n") == payment_of(GIROCODE) is not None
    assert payment_of(SWISS_QR_BILL + "\r\n") == payment_of(SWISS_QR_BILL)


def test_a_girocode_without_a_reference_quotes_its_remittance_text():
    found = payment_of(giro(l9="", l10="Invoice 42"))
    assert found is not None and found.reference == "Invoice 42"


def test_a_swiss_qr_bill_gives_its_payment():
    assert payment_of(SWISS_QR_BILL) == Payment(
        "swiss",
        "CH4431999123000889012",
        "Robert Schneider AG",
        None,
        1949.75,
        "CHF",
        "210000000003139471430009017",
    )


def test_a_swiss_qr_bill_without_a_reference_or_an_amount_quotes_its_message():
    found = payment_of(swiss(l4="K", l18="", l19="EUR", l27="NON", l28=""))
    assert found == Payment("swiss", "CH4431999123000889012", "Robert Schneider AG", None, None, "EUR",
                            "Order of 15 June 2020")  # fmt: skip


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "BCD",
        "https://example.com/pay",
        giro(l6="DE89370400440532013001"),  # the IBAN's check digits fail
        giro(l1="003"),
        giro(l2="9"),
        giro(l3="XCT"),
        giro(l4="NOT A BIC"),
        "\n".join(["BCD", "001", "1", "SCT", "", "Name", "DE89370400440532013000"]),  # version 1 needs a BIC
        giro(l5=""),
        giro(l5="N" * 71),
        giro(l7="USD12.00"),
        giro(l7="EUR-5"),
        giro(l7="EUR0"),
        giro(l7="EUR1,440.00"),
        GIROCODE + "\nmore\nlines",
        "\n".join(GIRO_LINES[:6]),
        swiss(l30="END"),
        swiss(l1="0100"),
        swiss(l3="DE89370400440532013000"),  # a QR-bill pays into a Swiss or Liechtenstein account
        swiss(l4="X"),
        swiss(l5=""),
        swiss(l18="1949,75"),
        swiss(l19="USD"),
        swiss(l27="XYZ"),
        swiss(l27="NON"),  # no reference type, yet a reference
        swiss(l28=""),  # a QR reference type, and no reference
        "\r\n".join(SWISS_LINES[:-1]),
        "BCD\n" + "x" * 5000,
    ],
)
def test_a_malformed_code_is_refused_quietly(payload):
    assert payment_of(payload) is None


def test_no_mangled_payload_raises():
    chance = random.Random(7)
    for _ in range(2000):
        base = list(chance.choice([GIROCODE, SWISS_QR_BILL]))
        for _ in range(chance.randint(1, 4)):
            at = chance.randrange(len(base))
            base[at] = chance.choice(["", "\n", "\r", "\x00", "é", "9", "A", " ", "EUR", "-"])
        found = payment_of("".join(base))
        assert found is None or isinstance(found, Payment)


def page_with(*texts: str, number: int = 1) -> PageResult:
    codes = [Barcode(format="QRCode", text=text, box=[100, 200, 300, 400]) for text in texts]
    return PageResult(
        page=number, text="", confidence=90.0, width=1000, height=2000, source="ocr", barcodes=codes
    )


def test_the_first_payment_code_sets_the_fields_it_has_a_home_for():
    assert INVOICE_SCHEMA is not None
    fields = dict.fromkeys(INVOICE_SCHEMA["properties"]) | {"vendor_name": "Northwlnd", "total": 1500.0}
    confidence = dict.fromkeys(fields, 0.0) | {"vendor_name": 0.6, "total": 0.8}
    pages = [page_with("hello"), page_with("not a payment", GIROCODE, SWISS_QR_BILL, number=2)]
    found, sure, evidence = overlay_payment(INVOICE_SCHEMA, pages, fields, confidence, None)
    assert {name: found[name] for name in GIROCODE_FIELDS} == GIROCODE_FIELDS
    assert found["total"] == 1500.0 and sure is not None and sure["total"] == 0.8  # a total found stays
    assert evidence is not None and set(evidence) == set(GIROCODE_FIELDS)
    assert all(sure[name] == CONFIDENCE for name in GIROCODE_FIELDS)
    assert evidence["iban"] == FieldEvidence(
        confidence=CONFIDENCE, page=2, box=[100, 200, 300, 400],
        polygon=[[100, 200], [300, 200], [300, 400], [100, 400]],
        box_normalized=[0.1, 0.1, 0.3, 0.2], source="qr",
    )  # fmt: skip
    assert fields["vendor_name"] == "Northwlnd"  # the caller's dict is not changed


def test_a_payment_fills_a_total_nothing_found_and_keeps_other_evidence():
    assert INVOICE_SCHEMA is not None
    fields = dict.fromkeys(INVOICE_SCHEMA["properties"])
    kept = {"invoice_number": FieldEvidence(confidence=0.9, page=1, words=["INV-1"])}
    found, sure, evidence = overlay_payment(INVOICE_SCHEMA, [page_with(SWISS_QR_BILL)], fields, None, kept)
    assert found["total"] == found["amount_due"] == 1949.75 and found["currency"] == "CHF"
    assert found["bic"] is None and sure is None  # a vision model's fields have no confidence
    assert evidence is not None and evidence["invoice_number"] == kept["invoice_number"]
    assert evidence["total"].source == "qr"


def test_only_the_schemas_properties_are_set_and_nothing_without_a_payment_code():
    assert RECEIPT_SCHEMA is not None
    fields = dict.fromkeys(RECEIPT_SCHEMA["properties"])
    found, _, evidence = overlay_payment(RECEIPT_SCHEMA, [page_with(GIROCODE)], fields, {}, None)
    assert set(found) == set(fields) and found["currency"] == "EUR" and found["total"] == 1440.0
    assert evidence is not None and set(evidence) == {"currency", "total"}
    unchanged = overlay_payment(RECEIPT_SCHEMA, [page_with("4006381333931")], fields, {}, None)
    assert unchanged == (fields, {}, None)
