"""Barcodes on a page: read by zxing-cpp, boxed in the page's pixels, at most MAX_BARCODES."""

from __future__ import annotations

import pymupdf
import pytest
import zxingcpp

from fixtures.codes import GIROCODE, coded_page, girocode_invoice_pdf, linear_image, many_codes_page, qr_image
from fixtures.generate import PAGES, text_pdf
from service.barcodes import CODE_DPI, read_barcodes
from service.models import MAX_BARCODES
from service.pages import PdfDocument

#: Where each code is pasted on the page (300 dpi A4), and its size.
QR_AT, EAN_AT, CODE128_AT = (1700, 2700), (200, 2800), (200, 3150)


@pytest.fixture(scope="module")
def page():
    codes = [
        (qr_image(GIROCODE), QR_AT),
        (linear_image("4006381333931", zxingcpp.BarcodeFormat.EAN13), EAN_AT),
        (linear_image("LECTOR-128", zxingcpp.BarcodeFormat.Code128), CODE128_AT),
    ]
    return coded_page(codes), {
        kind: (where, image.size)
        for kind, (image, where) in zip(("QRCode", "EAN13", "Code128"), codes, strict=True)
    }


def near(box: list[int], where: tuple[int, int], size: tuple[int, int]) -> bool:
    """Whether ``box`` lies inside the pasted code (its quiet zone included), at most 12 pixels
    off at each edge it can reach (a linear code's box is its bars, without their quiet zone)."""
    left, top = where
    right, bottom = left + size[0], top + size[1]
    return left - 12 <= box[0] < box[2] <= right + 12 and top - 12 <= box[1] < box[3] <= bottom + 12


def test_every_code_on_a_page_is_read_with_its_box(page):
    image, placed = page
    codes = read_barcodes(image)
    assert [(code.format, code.text) for code in codes] == [
        ("QRCode", GIROCODE), ("EAN13", "4006381333931"), ("Code128", "LECTOR-128")
    ]  # fmt: skip
    for code in codes:
        assert near(code.box, *placed[code.format]), (code.format, code.box, placed[code.format])
        # The code's own squares or bars are found, not a sliver of them.
        assert code.box[2] - code.box[0] > placed[code.format][1][0] / 2


def test_boxes_are_scaled_into_the_pages_pixels(page):
    image, _ = page
    half = image.reduce(2)
    scaled, full = read_barcodes(half, scale=2.0), read_barcodes(image)
    assert [code.text for code in scaled] == [code.text for code in full]
    for small, large in zip(scaled, full, strict=True):
        assert small.box == pytest.approx(large.box, abs=8)


def test_a_page_of_hundreds_of_codes_answers_at_most_the_bound():
    crowded = read_barcodes(many_codes_page(200, scale=4))
    assert len(crowded) == MAX_BARCODES
    assert len({code.text for code in crowded}) == MAX_BARCODES  # each its own code, in page order
    assert [code.box[1] for code in crowded] == sorted(code.box[1] for code in crowded)


def test_a_text_layer_page_is_drawn_for_codes_only_when_it_draws_more_than_text():
    with PdfDocument(text_pdf([PAGES[0]]).tobytes()) as plain:
        assert plain.code_raster(1, CODE_DPI) is None
    ruled = text_pdf([PAGES[0]])
    ruled[0].draw_line(pymupdf.Point(60, 300), pymupdf.Point(500, 300))
    with PdfDocument(ruled.tobytes()) as document:
        drawn = document.code_raster(1, CODE_DPI)
        assert drawn is not None and drawn.width == 1240 and not read_barcodes(drawn)
    with PdfDocument(girocode_invoice_pdf()) as invoice:
        drawn = invoice.code_raster(1, CODE_DPI)
        assert drawn is not None
        assert [code.text for code in read_barcodes(drawn)] == [GIROCODE]
