"""Reading documents: ``extract`` (a document's text and a typed document's fields),
``identify_document`` (which type it is) and ``extract_object`` (one JSON object a vision
model shapes); ``check_options`` refuses, before any page is read, what they would refuse.

Pages stream out of ``service.pages`` and into the engine's shared pool. At most
``engine.concurrency`` rendered pages wait for or sit in the engine beyond the one being
rendered, so a 500-page scan never holds 500 rasters in memory, and rendering the next page
overlaps with the OCR of the previous ones.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import Future
from typing import Any, overload

import msgspec

from service.barcodes import CODE_DPI, read_barcodes
from service.doctypes import AUTO, DocumentType, Kinds, check_document_type, document_types, get_document_type
from service.engines import Engine, Engines, FieldEngine, Reading, ReadOptions
from service.engines.base import FieldsReading, TextFieldEngine
from service.engines.detected import text_language
from service.errors import ContextExceeded, InvalidOption, LectorError, TooManyPages, ValidationFailed
from service.fields import READINGS, ReadingProfile, find_fields
from service.fields.checks import checks
from service.fields.evidence import evidence_of
from service.fields.payment_codes import overlay_payment
from service.identify import identify, model_question
from service.models import (
    TEXT_LAYER,
    Barcode,
    Extraction,
    FieldEvidence,
    Identification,
    PageResult,
    Tokens,
    Word,
)
from service.options import AUTO_LANGUAGE, Options
from service.pages import Document, Page, Source, open_document, select_pages

#: Called as pages finish, with (pages done, pages selected).
ProgressCallback = Callable[[int, int], None]

#: The options only a vision model reads; another engine ignores them, and the answer says so.
_MODEL_ONLY = ("ocr_instructions", "document_metadata")


def extract(
    data: Source,
    options: Options,
    engines: Engines,
    *,
    max_pages: int | None = None,
    on_progress: ProgressCallback | None = None,
    types: Collection[str] | None = None,
    kinds: Kinds | None = None,
    sniffed: str | None = None,
) -> Extraction:
    """Read the text of every selected page of ``data``, and a typed document's fields.

    ``engines`` is the process's registry, built from the settings (which also give the
    rendering resolution and, unless ``max_pages`` is given, the page limit). A typed
    document's fields come from the engine when it reads fields itself (a vision model),
    else from the field rules over the words the engine read (``service.fields``); a payment QR
    code's values win over both (``service.fields.payment_codes``). Every page's barcodes are
    read as it is rendered, whichever engine reads it (``service.barcodes``). Raises
    an InputError for a document or option the client must fix, TooManyPages when the
    selection exceeds the page limit, and EngineError when the engine fails. ``types`` limits
    what ``document_type_code=auto`` may identify (None: every type); ``kinds`` is where types
    are looked up (None: the built-in types; a key's own types added, for its documents).
    ``sniffed``: the format of ``data``, where the caller found it already.
    """
    if options.document_type_code == AUTO:
        return _identified(data, options, engines, max_pages, on_progress, types, kinds, sniffed)
    started = time.perf_counter()
    settings = engines.settings
    limit = settings.max_pages if max_pages is None else max_pages
    counted = settings.max_pages
    with open_document(data, password=options.password, sniffed=sniffed, max_pages=counted) as document:
        numbers = check_options(
            options, engines, document.page_count, max_pages=limit, kinds=kinds, uncounted=document.uncounted
        )
        document_type = get_document_type(options.document_type_code, kinds)
        engine = engines.get(options.engine, document_type.code, options.lang)
        schema = document_type.schema
        # llm-text: the type's OCR engine reads the pages, and the model (not for plain text,
        # which has no fields) finds the fields in what it read.
        text_model = engine if isinstance(engine, TextFieldEngine) and schema is not None else None
        if isinstance(engine, TextFieldEngine):
            engine = engines.get(engines.ocr_engine(document_type.code, options.lang))
        if options.lang == AUTO_LANGUAGE and not isinstance(engine, FieldEngine):
            engine = engines.in_page_language(engine)
        by_rules = schema is not None and text_model is None and not isinstance(engine, FieldEngine)
        from_words = by_rules or text_model is not None
        profile = READINGS.get(document_type.code, ReadingProfile()) if from_words else ReadingProfile()
        read_options = ReadOptions(
            lang=options.lang,
            psm=options.psm if options.psm is not None else profile.psm,
            # The field rules work on the words and where they stand, and so does the evidence
            # of llm-text's fields.
            include_words=options.include_words or from_words,
            min_confidence=profile.min_confidence,
            prompt=document_type.prompt,
            instructions=options.ocr_instructions,
            metadata=options.document_metadata,
        )
        fields = confidence = evidence = None
        warnings = _ignored_options(options, text_model or engine)
        pages_of = _Pages(document, numbers, settings.ocr_dpi, options.force_ocr)
        if schema is None or from_words:
            readings = _read_pages(pages_of, engine, engines, read_options, on_progress)
        else:
            assert isinstance(engine, FieldEngine)
            readings, fields = _read_fields(
                pages_of, engine, document_type, options, read_options, on_progress, warnings
            )
        page_count = document.page_count
    pages_of.add_barcodes([reading.result for reading in readings])
    if text_model is not None:
        fields, evidence, confidence = _text_fields(
            text_model, readings, document_type, read_options, warnings
        )
    elif schema is not None and by_rules:
        fields, confidence, evidence = find_fields(
            document_type.code, schema, [reading.result for reading in readings]
        )
    if schema is not None and fields is not None:  # a payment code's fields win over the others
        fields, confidence, evidence = overlay_payment(
            schema, [reading.result for reading in readings], fields, confidence, evidence
        )
    if from_words and not options.include_words:  # read for the fields, not asked for
        for reading in readings:
            reading.result.words = []
    warnings.extend(warning for reading in readings for warning in reading.warnings)
    # When every page gave its own text and no model was asked for fields, no engine read
    # anything: the answer names the text layer, not the engine that stood by.
    engine_used = (schema is not None and not by_rules) or any(
        reading.result.source != TEXT_LAYER for reading in readings
    )
    engine = text_model or engine
    return Extraction(
        engine=engine.name if engine_used else TEXT_LAYER,
        language=_language(options.lang, [reading.result for reading in readings]),
        page_count=page_count,
        pages=[reading.result for reading in readings],
        processing_time=round(time.perf_counter() - started, 3),
        tokens=_summed([reading.tokens for reading in readings]),
        model=getattr(engine, "model", None) if engine_used else None,
        llm_calls=sum(reading.calls for reading in readings),
        fields=fields,
        field_confidence=confidence,
        field_evidence=evidence,
        checks=checks(fields) if fields is not None else None,
        warnings=warnings,
        document_type=document_type.code,
    )


def _language(asked: str, pages: list[PageResult]) -> str:
    """The answer's language: the one asked for, or for ``auto`` the languages found on the
    pages joined by +, in page order (``auto`` still when none was, as for a vision model)."""
    if asked != AUTO_LANGUAGE:
        return asked
    return "+".join(dict.fromkeys(page.language for page in pages if page.language)) or asked


def _text_fields(
    engine: TextFieldEngine,
    readings: list[Reading],
    document_type: DocumentType,
    read_options: ReadOptions,
    warnings: list[str],
) -> tuple[dict[str, Any], dict[str, FieldEvidence], dict[str, float]]:
    """llm-text: the fields the model finds in the pages' OCR text, ``pages_per_call`` pages a
    call, merged as a vision model's chunks are; each scalar field's evidence and confidence
    from the words it came from (``service.fields.evidence``). Each call's cost is booked on
    its first page's reading; the model's warnings and the evidence's are added to ``warnings``."""
    schema = document_type.schema
    assert schema is not None
    found = []
    for start in range(0, len(readings), engine.pages_per_call):
        chunk = readings[start : start + engine.pages_per_call]
        answer = engine.read_text_fields([reading.result for reading in chunk], document_type.code, schema,
                                         read_options)  # fmt: skip
        found.append(answer.fields)
        warnings.extend(answer.warnings)
        chunk[0].tokens = _summed([chunk[0].tokens, answer.tokens])
        chunk[0].calls += answer.calls
    fields = merge_fields(found)
    evidence, confidence, unmatched = evidence_of(fields, [reading.result for reading in readings])
    warnings.extend(unmatched)
    return fields, evidence, confidence


def _identified(
    data: Source,
    options: Options,
    engines: Engines,
    max_pages: int | None,
    on_progress: ProgressCallback | None,
    types: Collection[str] | None,
    kinds: Kinds | None,
    sniffed: str | None,
) -> Extraction:
    """``document_type_code=auto``: identify the document's type among ``types`` (None: every
    type), then read it as that type with the type's own engine and rules. A vision model is
    asked the type from the first selected page's picture (one call); any other engine reads
    the document as text first, and ``service.identify`` decides from that text, so a typed
    document is read twice. The answer counts every reading's time, tokens and calls."""

    def halves(offset: int) -> ProgressCallback | None:
        if on_progress is None:
            return None
        return lambda done, total: on_progress(offset * total + done, 2 * total)

    started = time.perf_counter()
    ranking, first, asked = _ranked(data, options, engines, max_pages, halves(0), types, kinds, sniffed)
    code, confidence = ranking[0]
    if first is not None and code == "text":
        found = first
        if on_progress is not None:
            on_progress(1, 1)
    else:
        typed = msgspec.structs.replace(options, document_type_code=code)
        found = extract(
            data, typed, engines, max_pages=max_pages, on_progress=halves(1), kinds=kinds, sniffed=sniffed
        )
    readings = [found] if first is None or first is found else [first, found]
    return msgspec.structs.replace(
        found,
        document_type=code,
        document_type_confidence=round(confidence, 3),
        processing_time=round(time.perf_counter() - started, 3),
        llm_calls=sum(reading.llm_calls for reading in readings) + (asked.calls if asked else 0),
        tokens=_summed([reading.tokens for reading in readings] + ([asked.tokens] if asked else [])),
    )


@overload
def check_options(
    options: Options,
    engines: Engines,
    page_count: int,
    *,
    max_pages: int,
    reads: bool = True,
    kinds: Kinds | None = None,
    uncounted: bool = False,
) -> list[int]: ...
@overload
def check_options(
    options: Options,
    engines: Engines,
    page_count: None,
    *,
    max_pages: int,
    reads: bool = True,
    kinds: Kinds | None = None,
    uncounted: bool = False,
) -> None: ...
def check_options(
    options: Options,
    engines: Engines,
    page_count: int | None,
    *,
    max_pages: int,
    reads: bool = True,
    kinds: Kinds | None = None,
    uncounted: bool = False,
) -> list[int] | None:
    """Refuse, before any page is read, every option that reading a document of
    ``page_count`` pages with ``options`` would refuse: the document type (one of ``kinds``),
    the engine (one this server runs) and its languages (installed ones) when the document
    is to be ``reads`` (read as text, rather than only re-encoded), and the page selection
    (pages the document has, at most ``max_pages`` of them). Returns the selected page
    numbers (None without a ``page_count``: the selection is then only checked by its type);
    ``uncounted``: more pages follow the ``page_count`` counted (``Document.uncounted``).

    ``extract`` runs this first, and so does a queued submission before it is charged, so
    both refuse the same options with the same sentences. One problem raises its own error
    (InvalidOption, TooManyPages); several raise ValidationFailed, listing every one.
    """
    problems: list[LectorError] = []
    code = options.document_type_code
    numbers = None
    try:
        check_document_type(code, kinds=kinds)
    except InvalidOption as exc:
        problems.append(exc)
    if reads:
        # `auto` reads the document as text first (``_ranked``), with the engine of `text`.
        engine_of = "text" if code == AUTO else code
        try:
            engines.check(options.engine, engine_of, ReadOptions(lang=options.lang, psm=options.psm))
        except InvalidOption as exc:
            problems.append(exc)
    if page_count is not None:
        try:
            numbers = select_pages(options.pages, page_count, max_pages, uncounted=uncounted)
        except (InvalidOption, TooManyPages) as exc:
            problems.append(exc)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ValidationFailed([problem.message.rstrip(".") for problem in problems])
    return numbers


def first_page_only(options: Options) -> Options:
    """The options of an identification, which reads only the first page selected."""
    first_page = options.pages.split(",")[0].split("-")[0] if options.pages else "1"
    return msgspec.structs.replace(options, pages=first_page)


def extract_object(
    data: Source,
    options: Options,
    engines: Engines,
    *,
    max_pages: int | None = None,
    sniffed: str | None = None,
) -> Extraction:
    """One JSON object about the document, shaped by ``options.ocr_instructions`` and asked of
    a vision model in JSON mode with no schema (Convertorio's AI OCR to JSON), in ``fields``.
    The selected pages go in one call, so at most ``pages_per_call`` of them. InvalidOption
    when the engine is no vision model; raises as ``extract`` does otherwise."""
    started = time.perf_counter()
    settings = engines.settings
    document_type = get_document_type(options.document_type_code)
    engine = engines.get(options.engine, document_type.code, options.lang)
    if not isinstance(engine, FieldEngine):
        raise InvalidOption(
            f"JSON shaped by ocr_instructions needs a vision model; {engine.name} is not one."
        )
    read_options = ReadOptions(
        lang=options.lang,
        prompt=document_type.prompt,
        instructions=options.ocr_instructions,
        metadata=options.document_metadata,
    )
    with open_document(
        data, password=options.password, sniffed=sniffed, max_pages=settings.max_pages
    ) as document:
        limit = settings.max_pages if max_pages is None else max_pages
        numbers = document.select(options.pages, limit)
        if len(numbers) > engine.pages_per_call:
            raise InvalidOption(
                f"JSON shaped by ocr_instructions reads at most {engine.pages_per_call} pages in one call "
                f"(LECTOR_LLM_PAGES_PER_CALL); select them with `pages`."
            )
        pages_of = _Pages(document, numbers, settings.ocr_dpi, options.force_ocr)
        pages = list(pages_of)
        page_count = document.page_count
    found = engine.read_object(pages, read_options)
    results = [_page_result(page, include_words=False) for page in pages]
    pages_of.add_barcodes(results)
    return Extraction(
        engine=engine.name,
        language=options.lang,
        page_count=page_count,
        pages=results,
        processing_time=round(time.perf_counter() - started, 3),
        tokens=found.tokens,
        model=getattr(engine, "model", None),
        llm_calls=found.calls,
        fields=found.fields,
        document_type=document_type.code,
    )


def identify_document(
    data: Source,
    options: Options,
    engines: Engines,
    *,
    types: Collection[str] | None = None,
    kinds: Kinds | None = None,
    sniffed: str | None = None,
) -> Identification:
    """Which document type ``data`` is, among ``types`` (None: every type) and ``text``, from
    its first selected page: each candidate's confidence, likeliest first (a vision model
    names one type). Raises as ``extract`` does."""
    started = time.perf_counter()
    options = first_page_only(options)
    ranking, first, asked = _ranked(data, options, engines, None, None, types, kinds, sniffed)
    if first is None:  # a vision model looked at the page
        assert asked is not None
        engine = engines.get(options.engine, "text", options.lang)
        first = Extraction(
            engine=engine.name,
            language=options.lang,
            page_count=1,
            pages=[],
            processing_time=0.0,
            tokens=asked.tokens,
            model=getattr(engine, "model", None),
            llm_calls=asked.calls,
        )
    reading = msgspec.structs.replace(
        first,
        document_type=ranking[0][0],
        document_type_confidence=round(ranking[0][1], 3),
        processing_time=round(time.perf_counter() - started, 3),
    )
    return Identification(
        ranking=[(code, round(confidence, 3)) for code, confidence in ranking], reading=reading
    )


def _ranked(
    data: Source,
    options: Options,
    engines: Engines,
    max_pages: int | None,
    on_progress: ProgressCallback | None,
    types: Collection[str] | None,
    kinds: Kinds | None,
    sniffed: str | None,
) -> tuple[list[tuple[str, float]], Extraction | None, FieldsReading | None]:
    """(code, confidence) for the candidate types, likeliest first, and what it took: the text
    reading (any engine but a vision model), or the vision model's answer (one type)."""
    registry = document_types() if kinds is None else kinds
    candidates = [kind for code, kind in registry.items() if types is None or code in types]
    engine = engines.get(options.engine, "text", options.lang)
    if isinstance(engine, FieldEngine):  # a vision model is asked, from the first page's picture
        asked = _asked(data, options, engine, candidates, engines.settings.ocr_dpi, sniffed)
        code, confidence = asked.fields["document_type_code"], min(max(asked.fields["confidence"] or 0, 0), 1)
        return [(code, confidence)], None, asked
    as_text = msgspec.structs.replace(options, document_type_code="text")
    first = extract(data, as_text, engines, max_pages=max_pages, on_progress=on_progress, sniffed=sniffed)
    return identify(first.text, candidates), first, None


def _asked(
    data: Source,
    options: Options,
    engine: FieldEngine,
    candidates: list[DocumentType],
    dpi: int,
    sniffed: str | None,
) -> FieldsReading:
    """The vision model's answer to which of ``candidates`` the document is, from its first
    selected page."""
    instructions, schema = model_question(candidates)
    with open_document(data, password=options.password, sniffed=sniffed) as document:
        number = document.select(options.pages or "1", document.page_count)[0]
        page = next(iter(document.pages([number], dpi=dpi, force_ocr=options.force_ocr)))
    return engine.read_fields(
        [page], "identification", schema, ReadOptions(lang=options.lang, prompt=instructions)
    )


def _summed(counts: list[Tokens]) -> Tokens:
    return Tokens(
        prompt=sum(count.prompt for count in counts),
        completion=sum(count.completion for count in counts),
        total=sum(count.total for count in counts),
    )


def _ignored_options(options: Options, engine: Engine) -> list[str]:
    """A sentence naming the model-only options that the engine that read the document ignored."""
    if getattr(engine, "model", None) is not None:
        return []
    ignored = [f"`{name}`" for name in _MODEL_ONLY if getattr(options, name)]
    if not ignored:
        return []
    verb = "were" if len(ignored) > 1 else "was"
    return [
        f"{' and '.join(ignored)} {verb} ignored: only a vision model reads them, and {engine.name} "
        "read this document."
    ]


class _Pages:
    """The selected pages of an open document, and how to render them; each page's barcodes
    are read as it passes (every engine's pages pass here), for ``add_barcodes``."""

    def __init__(self, document: Document, numbers: list[int], dpi: int, force_ocr: bool) -> None:
        self.numbers = numbers
        self._document, self._dpi, self._force_ocr = document, dpi, force_ocr
        self._barcodes: dict[int, list[Barcode]] = {}

    def __iter__(self) -> Iterator[Page]:
        for page in self._document.pages(self.numbers, dpi=self._dpi, force_ocr=self._force_ocr):
            self._barcodes[page.number] = self._codes_on(page)
            yield page

    def _codes_on(self, page: Page) -> list[Barcode]:
        """A raster's codes; a text-layer page's where it draws anything but text (drawn for
        them at CODE_DPI, and boxed in its words' pixels)."""
        if page.image is not None:
            return read_barcodes(page.image)
        drawn = self._document.code_raster(page.number, CODE_DPI)
        return read_barcodes(drawn, scale=page.width / drawn.width) if drawn is not None else []

    def add_barcodes(self, results: list[PageResult]) -> None:
        """Give each page's result the codes read on that page."""
        for result in results:
            result.barcodes = self._barcodes.get(result.page, [])


def _read_pages(
    pages: _Pages,
    engine: Engine,
    engines: Engines,
    read_options: ReadOptions,
    on_progress: ProgressCallback | None,
) -> list[Reading]:
    """Every page's reading, in page order: rendering overlaps with the engine's work, and at
    most ``engine.concurrency`` pages wait beyond the one being rendered."""
    numbers = pages.numbers
    results: list[Reading | None] = [None] * len(numbers)
    pending: deque[tuple[int, Future[Reading]]] = deque()
    done = 0

    def finish(index: int, result: Reading) -> None:
        nonlocal done
        results[index] = result
        done += 1
        if on_progress is not None:
            on_progress(done, len(numbers))

    pool = engines.pool(engine)
    try:
        for index, page in enumerate(pages):
            if page.has_text_layer:
                reading = _text_layer_result(page, include_words=read_options.include_words)
                if read_options.lang == AUTO_LANGUAGE:
                    reading.result.language = text_language(page.text)
                finish(index, reading)
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
    pages: _Pages,
    engine: FieldEngine,
    document_type: DocumentType,
    options: Options,
    read_options: ReadOptions,
    on_progress: ProgressCallback | None,
    warnings: list[str],
) -> tuple[list[Reading], dict[str, Any]]:
    """A typed document: pages go to the engine a chunk at a time, and the chunks' fields merge;
    the engine's warnings are added to ``warnings``.

    The pages' own results carry their text layer where they have one (the model's answer is
    the fields, not a transcription). The cost of each chunk is booked on its first page.
    A chunk over the model server's context is read as halves, down to single pages.
    """
    readings: list[Reading] = []
    found: list[dict[str, Any]] = []
    chunk: list[Page] = []
    schema = document_type.schema
    assert schema is not None

    size = engine.pages_per_call

    def flush() -> None:
        # A call over the model server's context is sent again as halves, and later chunks
        # keep the smaller size; a single page that does not fit is refused.
        nonlocal size
        while chunk:
            part = chunk[:size]
            try:
                reading = engine.read_fields(part, document_type.code, schema, read_options)
            except ContextExceeded:
                if len(part) == 1:
                    raise
                size = len(part) // 2
                continue
            found.append(reading.fields)
            warnings.extend(reading.warnings)
            for index, page in enumerate(part):
                first = index == 0
                readings.append(
                    Reading(
                        result=_page_result(page, include_words=options.include_words),
                        tokens=reading.tokens if first else Tokens(),
                        calls=reading.calls if first else 0,
                    )
                )
            del chunk[: len(part)]
        if on_progress is not None:
            on_progress(len(readings), len(pages.numbers))

    for page in pages:
        chunk.append(page)
        if len(chunk) >= size:
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
            source=TEXT_LAYER,
            words=words,
        )
    )
