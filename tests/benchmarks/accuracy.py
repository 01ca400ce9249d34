"""``make bench-accuracy``: offline receipt fields and text on real scanned receipts (SROIE).

Reads two sets in place, side by side: ``../shared/datasets/sroie-dev``, which the rules were
written on and the field chooser is trained on, and ``../shared/datasets/sroie-check``, which
is for measuring only (``--data`` and ``--check`` for other sets in the same layout:
``img/NNN.jpg``, ``key/NNN.json``, ``box/NNN.csv``). It prints, in one run:

(a) word-level precision, recall and F1 of Lector's text against the ground-truth lines, on
    each engine (``tesseract``, ``ppocr``), beside the raw ``tesseract IMG stdout`` on the same
    images;
(b) exact-match accuracy per field after SROIE's normalization (upper case, whitespace
    collapsed; dates compared as dates, totals as numbers), as the chooser answers and as the
    rules alone answer on the same words;
(c) seconds per receipt, Lector's whole extraction on each engine against the raw CLI, as
    medians;
(d) a reliability table: of the fields answered with a confidence in each band, the share
    right; and how many receipts' `total` check passes, and of those how many totals are wrong;
(e) on generated pages of known text (fixtures/generate.py), clean at 300 dpi and as a
    scan at 200 dpi with noise and a slight rotation: each engine's character error rate
    and seconds per page, which choose the engine ``engine=auto`` reads the document types
    other than receipts with (prompts/engines.json);
(f) the generated invoices' fields (fixtures/invoices.py), from their text layer and scans;
(g) identification (``document_type_code=auto``) of sroie-dev's receipts, the invoices and
    plain text;
(h) line items, item-level F1 on the generated invoices and on sroie-dev's receipts labelled by
    hand (``tests/benchmarks/line_items.py``).

``--smoke`` runs one generated page of each kind, one invoice, and one generated receipt (a
data set of one, written for the run, in place of both sets), and writes nothing into docs/benchmarks.md.

Words are compared upper-cased because the ground truth is (the receipts print mixed case).
The ground truth's dates are read here by a parser of the benchmark's own, day-first as
Malaysian receipts print them, so that a bug in Lector's date parser cannot grade itself.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import NamedTuple

from PIL import Image

from fixtures.generate import (
    INVOICE_LINES,
    PAGES,
    RECEIPT_FIELDS,
    RECEIPT_LINES,
    encode,
    page_image,
    receipt,
    scan,
)
from fixtures.invoices import invoices
from service.doctypes import document_types
from service.extract import extract
from service.fields import find_fields
from service.identify import identify
from service.models import Extraction
from service.options import Options
from service.settings import Settings
from service.startup import prepare_process
from tests.benchmarks.line_items import line_items_table
from tests.benchmarks.tables import add_smoke_flag, publish, table, tesseract, title
from tests.helpers import character_error_rate

DATASETS = Path(__file__).resolve().parents[2] / ".." / "shared" / "datasets"
#: Developed and trained on.
DEFAULT_DATA = DATASETS / "sroie-dev"
#: Measured only: no rule or feature is written from its receipts.
CHECK_DATA = DATASETS / "sroie-check"

#: Lector's receipt field for each SROIE key.
FIELD_MAP = {"merchant_name": "company", "merchant_address": "address", "date": "date", "total": "total"}
#: The goals on sroie-check, exact match.
GOALS = {"merchant_name": 0.90, "merchant_address": 0.75, "date": 0.96, "total": 0.96}
#: The invoice dev set's fields, and the share of invoices each must be right on.
INVOICE_FIELDS = ("invoice_number", "invoice_date", "due_date", "total", "currency")
INVOICE_GOAL = 0.9

_MONTHS = {m: i for i, m in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}


def normalize(text: str) -> str:
    """SROIE's text normalization: upper case, whitespace collapsed."""
    return re.sub(r"\s+", " ", text.upper()).strip()


