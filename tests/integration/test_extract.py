"""The extraction core with the real Tesseract binary."""

import msgspec
import pytest

from fixtures.generate import PAGES
from service.engines import Engines
from service.engines.tesseract import installed_languages
from service.errors import InvalidOption, TooManyPages
from service.extract import extract
from service.options import Options, problem
from service.settings import Settings
from tests.helpers import character_error_rate, page_text

FIRST = page_text(PAGES[0])
engines = Engines(Settings())


@pytest.mark.parametrize(
    "name", ["page.png", "page.jpg", "page.tif", "page.gif", "page.bmp", "page.webp", "exif-rotated.jpg"]
)
def test_clean_single_pages_read_with_at_most_two_percent_character_errors(docs, name):
    result = extract(docs[name].read_bytes(), Options(), engines)
    (page,) = result.pages
    assert page.source == "ocr"
    assert character_error_rate(FIRST, page.text) <= 0.02, page.text
    assert page.confidence > 80
    assert result.engine == "tesseract" and result.language == "eng"


@pytest.mark.parametrize("name", ["scanned.pdf", "multipage.tif"])
def test_every_page_of_a_scan_is_read_in_order(docs, name):
    result = extract(docs[name].read_bytes(), Options(), engines)
    assert [page.page for page in result.pages] == [1, 2, 3]
    assert [page.source for page in result.pages] == ["ocr"] * 3
    for page, lines in zip(result.pages, PAGES, strict=True):
        assert character_error_rate(page_text(lines), page.text) <= 0.02, page.text
    assert result.text.count("\f") == 2


def test_pdf_pages_use_the_text_layer_when_they_have_one(docs):
    result = extract(docs["mixed.pdf"].read_bytes(), Options(), engines)
    assert [page.source for page in result.pages] == ["text-layer", "ocr"]
    assert result.pages[0].text == FIRST
    assert result.pages[0].confidence == 100.0
    assert character_error_rate(page_text(PAGES[1]), result.pages[1].text) <= 0.02


def test_force_ocr_reads_text_layer_pages_with_tesseract(docs):
    result = extract(docs["text-layer.pdf"].read_bytes(), Options(force_ocr=True, pages="2"), engines)
    (page,) = result.pages
    assert (page.page, page.source) == (2, "ocr")
    assert character_error_rate(page_text(PAGES[1]), page.text) <= 0.02
    assert result.page_count == 3


def test_words_have_boxes_inside_the_page(docs):
    result = extract(docs["page.png"].read_bytes(), Options(include_words=True), engines)
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
        Options(),
        engines,
        on_progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_psm_option_changes_segmentation(docs):
    single_line = extract(docs["page.png"].read_bytes(), Options(psm=7), engines).pages[0].text
    assert "\n" not in single_line  # psm 7 reads the image as one line


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            Options(lang="xyz"),
            f"Language 'xyz' is not installed; installed: {', '.join(sorted(installed_languages()))}.",
        ),
        (Options(pages="9"), "Page 9 does not exist"),
        (Options(pages="1-2," * 300), "at most 200 pages or ranges"),
    ],
)
def test_bad_options_are_refused(docs, options, message):
    with pytest.raises(InvalidOption) as caught:
        extract(docs["scanned.pdf"].read_bytes(), options, engines)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"lang": "eng; rm -rf /"}, "lang", "use up to 8 language codes joined by +"),
        ({"lang": "eng+" * 40000 + "eng"}, "lang", "use up to 8 language codes joined by +"),
        ({"lang": "+".join(["eng"] * 9)}, "lang", "use up to 8 language codes joined by +"),
        ({"psm": 0}, "psm", "choose one of 1, 3, 4"),
        ({"engine": "magic"}, "engine", "choose one of auto, tesseract, ppocr, llm, hybrid, llm-text"),
        ({"pages": "1-," * 200_000}, "pages", "use page numbers and ranges"),
        ({"password": "s3cret\x00"}, "password", "a password may not contain control characters"),
    ],
)
def test_the_options_type_refuses_what_no_engine_could_run(fields, field, reason):
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(fields, Options)
    assert problem(str(caught.value))[0] == field
    assert problem(str(caught.value))[1].startswith(reason)
    assert "rm -rf" not in problem(str(caught.value))[1]


def test_page_limit_counts_the_selected_pages(docs):
    data = docs["scanned.pdf"].read_bytes()
    with pytest.raises(TooManyPages) as caught:
        extract(data, Options(), engines, max_pages=2)
    assert (caught.value.count, caught.value.limit) == (3, 2)
    assert len(extract(data, Options(pages="1,3"), engines, max_pages=2).pages) == 2
