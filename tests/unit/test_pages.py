import time

import pytest
from PIL import Image

from fixtures import generate
from service.errors import (
    CorruptDocument,
    DecompressionBomb,
    EncryptedDocument,
    InvalidOption,
    TooManyPages,
    UnsupportedFormat,
)
from service.pages import MAX_PAGE_PIXELS, _capped_dpi, open_document, select_pages, sniff


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("page.png", "PNG"),
        ("page.jpg", "JPEG"),
        ("page.gif", "GIF"),
        ("page.bmp", "BMP"),
        ("page.webp", "WEBP"),
        ("page.tif", "TIFF"),
        ("scanned.pdf", "PDF"),
        ("encrypted.pdf", "PDF"),
    ],
)
def test_formats_are_sniffed_from_bytes(docs, name, kind):
    assert sniff(docs[name].read_bytes()) == kind


def test_a_pdf_header_after_leading_junk_is_found():
    assert sniff(b"\r\n\x00junk" + b"%PDF-1.7\n") == "PDF"


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (b"", "an empty file"),
        (b"PK\x03\x04rest", "a ZIP archive"),
        (b"\x00\x00\x00\x18ftyphevc", "an image sequence (HEIC or AVIF)"),
        (b"<?xml version='1.0'?><note/>", "an XML document"),
        (b"Dear customer, your invoice", "plain text"),
        (generate.random_bytes(), "unrecognised binary data"),
    ],
)
def test_unsupported_formats_say_what_was_detected(data, named):
    with pytest.raises(UnsupportedFormat) as caught:
        sniff(data)
    assert named in caught.value.message
    assert (
        "Send an image or drawing (PNG, JPEG, GIF, BMP, WEBP, TIFF, HEIF, AVIF, ICO, SVG, PSD, EPS), a PDF, "
        in (caught.value.message)
    )
    assert (
        "audio (MP3, WAV, M4A, AAC, OGG, OPUS, FLAC) or video (MP4, MOV, MKV, WEBM, AVI)."
        in caught.value.message
    )


@pytest.mark.parametrize(
    ("spec", "count", "expected"),
    [
        (None, 3, [1, 2, 3]),
        ("", 2, [1, 2]),
        ("1-3,5", 6, [1, 2, 3, 5]),
        ("5,1-2,2", 5, [1, 2, 5]),
        ("2-", 4, [2, 3, 4]),
        (" 3 ", 3, [3]),
    ],
)
def test_page_selection(spec, count, expected):
    assert select_pages(spec, count, 500) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("1-x", "Invalid page selection"),
        ("0", "pages count from 1"),
        ("4-2", "start before end"),
        ("7", "Page 7 does not exist: the document has 5 pages."),
        ("2-999999999", "Page 999999999 does not exist"),
    ],
)
def test_bad_page_selections_are_refused(spec, message):
    with pytest.raises(InvalidOption) as caught:
        select_pages(spec, 5, 500)
    assert message in caught.value.message


def test_a_huge_selection_costs_no_more_than_the_limit():
    # Finding 4: "1-," repeated expanded every range before the limit was checked (96 s of CPU).
    started = time.perf_counter()
    with pytest.raises(InvalidOption) as caught:
        select_pages("1-," * 200_000, 10_000, 500)
    assert "at most 200 pages or ranges" in caught.value.message
    assert len(caught.value.message) < 200  # the selection is never echoed whole
    with pytest.raises(TooManyPages) as too_many:
        select_pages(",".join(["1-"] * 150), 10_000_000, 500)
    assert too_many.value.count == 10_000_000
    assert time.perf_counter() - started < 0.5


def test_overlapping_ranges_are_counted_once():
    assert select_pages("1-400,200-500", 1000, 500) == list(range(1, 501))
    with pytest.raises(TooManyPages):
        select_pages("1-400,200-501", 1000, 500)


def test_a_decompression_bomb_is_refused_from_its_header_quickly(docs):
    started = time.perf_counter()
    with pytest.raises(DecompressionBomb) as caught:
        open_document(docs["bomb.png"].read_bytes())
    assert time.perf_counter() - started < 1.0
    assert "decompression bomb" in caught.value.message


def test_an_image_just_over_the_cap_is_refused_before_decoding():
    side = int(MAX_PAGE_PIXELS**0.5) + 10
    data = generate.decompression_bomb(side)
    with pytest.raises(DecompressionBomb):
        open_document(data)


def test_a_truncated_png_is_corrupt(docs):
    with (
        pytest.raises(CorruptDocument) as caught,
        open_document(docs["truncated.png"].read_bytes()) as document,
    ):
        list(document.pages([1], dpi=300))
    assert caught.value.message == "The PNG image is corrupt or truncated."


def test_a_pdf_that_is_only_a_header_is_corrupt():
    with pytest.raises(CorruptDocument):
        open_document(b"%PDF-1.7\n% nothing else")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (generate.lying_count_pdf(10_000), "its page tree declares a page count the file cannot hold"),
        (generate.lying_count_pdf(2_000_000_000), "its page tree declares a page count the file cannot hold"),
        (generate.lying_count_pdf(3), "its page tree declares 3 pages but holds 1"),
        (generate.cyclic_pdf(), "its page tree loops on itself"),
    ],
    ids=["count-10000", "count-2e9", "count-3", "cycle"],
)
def test_a_pdf_whose_page_tree_lies_is_malformed_when_opened(data, message):
    with pytest.raises(CorruptDocument) as caught:
        open_document(data)
    assert caught.value.message == f"The PDF is malformed: {message}."


