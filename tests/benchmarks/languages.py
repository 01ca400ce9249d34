"""``python -m tests.benchmarks.languages``: ``lang=auto`` against ``eng`` alone, on Tesseract.

On the invoice dev set's scans (fixtures/invoices.py: eight languages, 200 dpi, noise and a
slight rotation), each invoice is read as an invoice by Tesseract three ways: in ``eng``
alone; with ``lang=auto`` (each page read in the language detected on it); and in the
detected language joined to English (``deu+eng``...), which auto could read with instead.
Printed per language: how often the language was detected right, the share of the five
fields exactly right, the word F1 against the invoice's own text (from its PDF, a bag of
words: Tesseract's reading order differs from the PDF's, so a character error rate would
measure the order; accents count), and seconds per page (median).

Then, on English pages alone (fixtures/generate.py's pages of known text, scanned), the
character error rate and seconds per page of ``eng`` and ``auto``, read by Tesseract and by the
engine the invoice type gets by default (ppocr): what making ``auto`` the default costs English.

The Tesseract languages of the eight (``tesseract-ocr-deu`` ...) must be installed (``make
test-tools``). ``--smoke`` reads two invoices and one page, and writes nothing.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import pymupdf

from fixtures.generate import INVOICE_LINES, PAGES, RECEIPT_LINES, page_image, scan
from fixtures.invoices import Invoice, invoices
from service.engines import Engines
from service.engines.tesseract import installed_languages
from service.extract import extract
from service.languages import language_of
from service.models import Extraction
from service.options import EngineName, Options
from service.settings import Settings
from service.startup import prepare_process
from tests.benchmarks.accuracy import INVOICE_FIELDS
from tests.benchmarks.tables import add_smoke_flag, publish, table, tesseract, title
from tests.helpers import character_error_rate

#: The invoice set's languages as Tesseract codes, in the set's order.
TESSERACT_CODES = {"en": "eng", "fr": "fra", "de": "deu", "nl": "nld", "es": "spa", "it": "ita", "pt": "por",
                   "pl": "pol"}  # fmt: skip
#: The three ways each invoice is read.
WAYS = ("eng", "auto", "detected+eng")


@dataclass
class Tally:
    """One language's invoices read one way: fields right, words matched, seconds per page."""

    fields: int = 0
    matched: int = 0
    predicted: int = 0
    true: int = 0
    seconds: list[float] = field(default_factory=list)

    def add(
        self, fields: dict[str, Any], truth: Invoice, text: str, words: list[str], seconds: float
    ) -> None:
        """One invoice: its fields against the truth, its words against the PDF's."""
        self.fields += sum(fields.get(name) == getattr(truth, name) for name in INVOICE_FIELDS)
        read = text.split()
        self.matched += sum((Counter(read) & Counter(words)).values())
        self.predicted += len(read)
        self.true += len(words)
        self.seconds.append(seconds)

    def f1(self) -> float:
        """Word F1: each word matches once per occurrence on both sides."""
        precision = self.matched / self.predicted if self.predicted else 0.0
        recall = self.matched / self.true if self.true else 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def merged(self, other: Tally) -> Tally:
        """This tally and ``other``'s together."""
        return Tally(
            self.fields + other.fields,
            self.matched + other.matched,
            self.predicted + other.predicted,
            self.true + other.true,
            self.seconds + other.seconds,
        )


def _read(engines: Engines, image: bytes, lang: str) -> tuple[Extraction, float]:
    """Tesseract's reading of one invoice in ``lang``, and its seconds."""
    started = time.perf_counter()
    options = Options(document_type_code="invoice", engine="tesseract", lang=lang)
    return extract(image, options, engines), time.perf_counter() - started