def truth_date(text: str) -> date | None:
    """A ground-truth date as a calendar date: day-first numeric, compact, or month-name."""
    text = normalize(text)
    year_first = re.search(r"(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})", text)
    numeric = re.search(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{2,4})", text)
    named = re.search(r"(\d{1,2})[\s.-]*([A-Z]{3})[A-Z]*[\s.,-]*(\d{2,4})", text)
    compact = re.fullmatch(r"(\d{8})", text)
    try:
        if year_first:
            year, month, day = map(int, year_first.groups())
        elif numeric:
            day, month, year = map(int, numeric.groups())
        elif named and named[2] in _MONTHS:
            day, month, year = int(named[1]), _MONTHS[named[2]], int(named[3])
        elif compact:
            digits = compact[1]
            if digits.startswith(("19", "20")):
                year, month, day = int(digits[:4]), int(digits[4:6]), int(digits[6:])
            else:
                day, month, year = int(digits[:2]), int(digits[2:4]), int(digits[4:])
        else:
            return None
        return date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        return None


def truth_amount(text: str) -> Decimal | None:
    """A ground-truth total as a number: "RM 29.70" and "$8.20" are 29.70 and 8.20."""
    digits = re.sub(r"[^\d.]", "", text.replace(",", ""))
    try:
        return Decimal(digits) if digits else None
    except InvalidOperation:
        return None


def field_matches(name: str, ours: object, truth: str | None) -> bool:
    """Whether Lector's value of ``name`` is the ground truth's, compared as SROIE compares."""
    if ours is None or truth is None:
        return False
    if name == "date":
        return str(ours) == (parsed.isoformat() if (parsed := truth_date(truth)) else None)
    if name == "total":
        expected = truth_amount(truth)
        return expected is not None and Decimal(str(ours)) == expected
    return normalize(str(ours)) == normalize(truth)


def truth_words(box_file: Path) -> list[str]:
    """The ground truth's words: every line's transcript (after 8 coordinates), split, upper-cased."""
    words = []
    for line in box_file.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split(",", 8)
        if len(parts) == 9:
            words.extend(parts[8].upper().split())
    return words


@dataclass
class WordCounts:
    """Matched, predicted and true words summed over a set, for precision and recall."""

    matched: int = 0
    predicted: int = 0
    true: int = 0

    def add(self, predicted: list[str], true: list[str]) -> None:
        """Count one document: a word matches once per occurrence on both sides."""
        self.matched += sum((Counter(predicted) & Counter(true)).values())
        self.predicted += len(predicted)
        self.true += len(true)

    def scores(self) -> tuple[float, float, float]:
        """(precision, recall, F1)."""
        precision = self.matched / self.predicted if self.predicted else 0.0
        recall = self.matched / self.true if self.true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1


