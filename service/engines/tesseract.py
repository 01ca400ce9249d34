"""The Tesseract engine: each page is one ``tesseract`` process.

Pages run in parallel as separate processes, one per core. Each process is limited to one
OpenMP thread: Tesseract's own threads spin against each other on a busy machine, and on a
2-core machine one A4 page took 13.7 s with them against 1.55 s without (README, Performance).
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

import pytesseract

from service.engines.base import Reading, ReadOptions, cores
from service.errors import EngineError, EngineUnavailable, InvalidOption
from service.models import PageResult, Word
from service.options import AUTO_LANGUAGE
from service.pages import Page
from service.settings import Settings

#: A page that takes longer than this is given up (it would hold a core indefinitely).
PAGE_TIMEOUT_S = 180


@cache
def installed_languages() -> frozenset[str]:
    """The traineddata Tesseract has here (``osd`` aside); raises EngineUnavailable."""
    try:
        return frozenset(pytesseract.get_languages()) - {"osd"}
    except (pytesseract.TesseractNotFoundError, OSError, subprocess.SubprocessError):
        raise EngineUnavailable("Tesseract is not installed on this server.") from None


def version() -> str:
    """The Tesseract version, e.g. ``5.3.0``; raises EngineUnavailable."""
    try:
        return str(pytesseract.get_tesseract_version())
    except (pytesseract.TesseractNotFoundError, OSError, subprocess.SubprocessError):
        raise EngineUnavailable("Tesseract is not installed on this server.") from None


class TesseractEngine:
    """Tesseract through pytesseract, one single-threaded process per page."""

    name = "tesseract"

    def __init__(self, settings: Settings | None = None) -> None:
        self.concurrency = cores()
        # pytesseract starts tesseract with this process's environment; there is no other way
        # in. Set when the engine is built (once per process), not when the module is imported.
        os.environ["OMP_THREAD_LIMIT"] = "1"

    @classmethod
    def check(cls, options: ReadOptions) -> None:
        """Refuse languages that are not installed before any work starts, and ``auto`` joined
        to another (it picks one language per page).

        The options' types already bound the language list and the segmentation mode.
        """
        installed = installed_languages()
        codes = options.lang.split("+")
        if AUTO_LANGUAGE in codes:
            if len(codes) > 1:
                raise InvalidOption(
                    f"The language {AUTO_LANGUAGE} stands alone: it detects each page's language; "
                    "or name the languages, such as eng+deu."
                )
            return
        missing = [code for code in codes if code not in installed]
        if missing:
            raise InvalidOption(
                f"Language {missing[0]!r} is not installed; installed: {', '.join(sorted(installed))}."
            )

    def read(self, page: Page, options: ReadOptions) -> Reading:
        """OCR one raster page: its text, confidence and words (at no token cost)."""
        config = f"--psm {options.psm or 3}"
        with _page_file(page) as path:
            tsv = _run(pytesseract.image_to_data, page, path, lang=options.lang, config=config)
        return Reading(
            result=parse_tsv(
                tsv, page, include_words=options.include_words, min_confidence=options.min_confidence
            )
        )

    def script(self, page: Page) -> str | None:
        """The script of one raster page as Tesseract's orientation and script detection (OSD,
        ``--psm 0``) names it (``Latin``, ``Cyrillic``, ``Han``...); None when the page has too
        little text for it to tell, which OSD reports as a failure."""
        with _page_file(page) as path:
            try:
                osd = _run(pytesseract.image_to_osd, page, path, config="")  # it adds --psm 0
            except EngineError:
                return None
        found = re.search(r"^Script: *(\S+)", osd, re.MULTILINE)
        return found.group(1) if found else None


@contextmanager
def _page_file(page: Page) -> Iterator[str]:
    """The path of a private file holding ``page``'s pixels, removed afterwards.

    The file as received when the page is exactly its pixels, decoded by Tesseract as the
    CLI does: on 20 receipts, 26 ms less CPU each than Pillow's decode plus a BMP written and
    read (Pillow still decodes the page, for its checks). Otherwise an uncompressed BMP:
    ~10 ms to write, and Leptonica reads it as fast as the original file; pytesseract's own
    PNG costs ~0.2 s, and a PNM is slow to read (README).
    """
    assert page.image is not None, "text-layer pages never reach an engine"
    with tempfile.NamedTemporaryFile(prefix="lector-") as handle:
        if page.original is not None:
            handle.write(page.original)
        else:
            page.image.save(handle, format="BMP")
        handle.flush()
        yield handle.name


def _run(function: Callable[..., str], page: Page, path: str, *, config: str, lang: str = "osd") -> str:
    """``function`` (a pytesseract call) on the page at ``path``, its failures as Lector's errors."""
    if page.dpi:
        config += f" --dpi {page.dpi}"
    try:
        return str(function(path, lang=lang, config=config, timeout=PAGE_TIMEOUT_S))
    except pytesseract.TesseractNotFoundError:
        raise EngineUnavailable("Tesseract is not installed on this server.") from None
    except pytesseract.TesseractError as exc:
        raise EngineError(f"Tesseract failed on page {page.number} (exit status {exc.status}).") from None
    except RuntimeError:  # pytesseract's timeout
        raise EngineError(f"Tesseract gave up on page {page.number} after {PAGE_TIMEOUT_S} s.") from None


def parse_tsv(tsv: str, page: Page, *, include_words: bool, min_confidence: float = 0.0) -> PageResult:
    """Build a PageResult from Tesseract's TSV output.

    Lines are joined by newlines and paragraphs by a blank line, as Tesseract's own text
    output does, so one run gives the text, the confidences and the boxes. Words under
    ``min_confidence`` stay in the words but not in the text (smudges, stamps, logos).
    """
    paragraphs: list[list[list[str]]] = []  # paragraph -> line -> words
    last_paragraph = last_line = None
    words: list[Word] = []
    confidences: list[float] = []
    for row in csv.DictReader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        paragraph = (row["block_num"], row["par_num"])
        line = (*paragraph, row["line_num"])
        if paragraph != last_paragraph:
            paragraphs.append([])
            last_paragraph, last_line = paragraph, None
        if line != last_line:
            paragraphs[-1].append([])
            last_line = line
        confidence = max(float(row["conf"]), 0.0)
        confidences.append(confidence)
        if confidence >= min_confidence:
            paragraphs[-1][-1].append(text)
        if include_words:
            left, top = int(row["left"]), int(row["top"])
            box = [left, top, left + int(row["width"]), top + int(row["height"])]
            words.append(Word(text=text, confidence=round(confidence, 1), box=box))
    page_text = "\n\n".join(
        "\n".join(" ".join(line) for line in lines if line) for lines in paragraphs if any(lines)
    )
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return PageResult(
        page=page.number,
        text=page_text,
        confidence=round(mean, 1),
        width=page.width,
        height=page.height,
        source="ocr",
        words=words,
    )