def invoice_languages(count: int) -> str:
    """The invoice set read in ``eng``, ``auto`` and the detected language plus ``eng``."""
    engines = prepare_process(Settings())
    language_of("loads the model, once per process", ["eng", "deu"])  # not on the first invoice's time
    tallies: dict[str, dict[str, Tally]] = defaultdict(lambda: {way: Tally() for way in WAYS})
    detected: Counter[str] = Counter()
    made = invoices(count)
    for done, (truth, pdf, png) in enumerate(made, start=1):
        assert png is not None
        with pymupdf.open(stream=pdf) as document:
            words = document[0].get_text().split()
        readings = {}
        for way in WAYS[:2]:
            readings[way] = _read(engines, png, way)
        language = readings["auto"][0].language
        detected[truth.language] += language == TESSERACT_CODES[truth.language]
        readings["detected+eng"] = (
            readings["eng"] if language == "eng" else _read(engines, png, f"{language}+eng")
        )
        for way, (extraction, seconds) in readings.items():
            tallies[truth.language][way].add(extraction.fields or {}, truth, extraction.text, words, seconds)
        if done % 8 == 0:
            print(f"  {done}/{len(made)} invoices", file=sys.stderr, flush=True)
    header = [
        "language",
        "invoices",
        "detected right",
        *(f"fields right: {way}" for way in WAYS),
        *(f"word F1: {way}" for way in WAYS),
        "s/page: eng",
        "s/page: auto",
    ]
    rows = []
    every = {way: Tally() for way in WAYS}
    others = {way: Tally() for way in WAYS}
    for iso, by_way in tallies.items():
        rows.append(_row(f"{TESSERACT_CODES[iso]}", by_way, detected[iso]))
        for way in WAYS:
            every[way] = every[way].merged(by_way[way])
            if iso != "en":
                others[way] = others[way].merged(by_way[way])
    rows.append(_row("all but eng", others, sum(hits for iso, hits in detected.items() if iso != "en")))
    rows.append(_row("all", every, sum(detected.values())))
    heading = title(
        f"`lang=auto` on the invoice dev set: {len(made)} scans in 8 languages (fixtures/invoices.py), "
        "read as invoices by Tesseract",
        tesseract(),
    )
    return table(heading, header, rows)


def _row(name: str, by_way: dict[str, Tally], detected: int) -> list[str]:
    count = len(by_way["eng"].seconds)
    eng, auto = statistics.median(by_way["eng"].seconds), statistics.median(by_way["auto"].seconds)
    return [
        f"`{name}`" if not name.startswith("all") else name,
        str(count),
        f"{detected}/{count}",
        *(f"{by_way[way].fields / (count * len(INVOICE_FIELDS)):.3f}" for way in WAYS),
        *(f"{by_way[way].f1():.3f}" for way in WAYS),
        f"{eng:.2f} s",
        f"{auto:.2f} s ({auto / eng:.2f}×)",
    ]


def english_pages(kinds_of_text: int | None) -> str:
    """English pages of known text, scanned: ``eng`` against ``auto``, read by Tesseract as
    plain text and as invoices, and by the invoice type's default engine (ppocr)."""
    texts = [*PAGES, INVOICE_LINES, RECEIPT_LINES][:kinds_of_text]
    images = [
        scan(page_image(lines), random.Random(seed).uniform(-1.5, 1.5)) for seed, lines in enumerate(texts)
    ]
    engines = prepare_process(Settings())
    rows = []
    ways: list[tuple[EngineName, str, str]] = [
        ("tesseract", "text", "Tesseract, as `text`"),
        ("tesseract", "invoice", "Tesseract, as `invoice`"),
        ("auto", "invoice", "`auto` (ppocr for English), as `invoice`"),
    ]
    for engine, code, label in ways:
        results = {}
        extract(images[0], Options(document_type_code=code, engine=engine), engines)  # loads the engine
        for lang in ("eng", "auto"):
            errors = length = 0
            seconds = []
            for image, lines in zip(images, texts, strict=True):
                started = time.perf_counter()
                options = Options(document_type_code=code, engine=engine, lang=lang)
                extraction = extract(image, options, engines)
                seconds.append(time.perf_counter() - started)
                truth = " ".join(" ".join(lines).split())
                errors += round(character_error_rate(truth, extraction.text) * len(truth))
                length += len(truth)
            results[lang] = (errors / length, statistics.median(seconds))
        (eng_cer, eng_s), (auto_cer, auto_s) = results["eng"], results["auto"]
        rows.append([label, f"{eng_cer:.3f}", f"{auto_cer:.3f}", f"{eng_s:.2f} s",
                     f"{auto_s:.2f} s ({auto_s / eng_s:.2f}×)"])  # fmt: skip
    heading = (
        f"English pages ({len(texts)} scanned pages of known text, fixtures/generate.py): character error "
        "rate and seconds per page (median), `eng` against `auto`"
    )
    return table(heading, ["engine, type", "CER: eng", "CER: auto", "s/page: eng", "s/page: auto"], rows)


def main(argv: list[str] | None = None) -> None:
    """Measure, then print the tables and write them into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    missing = set(TESSERACT_CODES.values()) - installed_languages()
    if missing:
        sys.exit(f"Tesseract lacks {', '.join(sorted(missing))}: `make test-tools` installs them.")
    tables = [invoice_languages(2 if args.smoke else 40), english_pages(1 if args.smoke else None)]
    publish("languages", tables, smoke=args.smoke)


if __name__ == "__main__":
    main()