@dataclass
class Run:
    """One way of reading a set: its word counts, its fields' hits by the chooser and by the
    rules alone, the chooser's answers with their confidence, its checks, its seconds per receipt."""

    label: str
    words: WordCounts = field(default_factory=WordCounts)
    hits: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)
    #: (confidence, right) of every field the chooser answered.
    answered: list[tuple[float, bool]] = field(default_factory=list)
    #: (the total check passed, the total is right) of every receipt the check ran on.
    checked: list[tuple[bool, bool]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def read_raw(image: Path) -> tuple[str, float]:
    """The raw CLI's text of one image and its seconds: ``tesseract IMG stdout``, defaults."""
    started = time.perf_counter()
    text = subprocess.run(
        ["tesseract", str(image), "stdout"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    ).stdout
    return text, time.perf_counter() - started


#: The process's engines, as `lector ocr` prepares them (default settings).
ENGINES = prepare_process(Settings())
#: The engines Lector is measured on, each reading every receipt.
LECTOR_ENGINES = ("tesseract", "ppocr")
_RECEIPT_SCHEMA = document_types()["receipt"].schema or {}


def read_lector(image: Path, engine: str) -> tuple[Extraction, float]:
    """Lector's reading of one image as a receipt on ``engine`` (with its words, for the rules
    to read again), and its seconds (the core, no HTTP)."""
    started = time.perf_counter()
    options = Options(engine=engine, document_type_code="receipt", include_words=True)
    extraction = extract(image.read_bytes(), options, ENGINES)
    return extraction, time.perf_counter() - started


def measure(data: Path, limit: int | None, *, texts: bool = True) -> tuple[Run, list[Run], int, list[str]]:
    """Every reading of every receipt, one receipt per core at a time, interleaved per receipt;
    and, with ``texts``, each receipt's text as ``document_type_code=auto`` first reads it, for
    identification."""
    stems = sorted(path.stem for path in (data / "img").glob("*.jpg"))[:limit]
    raw = Run("raw `tesseract IMG stdout`")
    lector = [Run(f"Lector on {engine}") for engine in LECTOR_ENGINES]
    as_text: dict[str, str] = {}

    def one(stem: str) -> None:
        image = data / "img" / f"{stem}.jpg"
        true = truth_words(data / "box" / f"{stem}.csv")
        key = json.loads((data / "key" / f"{stem}.json").read_text(encoding="utf-8"))
        raw_text, raw_seconds = read_raw(image)
        raw.words.add(raw_text.upper().split(), true)
        raw.seconds.append(raw_seconds)
        for engine, run in zip(LECTOR_ENGINES, lector, strict=True):
            extraction, seconds = read_lector(image, engine)
            run.words.add(extraction.text.upper().split(), true)
            run.seconds.append(seconds)
            fields = extraction.fields or {}
            by_rules = find_fields("receipt", _RECEIPT_SCHEMA, extraction.pages, learned=False).values
            for ours, theirs in FIELD_MAP.items():
                right = field_matches(ours, fields.get(ours), key.get(theirs))
                run.hits[ours] += right
                run.rules[ours] += field_matches(ours, by_rules.get(ours), key.get(theirs))
                if fields.get(ours) is not None:
                    run.answered.append(((extraction.field_confidence or {}).get(ours, 0.0), right))
            total_check = next((check for check in extraction.checks or [] if check.name == "total"), None)
            if total_check is not None:
                run.checked.append(
                    (total_check.ok, field_matches("total", fields.get("total"), key.get("total")))
                )
        if texts:
            as_text[stem] = extract(image.read_bytes(), Options(document_type_code="text"), ENGINES).text

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        for done, _ in enumerate(pool.map(one, stems), start=1):
            if done % 20 == 0:
                print(f"  {done}/{len(stems)} receipts of {data.name}", file=sys.stderr, flush=True)
    return raw, lector, len(stems), [as_text[stem] for stem in stems if stem in as_text]


class Measured(NamedTuple):
    """One receipt set as measured: its name, the raw CLI's run, Lector's runs, its count."""

    name: str
    raw: Run
    lector: list[Run]
    count: int


def receipts_table(sets: list[Measured]) -> str:
    """The receipts' table: a column per set and engine, then the raw CLI on each set."""
    names = " and ".join(f"{measured.count} receipts of {measured.name}" for measured in sets)
    heading = title("Lector accuracy benchmark", names, tesseract())
    columns = ["measure"]
    columns += [f"{measured.name}: {run.label}" for measured in sets for run in measured.lector]
    columns += [f"{measured.name}: raw Tesseract CLI" for measured in sets] + ["goal (on sroie-check)"]
    rows = []
    for name, index in (("precision", 0), ("recall", 1), ("F1", 2)):
        ours = [f"{run.words.scores()[index]:.3f}" for measured in sets for run in measured.lector]
        theirs = [f"{measured.raw.words.scores()[index]:.3f}" for measured in sets]
        rows.append([f"words: {name}", *ours, *theirs, "> raw" if name == "F1" else "—"])
    for name, goal in GOALS.items():
        for how, counts in (("chooser", "hits"), ("rules alone", "rules")):
            ours = [
                f"{getattr(run, counts)[name] / measured.count:.3f}"
                for measured in sets
                for run in measured.lector
            ]
            shown_goal = f"≥ {goal:.2f}" if how == "chooser" else "—"
            rows.append([f"`{name}` exact match, {how}", *ours, *(["—"] * len(sets)), shown_goal])
    seconds = []
    for measured in sets:
        raw_s = statistics.median(measured.raw.seconds)
        seconds.append(
            [
                f"{statistics.median(run.seconds):.2f} s ({statistics.median(run.seconds) / raw_s:.2f}×)"
                for run in measured.lector
            ]
        )
    raws = [f"{statistics.median(measured.raw.seconds):.2f} s" for measured in sets]
    rows.append(
        [
            "seconds per receipt (median; × the raw CLI)",
            *(cell for row in seconds for cell in row),
            *raws,
            "—",
        ]
    )
    return table(heading, columns, rows)


#: The confidence bands of the reliability table, highest first.
BANDS = ((0.9, 1.01), (0.7, 0.9), (0.5, 0.7), (0.0, 0.5))


def reliability_table(sets: list[Measured]) -> str:
    """Of the fields answered with a confidence in each band, how many were right; and of the
    receipts whose total check passed, how many totals were wrong."""
    columns = ["confidence"] + [
        f"{measured.name}: {run.label}" for measured in sets for run in measured.lector
    ]
    rows = []
    for low, high in BANDS:
        cells = []
        for measured in sets:
            for run in measured.lector:
                band = [right for confidence, right in run.answered if low <= confidence < high]
                cells.append(f"{sum(band) / len(band):.3f} of {len(band)}" if band else "— of 0")
        rows.append([f"{low:.1f}–{min(high, 1.0):.1f}", *cells])
    checked = []
    wrong = []
    for measured in sets:
        for run in measured.lector:
            passed = [right for ok, right in run.checked if ok]
            checked.append(f"{len(passed)} of {measured.count}")
            wrong.append(f"{len(passed) - sum(passed)} of {len(passed)}")
    rows.append(["receipts whose `total` check passes", *checked])
    rows.append(["of those, with the total wrong", *wrong])
    heading = (
        "Reliability: of the receipt fields (the four above) the chooser answered with a confidence "
        "in each band, the share right, and the `total` check"
    )
    return table(heading, columns, rows)


def smoke_data(folder: Path) -> Path:
    """A data set of one receipt in sroie-dev's layout, made from the generated receipt: the
    smoke form's, which needs no data set on the machine."""
    for name in ("img", "key", "box"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / "img" / "000.jpg").write_bytes(encode(Image.open(io.BytesIO(receipt())), "JPEG"))
    fields = RECEIPT_FIELDS
    day = date.fromisoformat(str(fields["date"]))
    key = {
        "company": fields["merchant_name"],
        "date": day.strftime("%d/%m/%Y"),
        "address": fields["merchant_address"],
        "total": f"{fields['total']:.2f}",
    }
    (folder / "key" / "000.json").write_text(json.dumps(key))
    (folder / "box" / "000.csv").write_text("".join(f"0,0,0,0,0,0,0,0,{line}\n" for line in RECEIPT_LINES))
    return folder


def clean_pages(kinds_of_text: int | None = None, *, smoke: bool = False) -> str:
    """(e): character error rate and seconds per page of each engine on generated pages
    (the first ``kinds_of_text`` texts only, when given; on pages just large enough for their
    lines in the smoke form, rather than A4)."""
    texts = [*PAGES, INVOICE_LINES, RECEIPT_LINES][:kinds_of_text]
    clean = [page_image(lines, size=(520, 220)) if smoke else page_image(lines) for lines in texts]
    kinds = {
        "clean, 300 dpi": [encode(page, "PNG") for page in clean],
        "scanned, 200 dpi, noise, rotation": [
            scan(page, random.Random(seed).uniform(-1.5, 1.5)) for seed, page in enumerate(clean)
        ],
    }
    lines = [
        f"Generated pages ({len(texts)} of each kind, fixtures/generate.py): character error rate "
        "(edit distance / length, whitespace collapsed) and seconds per page (median)",
        "",
        "| pages | " + " | ".join(f"{engine}: CER | {engine}: s/page" for engine in LECTOR_ENGINES) + " |",
        "|---|" + "---|---|" * len(LECTOR_ENGINES),
    ]
    for kind, images in kinds.items():
        cells = []
        for engine in LECTOR_ENGINES:
            errors = length = 0
            seconds = []
            for image, truth_lines in zip(images, texts, strict=True):
                started = time.perf_counter()
                options = Options(engine=engine, document_type_code="text")
                extraction = extract(image, options, ENGINES)
                seconds.append(time.perf_counter() - started)
                truth = " ".join(" ".join(truth_lines).split())
                errors += round(character_error_rate(truth, extraction.text) * len(truth))
                length += len(truth)
            cells.append(f"{errors / length:.3f} | {statistics.median(seconds):.2f} s")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def invoice_table(count: int = 40) -> tuple[str, list[str]]:
    """(f): the invoice dev set (fixtures/invoices.py), per field, read from the text layer and
    from the scans by each engine; and the invoices' texts, for identification."""
    made = invoices(count)
    kinds = {"text layer (PDF)": None, **{f"scan, {engine}": engine for engine in LECTOR_ENGINES}}
    hits: dict[str, Counter[str]] = {kind: Counter() for kind in kinds}
    texts: list[str] = []
    for truth, pdf, png in made:
        for kind, engine in kinds.items():
            options = Options(document_type_code="invoice", engine=engine or "auto")
            extraction = extract(pdf if engine is None else png or b"", options, ENGINES)
            if engine in (None, "tesseract"):  # the text auto identifies a PDF or a scan by
                texts.append(extraction.text)
            fields = extraction.fields or {}
            for name in INVOICE_FIELDS:
                hits[kind][name] += fields.get(name) == getattr(truth, name)
    lines = [
        f"Invoice dev set: {len(made)} synthetic invoices in 8 languages and 5 layouts "
        "(fixtures/invoices.py), each as a text-layer PDF and as a 200 dpi scan; share of invoices "
        "with the field exactly right",
        "",
        "| field | " + " | ".join(kinds) + " | goal |",
        "|---|" + "---|" * len(kinds) + "---|",
    ]
    for name in INVOICE_FIELDS:
        cells = " | ".join(f"{hits[kind][name] / len(made):.3f}" for kind in kinds)
        goal = f"≥ {INVOICE_GOAL}" if name != "due_date" else "—"
        lines.append(f"| `{name}` | {cells} | {goal} |")
    return "\n".join(lines), texts


def text_pages() -> list[str]:
    """Pages of plain prose: Debian's licence texts (45 non-blank lines a page, the first 200
    lines of each) and a generated report page."""
    pages = ["\n".join(PAGES[1])]
    folder = Path("/usr/share/common-licenses")
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_symlink() or not path.is_file():
            continue
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        pages.extend("\n".join(lines[start : start + 45]) for start in range(0, min(len(lines), 200), 45))
    return pages


def identification_table(sets: dict[str, list[str]]) -> str:
    """(g): top-1 identification over the built-in types, per set and in all."""
    types = list(document_types().values())
    lines = [
        "Identification (`document_type_code=auto`): top-1 accuracy over text, receipt and invoice",
        "",
        "| documents | count | top-1 |",
        "|---|---|---|",
    ]
    right = count = 0
    for code, texts in sets.items():
        hits = sum(identify(text, types)[0][0] == code for text in texts)
        lines.append(f"| {code} | {len(texts)} | {hits / len(texts):.3f} |")
        right, count = right + hits, count + len(texts)
    lines.append(f"| all | {count} | {right / count:.3f} (goal ≥ 0.95) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Measure, then print the tables and write them into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the development set's folder")
    parser.add_argument(
        "--check", type=Path, default=CHECK_DATA, help="the set measured beside it, for measuring only"
    )
    parser.add_argument("--limit", type=int, help="only the first N receipts of each set (a quick look)")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    folders = (
        [smoke_data(Path(tempfile.mkdtemp(prefix="lector-bench-accuracy-")) / "generated")]
        if smoke
        else [args.data, args.check]
    )
    for folder in folders:
        if not (folder / "img").is_dir():
            sys.exit(f"No dataset at {folder.resolve()}: pass --data DIR and --check DIR (img/, key/, box/).")
    tables = [clean_pages(1 if smoke else None, smoke=smoke)]
    invoices_printed, invoice_texts = invoice_table(1 if smoke else 40)
    tables.append(invoices_printed)
    sets = []
    receipt_texts: list[str] = []
    for number, folder in enumerate(folders):
        # The development set's texts are identified; the check set is for the fields alone.
        raw, lector, count, texts = measure(folder, args.limit, texts=number == 0)
        sets.append(Measured(folder.resolve().name, raw, lector, count))
        receipt_texts = receipt_texts or texts
    tables.append(receipts_table(sets))
    tables.append(reliability_table(sets))
    tables.append(line_items_table(folders[0], smoke=smoke, engines=ENGINES, limit=args.limit))
    kinds = {"receipt": receipt_texts, "invoice": invoice_texts, "text": text_pages()[: 1 if smoke else None]}
    tables.append(identification_table(kinds))
    publish("accuracy", tables, smoke=smoke)


if __name__ == "__main__":
    main()
