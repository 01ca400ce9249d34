"""Line items (``line_items`` of receipts and invoices) against known items, offline.

Measures Lector's word-geometry line items (service/fields/line_items.py) on:

(a) the invoice dev set (fixtures/invoices.py, whose truth lists the items drawn), read from
    the text layer of the PDF and from the 200 dpi scans on each engine;
(b) sroie-dev receipts labelled by hand from their images (fixtures/sroie_line_items.json; how
    they were made is in fixtures/sroie_line_items.md), on the engine receipts are read with by
    default (ppocr, prompts/engines.json).

An item is matched one to one, in order of the truth, to the first unmatched predicted item
that agrees with it; precision is matched over predicted items, recall matched over true items,
summed over a set, and F1 their harmonic mean. Three rules of agreement:

- **strict**: the amount is equal to the cent and the descriptions are equal after upper-casing
  and collapsing whitespace (SROIE's normalization);
- **near description**: the amount is equal and the descriptions, so normalized, differ by at
  most 20% of the true one's characters (edit distance), which forgives an OCR slip or two;
- **amount only**: the amount is equal.

``python -m tests.benchmarks.line_items`` prints the table and writes it into docs/benchmarks.md;
``--smoke`` reads one invoice and at most one receipt and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from fixtures.invoices import invoices
from service.engines import Engines
from service.extract import extract
from service.options import Options
from service.settings import Settings
from service.startup import prepare_process
from tests.benchmarks.tables import add_smoke_flag, publish, table, tesseract, title
from tests.helpers import edit_distance

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = ROOT / ".." / "shared" / "datasets" / "sroie-dev"
LABELS = ROOT / "fixtures" / "sroie_line_items.json"
#: The item-level F1 (strict) each set should reach.
GOAL = 0.85
#: How far apart two descriptions may be, as a share of the true one's length, under "near".
NEAR = 0.2

Item = dict[str, Any]
Rule = Callable[[Item, Item], bool]
#: (predicted items, true items) of each document of a set.
Pairs = list[tuple[list[Item] | None, list[Item]]]


def normalize(text: object) -> str:
    """SROIE's text normalization: upper case, whitespace collapsed."""
    return re.sub(r"\s+", " ", str(text or "").upper()).strip()


def _same_amount(ours: Item, truth: Item) -> bool:
    if ours.get("amount") is None or truth.get("amount") is None:
        return False
    return Decimal(str(ours["amount"])).quantize(Decimal("0.01")) == Decimal(str(truth["amount"])).quantize(
        Decimal("0.01")
    )


def strict(ours: Item, truth: Item) -> bool:
    """Equal amounts and equal descriptions after normalization."""
    return _same_amount(ours, truth) and normalize(ours.get("description")) == normalize(truth["description"])


def near(ours: Item, truth: Item) -> bool:
    """Equal amounts and descriptions within ``NEAR`` of the true one's length (edit distance)."""
    if not _same_amount(ours, truth):
        return False
    expected, actual = normalize(truth["description"]), normalize(ours.get("description"))
    return edit_distance(expected, actual) <= NEAR * max(len(expected), 1)


def amount_only(ours: Item, truth: Item) -> bool:
    """Equal amounts."""
    return _same_amount(ours, truth)


RULES: dict[str, Rule] = {"strict": strict, "near description": near, "amount only": amount_only}


@dataclass
class Counts:
    """Matched, predicted and true items summed over a set."""

    matched: int = 0
    predicted: int = 0
    true: int = 0

    def add(self, ours: Sequence[Item] | None, truth: Sequence[Item], rule: Rule) -> None:
        """Count one document's items, each true item matched to at most one of ours."""
        ours = list(ours or [])
        free = list(range(len(ours)))
        for expected in truth:
            hit = next((index for index in free if rule(ours[index], expected)), None)
            if hit is not None:
                free.remove(hit)
                self.matched += 1
        self.predicted += len(ours)
        self.true += len(truth)

    def f1(self) -> float:
        """The harmonic mean of precision and recall (0 when either is)."""
        precision = self.matched / self.predicted if self.predicted else 0.0
        recall = self.matched / self.true if self.true else 0.0
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    def precision(self) -> float:
        """Matched over predicted."""
        return self.matched / self.predicted if self.predicted else 0.0

    def recall(self) -> float:
        """Matched over true."""
        return self.matched / self.true if self.true else 0.0


