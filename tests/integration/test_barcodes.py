"""Barcodes in the answer and payment QR codes as invoice fields: the core with the real
Tesseract, and Lector's own sync route."""

from __future__ import annotations

import zxingcpp

from fixtures.codes import GIROCODE, GIROCODE_FIELDS, coded_page, girocode_invoice_pdf, linear_image, qr_image
from fixtures.generate import INVOICE_FIELDS, INVOICE_LINES, encode
from service.engines import Engines
from service.extract import extract
from service.fields.payment_codes import CONFIDENCE
from service.options import Options
from service.settings import Settings

engines = Engines(Settings())


def test_a_scanned_invoice_answers_its_codes_and_its_girocodes_fields():
    qr, ean = qr_image(GIROCODE), linear_image("4006381333931", zxingcpp.BarcodeFormat.EAN13)
    code128 = linear_image("LECTOR-128", zxingcpp.BarcodeFormat.Code128)
    page = coded_page([(qr, (1700, 2700)), (ean, (200, 2800)), (code128, (200, 3150))], INVOICE_LINES)
    found = extract(encode(page, "PNG"), Options(document_type_code="invoice", engine="tesseract"), engines)
    (result,) = found.pages
    assert result.source == "ocr" and found.engine == "tesseract"
    assert [(code.format, code.text) for code in result.barcodes] == [
        ("QRCode", GIROCODE), ("EAN13", "4006381333931"), ("Code128", "LECTOR-128")
    ]  # fmt: skip
    left, top, right, bottom = result.barcodes[0].box
    assert 1700 <= left < right <= 1700 + qr.width and 2700 <= top < bottom <= 2700 + qr.height
    assert found.fields and found.field_confidence and found.field_evidence
    assert {name: found.fields[name] for name in GIROCODE_FIELDS} == GIROCODE_FIELDS
    assert found.fields["invoice_number"] == INVOICE_FIELDS["invoice_number"]  # the rules' fields stay
    assert found.field_confidence["iban"] == CONFIDENCE
    iban = found.field_evidence["iban"]
    assert iban.source == "qr" and iban.box == [left, top, right, bottom]


def test_the_sync_route_answers_a_text_layer_invoices_qr_code_and_its_fields(client):
    response = client.post(
        "/api/ocr/extract-text-from-file",
        files={"file": ("invoice.pdf", girocode_invoice_pdf(), "application/pdf")},
        data={"document_type_code": "invoice"},
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    (page,) = data["raw_response"]["pages"]
    assert page["source"] == "text-layer" and data["raw_response"]["engine"] == "text-layer"
    (code,) = page["barcodes"]
    assert code["format"] == "QRCode" and code["text"] == GIROCODE
    # Drawn at 420-540 x 640-760 points of the page: at 300 dpi, 1750-2250 x 2667-3167 pixels.
    left, top, right, bottom = code["box"]
    assert 1740 <= left < right <= 2260 and 2657 <= top < bottom <= 3177 and right - left > 400
    fields = data["fields"]
    assert {name: fields[name] for name in GIROCODE_FIELDS} == GIROCODE_FIELDS
    assert {name: fields[name] for name in INVOICE_FIELDS} == INVOICE_FIELDS
    evidence = data["field_evidence"]
    assert {name for name, found in evidence.items() if found.get("source") == "qr"} == set(GIROCODE_FIELDS)
    assert evidence["total"]["source"] == "ocr" and evidence["total"]["words"]  # read by the rules
    assert evidence["iban"] == {
        "confidence": CONFIDENCE, "page": 1, "box": code["box"], "source": "qr", "words": [],
        "polygon": [[left, top], [right, top], [right, bottom], [left, bottom]],
        "box_normalized": [round(left / page["width"], 4), round(top / page["height"], 4),
                           round(right / page["width"], 4), round(bottom / page["height"], 4)],
    }  # fmt: skip
    assert data["field_confidence"]["bic"] == CONFIDENCE and data["field_confidence"]["vendor_tax_id"] == 0
