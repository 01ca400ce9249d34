"""OCR targets: the extraction as plain text, JSON, Markdown or hOCR, and the searchable PDF.

The searchable PDF is what OCRmyPDF makes: each page's picture with an invisible text layer
(render mode 3) whose words sit on the boxes the OCR found, so the text can be selected and
searched. A PDF page that already has a usable text layer is kept as it is. The invisible
text is set in Helvetica (a PDF base font, embedded nowhere), so characters outside Latin-1
are searchable only as what the font maps them to.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

import msgspec
import pymupdf
from PIL import Image

from service.convert.images import image_page
from service.models import Extraction, PageResult, Word, ocr_data
from service.pages import Source, open_pdf

#: Asked of the vision model when the target is Markdown.
MARKDOWN_INSTRUCTIONS = (
    "Write the transcription as Markdown: headings as #, lists as -, tables as Markdown tables; nothing else."
)
_FONT = pymupdf.Font("helv")


def as_text(extraction: Extraction) -> bytes:
    """The text, pages separated by form feeds."""
    return extraction.text.encode()


def as_json(extraction: Extraction) -> bytes:
    """The same JSON as a sync OCR answer's ``data``."""
    return msgspec.json.encode(ocr_data(extraction))


def as_object(extraction: Extraction) -> bytes:
    """The JSON object a vision model shaped by the client's instructions (``extract_object``)."""
    return msgspec.json.format(msgspec.json.encode(extraction.fields or {}), indent=2)


def as_markdown(extraction: Extraction, *, from_model: bool) -> bytes:
    """A vision model's Markdown as it wrote it; OCR text as paragraphs (its blocks) whose
    lines end in hard breaks, so a receipt's lines stay lines, and a rule between pages."""
    if from_model:
        return "\n\n---\n\n".join(page.text.strip() for page in extraction.pages).encode() + b"\n"
    pages = []
    for page in extraction.pages:
        blocks = []
        for block in page.text.split("\n\n"):
            lines = [_escape_markdown(" ".join(line.split())) for line in block.splitlines() if line.strip()]
            if lines:
                # Two trailing spaces: the hard break every Markdown reads (CommonMark, GFM,
                # Pandoc, the original), unlike a trailing backslash.
                blocks.append("  \n".join(lines))
        pages.append("\n\n".join(blocks))
    return "\n\n---\n\n".join(pages).encode() + b"\n"


#: Lines Markdown would read as syntax even inside a paragraph: an ordered list item, and
#: a line opening with a heading, quote, list, rule, setext, fence or table character.
_ORDERED_ITEM = re.compile(r"^(\d{1,9})([.)])(?=\s|$)")
_OPENERS = "#>-+*=_`~|"


def _escape_markdown(line: str) -> str:
    """A line of OCR text that Markdown will show as it is, not take for a block or for HTML."""
    line = line.replace("<", "\\<")  # else a tag-like word would vanish as raw HTML
    if line and line[0] in _OPENERS:
        return "\\" + line
    return _ORDERED_ITEM.sub(r"\1\\\2", line)


def as_hocr(extraction: Extraction) -> bytes:
    """hOCR 1.2: one ``ocr_page`` per page, ``ocr_line`` spans of ``ocrx_word`` spans."""
    body = []
    for page in extraction.pages:
        body.append(
            f'<div class="ocr_page" id="page_{page.page}" title="bbox 0 0 {page.width} {page.height}; '
            f'ppageno {page.page - 1}">'
        )
        for number, line in enumerate(lines_of(page.words), 1):
            left, top = min(w.box[0] for w in line), min(w.box[1] for w in line)
            right, bottom = max(w.box[2] for w in line), max(w.box[3] for w in line)
            body.append(
                f'<span class="ocr_line" id="line_{page.page}_{number}" '
                f'title="bbox {left} {top} {right} {bottom}">'
            )
            body.extend(
                f'<span class="ocrx_word" title="bbox {" ".join(map(str, word.box))}; '
                f'x_wconf {round(word.confidence)}">{html.escape(word.text)}</span>'
                for word in line
            )
            body.append("</span>")
        body.append("</div>")
    document = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n<head>\n'
        "<title></title>\n"
        '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
        '<meta name="ocr-system" content="lector"/>\n'
        '<meta name="ocr-capabilities" content="ocr_page ocr_line ocrx_word"/>\n'
        "</head>\n<body>\n" + "\n".join(body) + "\n</body>\n</html>\n"
    )
    return document.encode()


def lines_of(words: list[Word]) -> list[list[Word]]:
    """Words grouped into lines: a word joins the line whose vertical span holds its middle."""
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.box[1], w.box[0])):
        middle = (word.box[1] + word.box[3]) / 2
        for line in lines:
            if line[0].box[1] <= middle <= line[0].box[3]:
                line.append(word)
                break
        else:
            lines.append([word])
    return [sorted(line, key=lambda w: w.box[0]) for line in lines]


def add_invisible_text(page: pymupdf.Page, result: PageResult) -> None:
    """Set ``result``'s words on ``page`` as invisible text, each inside its box.

    The box is in the OCR raster's pixels; the page is in points. Each word gets the
    largest size at which it fits its box both ways.
    """
    scale = page.rect.width / result.width if result.width else 1.0
    writer = pymupdf.TextWriter(page.rect)
    for word in result.words:
        left, top, right, bottom = (value * scale for value in word.box)
        width, height = right - left, bottom - top
        unit_length = _FONT.text_length(word.text, fontsize=1)
        if width <= 0 or height <= 0 or unit_length <= 0:
            continue
        size = min(height / (_FONT.ascender - _FONT.descender), width / unit_length)
        baseline = pymupdf.Point(left, bottom + _FONT.descender * size)
        writer.append(baseline, word.text + " ", font=_FONT, fontsize=size)  # spaces keep words apart
    writer.write_text(page, render_mode=3)


def searchable_pdf_from_pdf(source: Source, password: str | None, extraction: Extraction) -> bytes:
    """The PDF's selected pages, each scanned one given an invisible text layer."""
    with open_pdf(source) as pdf:
        if pdf.needs_pass:
            pdf.authenticate(password or "")
        pdf.select([result.page - 1 for result in extraction.pages])
        for index, result in enumerate(extraction.pages):
            if result.source == "ocr":
                add_invisible_text(pdf[index], result)
        return bytes(pdf.tobytes(garbage=3, deflate=True))


def searchable_pdf_from_images(
    images: Iterable[Image.Image], extraction: Extraction, *, quality: int, dpi: int = 300
) -> bytes:
    """A PDF of the images (JPEG at ``quality``, PNG where there is transparency), one per
    page at ``dpi`` unless the image records its own, each with its invisible text layer."""
    with pymupdf.open() as pdf:
        for image, result in zip(images, extraction.pages, strict=True):
            page = image_page(pdf, image, quality=quality, dpi=dpi)
            add_invisible_text(page, result)
        return bytes(pdf.tobytes(garbage=3, deflate=True))