def test_a_pdf_whose_page_tree_tells_the_truth_opens(docs):
    with open_document(generate.lying_count_pdf(1)) as document:
        (page,) = document.pages([1], dpi=72)
    assert document.page_count == 1 and page.text == "Hello from a lying PDF"


def test_an_encrypted_pdf_needs_its_password(docs):
    data = docs["encrypted.pdf"].read_bytes()
    with pytest.raises(EncryptedDocument) as missing:
        open_document(data)
    assert "password" in missing.value.message
    with pytest.raises(EncryptedDocument) as wrong:
        open_document(data, password="guess")
    assert "wrong" in wrong.value.message
    with open_document(data, password="s3cret") as document:
        (page,) = document.pages([1], dpi=300)
    assert page.has_text_layer and "Northwind" in page.text


def test_exif_orientation_is_applied(docs):
    with open_document(docs["exif-rotated.jpg"].read_bytes()) as document:
        (page,) = document.pages([1], dpi=300)
    stored = Image.open(docs["exif-rotated.jpg"])
    assert stored.width > stored.height  # kept on its side in the file
    assert page.height > page.width  # upright as a reader sees it


def test_pdf_pages_report_text_layer_or_raster(docs):
    with open_document(docs["mixed.pdf"].read_bytes()) as document:
        first, second = document.pages([1, 2], dpi=150)
    assert first.has_text_layer and first.text.startswith("Invoice 2024-0117")
    assert first.words[0][0] == "Invoice" and first.words[0][1][0] == round(60 * 150 / 72)
    assert (first.width, first.height) == (round(595 * 150 / 72), round(842 * 150 / 72))
    assert not second.has_text_layer and second.image is not None and second.dpi == 150


def test_force_ocr_renders_text_layer_pages(docs):
    with open_document(docs["text-layer.pdf"].read_bytes()) as document:
        pages = list(document.pages([1, 3], dpi=100, force_ocr=True))
    assert [page.number for page in pages] == [1, 3]
    assert all(page.image is not None and page.image.mode == "L" for page in pages)


def test_a_multipage_tiff_has_one_page_per_frame(docs):
    with open_document(docs["multipage.tif"].read_bytes()) as document:
        assert document.page_count == 3
        sizes = [page.image.size for page in document.pages([2, 3], dpi=300)]
    assert len(sizes) == 2


def test_a_tiff_of_many_tiny_pages_is_counted_only_past_the_limit_and_quickly():
    data = generate.many_page_tiff(60_000)  # Pillow took 37-45 s to count these
    started = time.perf_counter()
    with open_document(data, max_pages=500) as document:
        assert (document.page_count, document.uncounted) == (501, True)
        with pytest.raises(TooManyPages) as every_page:
            document.select(None, 500)
        assert [page.number for page in document.pages(document.select("1,500-501", 500), dpi=300)] == [
            1,
            500,
            501,
        ]
    assert time.perf_counter() - started < 5
    assert every_page.value.message == "The request asks for more than 501 pages; the limit is 500."


@pytest.mark.parametrize("spec", ["2-", "502", "1,600-700"])
def test_a_selection_may_not_reach_past_the_pages_counted(spec):
    with (
        open_document(generate.many_page_tiff(600), max_pages=10) as document,
        pytest.raises(InvalidOption) as caught,
    ):
        document.select(spec, 10)
    assert "the document has more than 11 pages, and Lector counts only those" in caught.value.message


def test_a_tiff_under_the_limit_is_counted_exactly():
    with open_document(generate.many_page_tiff(11), max_pages=10) as document:
        assert (document.page_count, document.uncounted) == (11, False)
        assert document.select("2-", 10) == list(range(2, 12))


def test_a_tiff_whose_pages_loop_is_corrupt():
    data = bytearray(generate.many_page_tiff(3))
    data[-4:] = (10).to_bytes(4, "little")  # the last page's "next" is the first again
    with pytest.raises(CorruptDocument) as caught:
        open_document(bytes(data))
    assert caught.value.message == "The TIFF image is corrupt: its page 4 is one it already had."


def test_huge_pdf_pages_are_rendered_under_the_pixel_cap():
    import pymupdf

    poster = pymupdf.Rect(0, 0, 72 * 100, 72 * 100)  # 100 x 100 inches
    dpi = _capped_dpi(poster, 300)
    assert dpi < 300
    assert (100 * dpi) ** 2 <= MAX_PAGE_PIXELS
    assert _capped_dpi(pymupdf.Rect(0, 0, 595, 842), 300) == 300


def test_transparent_images_are_flattened_on_white():
    from service.pages import _flatten

    image = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    flat = _flatten(image)
    assert flat.mode == "RGB" and flat.getpixel((0, 0)) == (255, 255, 255)
    sixteen = Image.new("I;16", (2, 1))
    sixteen.putpixel((1, 0), 65535)
    assert _flatten(sixteen).getextrema() == (0, 255)


def test_the_sniffer_knows_exactly_the_catalogue_formats():
    """Every format the sniffer names is in the catalogue, and every catalogue input is sniffed."""
    from service import pages
    from service.containers import NAMES
    from service.convert.formats import INPUTS

    named = {name for _, name in pages._SIGNATURES} | set(pages._FTYP_BRANDS.values()) | {"WEBP", "PDF"}
    assert named | NAMES | {"SVG", "EPS"} == set(INPUTS)
    assert all(name in pages._SUPPORTED for name in INPUTS)
