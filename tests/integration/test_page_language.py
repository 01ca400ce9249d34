"""``lang=auto``: each page read in the language detected on it, with the real Tesseract (the
languages of the invoice set and Russian installed by ``make test-tools``) and py3langid."""

from __future__ import annotations

import base64
import io

import pymupdf
import pytest
from PIL import Image

from fixtures.generate import encode, page_image, text_pdf
from service.engines import Engines
from service.errors import InvalidOption
from service.extract import extract
from service.options import Options
from service.settings import Settings

engines = Engines(Settings())
SMALL = (420, 200)  # points: a few lines, a small page, a fast read
GERMAN = [
    "Sehr geehrte Damen und Herren,",
    "vielen Dank für Ihre Bestellung.",
    "Bitte überweisen Sie den Betrag",
    "innerhalb von vierzehn Tagen.",
    "Mit freundlichen Grüßen",
]
ENGLISH = [
    "Dear Sir or Madam,",
    "thank you for your order.",
    "Please pay the amount due",
    "within fourteen days.",
    "With kind regards",
]


def png(lines: list[str]) -> bytes:
    return encode(page_image(lines, size=SMALL), "PNG")


def png_in_any_script(lines: list[str]) -> bytes:
    """A page of ``lines`` in PyMuPDF's own fallback font, which has Cyrillic and Greek letters."""
    with pymupdf.open() as document:
        page = document.new_page(width=SMALL[0], height=SMALL[1])
        page.insert_font(fontname="F0", fontbuffer=pymupdf.Font("cjk").buffer)
        for index, line in enumerate(lines):
            page.insert_text((60, 80 + index * 24), line, fontsize=12, fontname="F0")
        return page.get_pixmap(dpi=300, colorspace=pymupdf.csGRAY).tobytes("png")


@pytest.mark.parametrize(("lines", "language"), [(GERMAN, "deu"), (ENGLISH, "eng")])
def test_a_page_is_read_in_the_language_found_on_it(lines, language):
    result = extract(png(lines), Options(lang="auto"), engines)
    (page,) = result.pages
    assert page.language == language and result.language == language
    assert lines[-1] in page.text  # Grüßen needs deu: eng reads it as GriiBen
    assert result.warnings == []


def test_a_page_in_another_script_is_read_in_an_installed_language_of_that_script():
    russian = ["Уважаемые дамы и господа,", "благодарим вас за ваш заказ.", "С наилучшими пожеланиями"]
    result = extract(png_in_any_script(russian), Options(lang="auto"), engines)
    assert result.pages[0].language == "rus" and "благодарим" in result.text and result.warnings == []


def test_a_page_in_a_script_no_installed_language_writes_is_read_in_english_and_said_so():
    greek = ["Αγαπητοί κύριοι και κυρίες,", "σας ευχαριστούμε για την παραγγελία σας.", "Με εκτίμηση"]
    result = extract(png_in_any_script(greek), Options(lang="auto"), engines)
    assert result.pages[0].language == "eng"
    assert result.warnings == [
        "Page 1 looks written in the Greek script, for which no Tesseract language is installed; "
        "it was read as eng."
    ]


def test_a_blank_page_is_english_without_a_word():
    blank = encode(Image.new("L", (800, 400), 255), "PNG")
    result = extract(blank, Options(lang="auto"), engines)
    assert [page.language for page in result.pages] == ["eng"] and result.warnings == []


def test_a_page_too_short_to_tell_is_read_in_english_and_the_answer_says_so():
    result = extract(png(["INV-2024-0042", "12.03.2024", "1.234,56"]), Options(lang="auto"), engines)
    assert result.pages[0].language == "eng"
    assert result.warnings == ["The language of page 1 could not be told; it was read as eng."]


def test_a_text_layer_page_has_its_language_found_too():
    pdf = text_pdf([GERMAN], size=SMALL).tobytes()
    (page,) = extract(pdf, Options(lang="auto"), engines).pages
    assert page.source == "text-layer" and page.language == "deu"
    assert extract(pdf, Options(lang="deu"), engines).pages[0].language is None  # only auto says


def test_auto_stands_alone():
    with pytest.raises(InvalidOption) as caught:
        extract(png(ENGLISH), Options(lang="auto+deu"), engines)
    assert caught.value.message.startswith("The language auto stands alone")


def test_each_page_of_a_scan_says_its_language_through_the_sync_route(client):
    scanned = pymupdf.open()
    for lines in (GERMAN, ENGLISH):
        image = page_image(lines, size=SMALL)
        page = scanned.new_page(width=SMALL[0], height=SMALL[1])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        page.insert_image(page.rect, stream=buffer.getvalue())
    body = {"image": base64.b64encode(scanned.tobytes()).decode(), "lang": "auto"}
    response = client.post("/api/ocr/extract-text", json=body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    pages = data["raw_response"]["pages"]
    assert [(page["source"], page["language"]) for page in pages] == [("ocr", "deu"), ("ocr", "eng")]
    assert data["language"] == "deu+eng" and "Grüßen" in data["text"]