def score(pairs: Sequence[tuple[Sequence[Item] | None, Sequence[Item]]]) -> dict[str, Counts]:
    """Each rule's counts over (predicted items, true items) pairs, one pair a document."""
    counts = {name: Counts() for name in RULES}
    for ours, truth in pairs:
        for name, rule in RULES.items():
            counts[name].add(ours, truth, rule)
    return counts


def read_items(data: bytes, code: str, engine: str, engines: Engines) -> list[Item] | None:
    """Lector's line items of one document of type ``code`` read by ``engine`` (the core, no HTTP)."""
    extraction = extract(data, Options(document_type_code=code, engine=engine), engines)
    return (extraction.fields or {}).get("line_items")


def invoice_sets(count: int, engines: Engines) -> dict[str, Pairs]:
    """(a): the invoice dev set's (predicted, true) items, per way of reading it."""
    kinds = {"invoices, text layer (PDF)": None, "invoices, scan, ppocr": "ppocr",
             "invoices, scan, tesseract": "tesseract"}  # fmt: skip
    sets: dict[str, Pairs] = {kind: [] for kind in kinds}
    for truth, pdf, png in invoices(count):
        for kind, engine in kinds.items():
            items = read_items(pdf if engine is None else png or b"", "invoice", engine or "auto", engines)
            sets[kind].append((items, truth.line_items))
    return sets


def receipt_set(data: Path, limit: int | None, engines: Engines) -> Pairs:
    """(b): the labelled sroie-dev receipts' (predicted, true) items, read on ppocr."""
    labels: dict[str, list[Item]] = json.loads(LABELS.read_text(encoding="utf-8"))
    stems = sorted(stem for stem in labels if (data / "img" / f"{stem}.jpg").is_file())[:limit]

    def one(stem: str) -> tuple[list[Item] | None, list[Item]]:
        image = (data / "img" / f"{stem}.jpg").read_bytes()
        return read_items(image, "receipt", "ppocr", engines), labels[stem]

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(one, stems))


def line_items_table(
    data: Path = DEFAULT_DATA,
    *,
    smoke: bool = False,
    engines: Engines | None = None,
    limit: int | None = None,
) -> str:
    """The line-items table: a row per set, precision, recall and F1 under each rule. ``engines``:
    the process's registry, when the caller has one (accuracy's ``ENGINES``)."""
    engines = engines or prepare_process(Settings())
    sets = invoice_sets(1 if smoke else 40, engines)
    # The labels are sroie-dev's: another data set (accuracy's smoke receipt) has no items known.
    labelled = data.name == "sroie-dev" and (data / "img").is_dir()
    receipts = receipt_set(data, 1 if smoke else limit, engines) if labelled else []
    if receipts:
        sets[f"sroie-dev receipts labelled by hand ({len(receipts)}), ppocr"] = receipts
    heading = title("Line items", "item-level F1 (fixtures/sroie_line_items.md)", tesseract())
    columns = ["set", "true items", "predicted", "strict: P / R / F1", "near description: F1",
               "amount only: F1", "goal (strict F1)"]  # fmt: skip
    rows = []
    for name, pairs in sets.items():
        counts = score(pairs)
        first = counts["strict"]
        rows.append((
            name, str(first.true), str(first.predicted),
            f"{first.precision():.3f} / {first.recall():.3f} / {first.f1():.3f}",
            f"{counts['near description'].f1():.3f}", f"{counts['amount only'].f1():.3f}", f"≥ {GOAL:.2f}",
        ))  # fmt: skip
    return table(heading, columns, rows)


def main(argv: list[str] | None = None) -> None:
    """Measure, then print the table and write it into docs/benchmarks.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the sroie-dev folder")
    parser.add_argument("--limit", type=int, help="only the first N labelled receipts (a quick look)")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    publish("line_items", [line_items_table(args.data, smoke=args.smoke, limit=args.limit)], smoke=args.smoke)


if __name__ == "__main__":
    main()
