"""Running a piece of work on the core: ``perform`` answers an ``Outcome``.

Whichever way the work runs (here and now, or on a worker: ``service.lifecycle``), this is
where its kind (``service.work.Work``) chooses the core function. Nothing here knows about
HTTP, Redis or RQ.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import msgspec

from service.convert.run import OutputFile, convert
from service.doctypes import Kinds, document_types
from service.engines import Engines
from service.extract import extract, identify_document
from service.models import Extraction, Identification
from service.options import Options
from service.pages import Source
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
    in. Raises what the core raises (InputError, TooLarge, EngineError...)."""
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


def extraction_result(extraction: Extraction) -> dict[str, Any]:
    """A finished extraction as plain data: what a job keeps and its status answers."""
    return {
        "document_type_code": extraction.document_type,
        "document_type_confidence": extraction.document_type_confidence,
        "text": extraction.text,
        "fields": extraction.fields,
        "field_confidence": extraction.field_confidence,
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
