"""Running a piece of work on the core: ``perform`` answers an ``Outcome``.

Whichever way the work runs (here and now, or on a worker: ``service.lifecycle``), this is
where its kind (``service.work.Work``) chooses the core function. Nothing here knows about
HTTP, Redis or RQ.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Collection
from pathlib import PurePath
from typing import Any

import msgspec

from service.convert.formats import MEDIA_TYPES, Family, converts, family, input_name, targets_of
from service.convert.media import convert_media
from service.convert.office import office_pdf
from service.convert.output import OutputFile
from service.convert.run import convert
from service.doctypes import Kinds, document_types
from service.engines import Engines
from service.errors import InvalidOption
from service.extract import extract, identify_document
from service.models import Extraction, Identification
from service.options import Options
from service.pages import Source, sniff
from service.work import ConvertFile, Extract, Identify, Work

ProgressCallback = Callable[[int, int], None]


class Outcome(msgspec.Struct):
    """What a piece of work produced.

    ``reading`` is what the engines used, booked as usage (None: no OCR ran, as for an image
    converted to another image); ``result`` is what a job keeps and a status answers (an
    extraction's or an identification's, as plain data); ``output`` a converted file.
    """

    reading: Extraction | None = None
    result: dict[str, Any] | None = None
    output: OutputFile | None = None


def perform(
    work: Work,
    document: Source,
    options: Options,
    engines: Engines,
    *,
    max_pages: int,
    types: Collection[str] | None = None,
    kinds: Kinds | None = None,
    filename: str | None = None,
    on_progress: ProgressCallback | None = None,
    sniffed: str | None = None,
) -> Outcome:
    """Run ``work`` on ``document``: at most ``max_pages`` pages; ``types`` limits what a
    document may be identified as (None: every type) and ``kinds`` is where types are looked
    up (None: the built-in ones); ``sniffed``: the document's format, found when it was taken
    in. Raises what the core raises (InputError, TooLarge, EngineError...).

    Audio and video are converted by ffmpeg (``service.convert.media``); an office document
    is made a PDF by LibreOffice first, then read or converted as that PDF."""
    sniffed = sniffed or sniff(document)
    kind = check_work(work, sniffed)
    stem = PurePath(filename or "document").stem or "document"
    if kind in (Family.AUDIO, Family.VIDEO):
        assert isinstance(work, ConvertFile)  # check_work refuses the rest
        output = convert_media(
            document, work.target, engines.settings, stem=stem, sniffed=sniffed, on_progress=on_progress
        )
        return Outcome(output=output)
    if kind is Family.OFFICE:
        pdf = office_pdf(document, sniffed, engines.settings)
        if isinstance(work, ConvertFile) and work.target.target_format == "pdf":
            return Outcome(output=OutputFile(name=f"{stem}.pdf", media_type=MEDIA_TYPES["pdf"], content=pdf))
        try:
            return perform(
                work,
                pdf,
                options,
                engines,
                max_pages=max_pages,
                types=types,
                kinds=kinds,
                filename=filename,
                on_progress=on_progress,
                sniffed="PDF",
            )
        finally:
            shutil.rmtree(pdf.parent, ignore_errors=True)
    match work:
        case Extract():
            extraction = extract(
                document,
                options,
                engines,
                max_pages=max_pages,
                on_progress=on_progress,
                types=types,
                kinds=kinds,
                sniffed=sniffed,
            )
            return Outcome(reading=extraction, result=extraction_result(extraction))
        case ConvertFile(target=target):
            output, used = convert(
                document,
                options,
                target,
                engines,
                filename=filename,
                max_pages=max_pages,
                dpi=engines.settings.ocr_dpi,
                types=list(types) if types is not None else None,
                sniffed=sniffed,
            )
            return Outcome(reading=used, output=output)
        case Identify():
            identification = identify_document(
                document, options, engines, types=types, kinds=kinds, sniffed=sniffed
            )
            return Outcome(
                reading=identification.reading, result=identification_result(identification, kinds)
            )


def check_work(work: Work, sniffed: str) -> Family:
    """The family of a document of the format ``sniffed``, once ``work`` is known to be
    something Lector does with it; InvalidOption with one sentence otherwise (a pair the
    catalogue does not have, or audio and video asked to be read as pages)."""
    source = input_name(sniffed)
    kind = family(source)
    if isinstance(work, ConvertFile):
        target = work.target.target_format
        if not converts(source, target):
            raise InvalidOption(
                f"A {source} document cannot be converted to {target}; it converts to "
                f"{', '.join(targets_of(source))}."
            )
    elif kind in (Family.AUDIO, Family.VIDEO):
        raise InvalidOption(
            f"A {source} file has no pages to read: convert it to txt, json, srt or vtt for its speech."
        )
    return kind


def extraction_result(extraction: Extraction) -> dict[str, Any]:
    """A finished extraction as plain data: what a job keeps and its status answers."""
    return {
        "document_type_code": extraction.document_type,
        "document_type_confidence": extraction.document_type_confidence,
        "text": extraction.text,
        "fields": extraction.fields,
        "field_confidence": extraction.field_confidence,
        "field_evidence": msgspec.to_builtins(extraction.field_evidence),
        "checks": msgspec.to_builtins(extraction.checks),
        "warnings": extraction.warnings,
        "pages": msgspec.to_builtins(extraction.pages),
        "tokens": msgspec.to_builtins(extraction.tokens),
        "tokens_used": extraction.tokens.total,
        "engine": extraction.engine,
        "model": extraction.model,
        "llm_calls": extraction.llm_calls,
        "processing_time_ms": round(extraction.processing_time * 1000),
    }


def identification_result(identification: Identification, kinds: Kinds | None = None) -> dict[str, Any]:
    """A finished identification as plain data: the likeliest type and the alternatives, each
    with its code, name and confidence, and what it took. ``kinds`` names the types
    (default: the built-in ones)."""
    kinds = document_types() if kinds is None else kinds
    matches = [
        {"code": code, "name": kinds[code].title if code in kinds else code, "confidence": confidence}
        for code, confidence in identification.ranking
    ]
    reading = identification.reading
    return {
        "document_type": matches[0],
        "alternatives": matches[1:],
        "engine": reading.engine,
        "tokens_used": reading.tokens.total,
        "processing_time_ms": round(reading.processing_time * 1000),
    }
