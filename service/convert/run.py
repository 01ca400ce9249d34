"""``convert``: a document and a target in, one output file out (a zip when a multi-page
document goes to a single-page image format, as Converter App delivers several files)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import PurePath

import msgspec
from PIL import Image

from service.convert import images, text
from service.convert.formats import (
    EXTENSIONS,
    MEDIA_TYPES,
    MULTI_PAGE,
    TEXT_TARGETS,
    Family,
    family,
    input_name,
)
from service.convert.output import OutputFile, zipped
from service.convert.target import Target
from service.engines import Engines
from service.extract import extract, extract_object
from service.models import Extraction
from service.options import Options
from service.pages import Source, open_document, sniff


def reads_text(source: str, target: Target) -> bool:
    """Whether converting a ``source`` document (``pdf``, ``png``...) to ``target`` reads its
    text (and so uses the OCR options), rather than only re-encoding its pages."""
    fmt = target.target_format
    if family(source) in (Family.AUDIO, Family.VIDEO):  # speech is not read with OCR options
        return False
    if family(source) is Family.OFFICE:  # read through its PDF
        source = "pdf"
    return fmt in TEXT_TARGETS or (fmt == "pdf" and (source == "pdf" or target.searchable))


def convert(
    data: Source,
    options: Options,
    target: Target,
    engines: Engines,
    *,
    filename: str | None = None,
    max_pages: int,
    dpi: int,
    types: list[str] | None = None,
    sniffed: str | None = None,
) -> tuple[OutputFile, Extraction | None]:
    """Convert ``data`` to ``target``; returns the file and, for OCR targets, the extraction
    (what it used, for usage). Raises the core's InputError and TooLarge as extraction does.
    ``types``: what ``document_type_code=auto`` may identify (None: every type); ``sniffed``:
    the format of ``data``, where the caller found it already."""
    sniffed = sniffed or sniff(data)
    source = input_name(sniffed)
    stem = PurePath(filename or "document").stem or "document"
    fmt = target.target_format
    if reads_text(source, target):
        return _by_ocr(
            data, options, target, engines, stem=stem, sniffed=sniffed, max_pages=max_pages, types=types
        )
    if fmt in MULTI_PAGE:
        content = images.encode_pages(
            _shaped(data, options, target, engines, max_pages, dpi, sniffed), target
        )
        return _file(stem, fmt, content), None
    files = [
        (number, images.encode(page, target))
        for number, page in enumerate(_shaped(data, options, target, engines, max_pages, dpi, sniffed), 1)
    ]
    if len(files) == 1:
        return _file(stem, fmt, files[0][1]), None
    return zipped(stem, [(f"{stem}-{number}.{EXTENSIONS[fmt]}", content) for number, content in files]), None


def _shaped(
    data: Source, options: Options, target: Target, engines: Engines, max_pages: int, dpi: int, sniffed: str
) -> Iterator[Image.Image]:
    """The selected pages in colour, shaped for the target, one at a time."""
    counted = engines.settings.max_pages
    with open_document(data, password=options.password, sniffed=sniffed, max_pages=counted) as document:
        numbers = document.select(options.pages, max_pages)
        for page in document.pages(numbers, dpi=dpi, colour=True):
            assert page.image is not None  # colour pages are always rasters
            yield images.shape(page.image, target)


def _by_ocr(
    data: Source,
    options: Options,
    target: Target,
    engines: Engines,
    *,
    stem: str,
    sniffed: str,
    max_pages: int,
    types: list[str] | None,
) -> tuple[OutputFile, Extraction]:
    fmt = target.target_format
    from_model = engines.uses_model(options.engine, options.document_type_code)
    if fmt == "json" and target.structured and from_model and options.ocr_instructions:
        shaped = extract_object(data, options, engines, max_pages=max_pages, sniffed=sniffed)
        return _file(stem, fmt, text.as_object(shaped)), shaped
    if fmt == "md" and from_model:
        asked = f"{options.ocr_instructions}\n\n" if options.ocr_instructions else ""
        options = msgspec.structs.replace(options, ocr_instructions=asked + text.MARKDOWN_INSTRUCTIONS)
    words = fmt in ("hocr", "pdf")
    extraction = extract(
        data,
        msgspec.structs.replace(options, include_words=options.include_words or words),
        engines,
        max_pages=max_pages,
        types=types,
        sniffed=sniffed,
    )
    if fmt == "pdf":
        if sniffed == "PDF":
            content = text.searchable_pdf_from_pdf(data, options.password, extraction)
        else:
            pages = _shaped(data, options, Target(target_format="pdf"), engines, max_pages, 300, sniffed)
            content = text.searchable_pdf_from_images(pages, extraction, quality=target.quality)
    else:
        writers: dict[str, Callable[[Extraction], bytes]] = {
            "txt": text.as_text,
            "json": text.as_json,
            "hocr": text.as_hocr,
            "md": lambda found: text.as_markdown(found, from_model=from_model),
        }
        content = writers[fmt](extraction)
    return _file(stem, fmt, content), extraction


def _file(stem: str, fmt: str, content: bytes) -> OutputFile:
    return OutputFile(name=f"{stem}.{EXTENSIONS[fmt]}", media_type=MEDIA_TYPES[fmt], content=content)
