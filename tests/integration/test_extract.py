"""The extraction core with the real Tesseract binary."""

import pytest

from fixtures.generate import PAGES
from service.errors import InvalidOption, TooManyPages
from service.extract import ExtractOptions, extract
from tests.helpers import character_error_rate, page_text

FIRST = page_text(PAGES[0])


@pytest.mark.parametrize(
    "name", ["page.png", "page.jpg", "page.tif", "page.gif", "page.bmp", "page.webp", "exif-rotated.jpg"]
)
def test_clean_single_pages_read_with_at_most_two_percent_character_errors(docs, name):
    result = extract(docs[name].read_bytes(), ExtractOptions())
    (page,) = result.pages
    assert page.source == "ocr"
    assert character_error_rate(FIRST, page.text) <= 0.02, page.text
    assert page.confidence > 80
    assert result.engine == "tesseract" and result.language == "eng"


@pytest.mark.parametrize("name", ["scanned.pdf", "multipage.tif"])
def test_every_page_of_a_scan_is_read_in_order(docs, name):
    result = extract(docs[name].read_bytes(), ExtractOptions())
    assert [page.page for page in result.pages] == [1, 2, 3]
    assert [page.source for page in result.pages] == ["ocr"] * 3
    for page, lines in zip(result.pages, PAGES, strict=True):
        assert character_error_rate(page_text(lines), page.text) <= 0.02, page.text
    assert result.text.count("\f") == 2


def test_pdf_pages_use_the_text_layer_when_they_have_one(docs):
    result = extract(docs["mixed.pdf"].read_bytes(), ExtractOptions())
    assert [page.source for page in result.pages] == ["text-layer", "ocr"]
    assert result.pages[0].text == FIRST
    assert result.pages[0].confidence == 100.0
    assert character_error_rate(page_text(PAGES[1]), result.pages[1].text) <= 0.02


def test_force_ocr_reads_text_layer_pages_with_tesseract(docs):
    result = extract(docs["text-layer.pdf"].read_bytes(), ExtractOptions(force_ocr=True, pages="2"))
    (page,) = result.pages
    assert (page.page, page.source) == (2, "ocr")
    assert character_error_rate(page_text(PAGES[1]), page.text) <= 0.02
    assert result.page_count == 3


def test_words_have_boxes_inside_the_page(docs):
    result = extract(docs["page.png"].read_bytes(), ExtractOptions(include_words=True))
    (page,) = result.pages
    assert page.words[0].text == "Invoice"
    for word in page.words:
        left, top, right, bottom = word.box
        assert 0 <= left < right <= page.width and 0 <= top < bottom <= page.height
    # 60 pt from the left edge at 300 dpi is 250 px: the first word starts there.
    assert abs(page.words[0].box[0] - 250) < 10


def test_progress_is_reported_per_page(docs):
    seen = []
    extract(
        docs["scanned.pdf"].read_bytes(),
        ExtractOptions(),
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_psm_option_changes_segmentation(docs):
    single_line = extract(docs["page.png"].read_bytes(), ExtractOptions(psm=7)).pages[0].text
    assert "\n" not in single_line  # psm 7 reads the image as one line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ExtractOptions(lang="xyz"), "Language 'xyz' is not installed; installed: eng."),
        (ExtractOptions(lang="eng; rm -rf /"), "Invalid language"),
        (ExtractOptions(psm=0), "Invalid psm 0"),
        (ExtractOptions(engine="magic"), "Unknown engine 'magic'"),
        (ExtractOptions(pages="9"), "Page 9 does not exist"),
    ],
)
def test_bad_options_are_refused(docs, options, message):
    with pytest.raises(InvalidOption) as caught:
        extract(docs["scanned.pdf"].read_bytes(), options)
    assert message in caught.value.message


def test_page_limit_counts_the_selected_pages(docs):
    data = docs["scanned.pdf"].read_bytes()
    with pytest.raises(TooManyPages) as caught:
        extract(data, ExtractOptions(max_pages=2))
    assert (caught.value.count, caught.value.limit) == (3, 2)
    assert len(extract(data, ExtractOptions(max_pages=2, pages="1,3")).pages) == 2
