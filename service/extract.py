"""The one entry point of the core: ``extract(data, options) -> Extraction``.

Pages stream out of ``service.pages`` and into the engine's shared pool. At most
``engine.concurrency`` rendered pages wait for or sit in the engine beyond the one being
rendered, so a 500-page scan never holds 500 rasters in memory, and rendering the next page
overlaps with the OCR of the previous ones.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

import msgspec

from service.doctypes import DocumentType, get_document_type
from service.engines import Engine, Reading, ReadOptions, get_engine
from service.engines.base import FieldEngine
from service.errors import TooManyPages
from service.fields import READINGS, ReadingProfile, find_fields
from service.models import Extraction, PageResult, Tokens, Word
from service.pages import Document, Page, open_document, select_pages

#: Called as pages finish, with (pages done, pages selected).
ProgressCallback = Callable[[int, int], None]


class ExtractOptions(msgspec.Struct, frozen=True):
    """Everything that shapes one extraction."""

    engine: str = "auto"
    lang: str = "eng"
    psm: int | None = None
    pages: str | None = None
    force_ocr: bool = False
    include_words: bool = False
    password: str | None = None
    dpi: int = 300
    max_pages: int = 500
    document_type_code: str = "text"
    instructions: str | None = None
    metadata: dict[str, Any] | None = None


class RequestedOptions(Protocol):
    """The OCR options a client chooses (a sync request, a queued job, the command line)."""

    engine: str
    lang: str
    psm: int | None
    pages: str | None
    force_ocr: bool
    include_words: bool
    password: str | None
    document_type_code: str
    ocr_instructions: str | None
    document_metadata: dict[str, Any] | None


def options_for(request: RequestedOptions, *, dpi: int, max_pages: int) -> ExtractOptions:
    """The core's options for what a client chose, with the server's resolution and page limit."""
    return ExtractOptions(
        engine=request.engine,
        lang=request.lang,
        psm=request.psm,
        pages=request.pages,
        force_ocr=request.force_ocr,
        include_words=request.include_words,
        password=request.password,
        dpi=dpi,
        max_pages=max_pages,
        document_type_code=request.document_type_code,
        instructions=request.ocr_instructions,
        metadata=request.document_metadata,
    )


def extract(
    data: bytes, options: ExtractOptions, *, on_progress: ProgressCallback | None = None
) -> Extraction:
    """Read the text of every selected page of ``data``, and a typed document's fields.

    A typed document's fields come from the engine when it reads fields itself (a vision
    model), else from the field rules over the words the engine read (``service.fields``).
    Raises an InputError for a document or option the client must fix, TooManyPages when
    the selection exceeds ``options.max_pages``, and EngineError when the engine fails.
    """
    started = time.perf_counter()
    document_type = get_document_type(options.document_type_code)
    engine = get_engine(options.engine)
    schema = document_type.schema
    by_rules = schema is not None and not hasattr(engine, "read_fields")
    profile = READINGS.get(document_type.code, ReadingProfile()) if by_rules else ReadingProfile()
    read_options = ReadOptions(
        lang=options.lang,
        psm=options.psm if options.psm is not None else profile.psm,
        # The field rules work on the words and where they stand.
        include_words=options.include_words or by_rules,
        min_confidence=profile.min_confidence,
        prompt=document_type.prompt,
        instructions=options.instructions,
        metadata=options.metadata,
    )
    engine.check(read_options)
    fields = confidence = None
    with open_document(data, password=options.password) as document:
        numbers = select_pages(options.pages, document.page_count)
        if len(numbers) > options.max_pages:
            raise TooManyPages(len(numbers), options.max_pages)
        if schema is None or by_rules:
            readings = _read_pages(document, numbers, engine, read_options, options, on_progress)
        else:
            readings, fields = _read_fields(
                document, numbers, engine, document_type, read_options, options, on_progress
            )
        page_count = document.page_count
    if schema is not None and by_rules:
        pages = [reading.result for reading in readings]
        fields, confidence = find_fields(document_type.code, schema, pages)
        if not options.include_words:  # read for the rules, not asked for
            for page in pages:
                page.words = []
    return Extraction(
        engine=engine.name,
        language=options.lang,
        page_count=page_count,
        pages=[reading.result for reading in readings],
        processing_time=round(time.perf_counter() - started, 3),
        tokens=Tokens(
            prompt=sum(reading.tokens.prompt for reading in readings),
            completion=sum(reading.tokens.completion for reading in readings),
            total=sum(reading.tokens.total for reading in readings),
        ),
        model=getattr(engine, "model", None),
        llm_calls=sum(reading.calls for reading in readings),
        fields=fields,
        field_confidence=confidence,
    )


def _read_pages(
    document: Document,
    numbers: list[int],
    engine: Engine,
    read_options: ReadOptions,
    options: ExtractOptions,
    on_progress: ProgressCallback | None,
) -> list[Reading]:
    results: list[Reading | None] = [None] * len(numbers)
    pending: deque[tuple[int, Future[Reading]]] = deque()
    done = 0

    def finish(index: int, result: Reading) -> None:
        nonlocal done
        results[index] = result
        done += 1
        if on_progress is not None:
            on_progress(done, len(numbers))

    pool = _pool(engine)
    try:
        for index, page in enumerate(document.pages(numbers, dpi=options.dpi, force_ocr=options.force_ocr)):
            if page.has_text_layer:
                finish(index, _text_layer_result(page, include_words=read_options.include_words))
                continue
            pending.append((index, pool.submit(engine.read, page, read_options)))
            while len(pending) > engine.concurrency:
                oldest, future = pending.popleft()
                finish(oldest, future.result())
        while pending:
            oldest, future = pending.popleft()
            finish(oldest, future.result())
    finally:
        for _, future in pending:
            future.cancel()
    return [result for result in results if result is not None]


def _read_fields(
    document: Document,
    numbers: list[int],
    engine: FieldEngine,
    document_type: DocumentType,
    read_options: ReadOptions,
    options: ExtractOptions,
    on_progress: ProgressCallback | None,
) -> tuple[list[Reading], dict[str, Any]]:
    """A typed document: pages go to the engine a chunk at a time, and the chunks' fields merge.

    The pages' own results carry their text layer where they have one (the model's answer is
    the fields, not a transcription). The cost of each chunk is booked on its first page.
    """
    readings: list[Reading] = []
    found: list[dict[str, Any]] = []
    chunk: list[Page] = []
    assert document_type.schema is not None

    def flush() -> None:
        reading = engine.read_fields(chunk, document_type.code, document_type.schema, read_options)
        found.append(reading.fields)
        for index, page in enumerate(chunk):
            cost = {"tokens": reading.tokens, "calls": reading.calls} if index == 0 else {}
            readings.append(Reading(result=_page_result(page, include_words=options.include_words), **cost))
        chunk.clear()
        if on_progress is not None:
            on_progress(len(readings), len(numbers))

    for page in document.pages(numbers, dpi=options.dpi, force_ocr=options.force_ocr):
        chunk.append(page)
        if len(chunk) == engine.pages_per_call:
            flush()
    if chunk:
        flush()
    return readings, merge_fields(found)


def merge_fields(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Chunks of one document as one: each field from the first chunk that has it, and
    ``line_items`` concatenated in page order."""
    merged: dict[str, Any] = {}
    for fields in chunks:
        for name, value in fields.items():
            if name == "line_items" and value:
                merged["line_items"] = [*(merged.get("line_items") or []), *value]
            elif merged.get(name) is None:
                merged[name] = value
    return merged


def _page_result(page: Page, *, include_words: bool) -> PageResult:
    """A page of a typed document: its text layer if it has one; a raster page's text is the model's."""
    if page.has_text_layer:
        return _text_layer_result(page, include_words=include_words).result
    return PageResult(
        page=page.number, text="", confidence=None, width=page.width, height=page.height, source="ocr"
    )


def _text_layer_result(page: Page, *, include_words: bool) -> Reading:
    words = [Word(text=text, confidence=100.0, box=box) for text, box in page.words] if include_words else []
    return Reading(
        result=PageResult(
            page=page.number,
            text=page.text,
            confidence=100.0,
            width=page.width,
            height=page.height,
            source="text-layer",
            words=words,
        )
    )


# One pool per engine and process, shared by every request, so concurrent requests
# together never run more pages than the engine's concurrency.
_pools: dict[str, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(engine: Engine) -> ThreadPoolExecutor:
    with _pools_lock:
        if engine.name not in _pools:
            _pools[engine.name] = ThreadPoolExecutor(
                engine.concurrency, thread_name_prefix=f"lector-{engine.name}"
            )
        return _pools[engine.name]


# A forked child (an RQ work horse) inherits the pools but not their threads: start afresh.
os.register_at_fork(after_in_child=_pools.clear)
