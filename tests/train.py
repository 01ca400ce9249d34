"""``make train``: fit the field chooser and write ``service/fields/chooser.json``.

The chooser (``service.fields.chooser``) is a logistic regression per field over its
candidates' features (``service.fields.candidates``). It is fitted here on:

- the receipts of ``../shared/datasets/sroie-dev`` (never sroie-check, which is for measuring
  only), each read by both OCR engines, so the model knows ppocr's words (``auto``'s engine for
  receipts) and Tesseract's;
- the generated invoices (``fixtures/invoices.py``), from their text layer and their scans.

A candidate is right when its value is the truth's, compared as the accuracy benchmark compares
(``tests.benchmarks.accuracy``: dates as dates, totals as numbers, names after SROIE's
normalization). The same data gives the same file: the engines read the same words, the
fit is deterministic, and the numbers are rounded. ``--cache DIR`` keeps each document's
pages between runs (reading them is most of the time taken).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from sklearn.linear_model import LogisticRegression

from fixtures.invoices import invoices
from service.extract import extract
from service.fields import RULES
from service.fields.candidates import Candidate, Document
from service.fields.chooser import FIELDS, MODEL_FILE, ChooserFile, FieldModel, candidates_of
from service.fields.layout import lines_of
from service.models import PageResult
from service.options import Options
from tests.benchmarks.accuracy import DEFAULT_DATA, ENGINES, FIELD_MAP, field_matches

OUTPUT = Path(__file__).resolve().parents[1] / "service" / "fields" / MODEL_FILE
#: The engines every training document is read by.
TRAINING_ENGINES = ("ppocr", "tesseract")
#: The regularization of every field's regression (scikit-learn's C): the default, measured
#: against 0.1 and 10 on sroie-dev by leaving receipts out, made no difference worth a choice.
STRENGTH = 1.0
#: A field is null when its best candidate is less likely than this.
THRESHOLD = 0.05

_PAGES = msgspec.json.Decoder(list[PageResult])


class Example(msgspec.Struct):
    """One document to learn from: its type, its pages (with words) and its fields' truth,
    each with how a candidate is matched against it."""

    code: str
    pages: list[PageResult]
    truth: dict[str, Any]


def read(name: str, data: bytes, code: str, engine: str, cache: Path | None) -> list[PageResult]:
    """The pages of one document read as ``code`` by ``engine``, with their words."""
    cached = cache / f"{name}.{engine}.json" if cache is not None else None
    if cached is not None and cached.exists():
        return _PAGES.decode(cached.read_bytes())
    options = Options(engine=engine, document_type_code=code, include_words=True)
    pages = extract(data, options, ENGINES).pages
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(msgspec.json.encode(pages))
    return pages


def receipts(data: Path, cache: Path | None) -> list[Example]:
    """sroie-dev's receipts, each read by every training engine."""
    stems = sorted(path.stem for path in (data / "img").glob("*.jpg"))

    def one(stem: str) -> list[Example]:
        key = json.loads((data / "key" / f"{stem}.json").read_text(encoding="utf-8"))
        truth = {ours: key.get(theirs) for ours, theirs in FIELD_MAP.items()}
        image = (data / "img" / f"{stem}.jpg").read_bytes()
        return [
            Example("receipt", read(f"sroie-{stem}", image, "receipt", engine, cache), truth)
            for engine in TRAINING_ENGINES
        ]

    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return [example for examples in pool.map(one, stems) for example in examples]


def generated_invoices(cache: Path | None) -> list[Example]:
    """The generated invoices, from their text layer and their scans on every engine."""
    examples = []
    for truth, pdf, png in invoices(40):
        fields = {"total": truth.total, "invoice_date": truth.invoice_date}
        examples.append(
            Example("invoice", read(f"invoice-{truth.stem}", pdf, "invoice", "auto", cache), fields)
        )
        for engine in TRAINING_ENGINES:
            pages = read(f"invoice-{truth.stem}", png or b"", "invoice", engine, cache)
            examples.append(Example("invoice", pages, fields))
    return examples


#: The benchmark's comparison each field's candidates are judged by, where it is another field's.
COMPARED_AS = {"invoice_date": "date"}


def right(name: str, candidate: Candidate, truth: Any) -> bool:
    """Whether ``candidate`` is the truth of field ``name``, as the benchmark compares."""
    return field_matches(COMPARED_AS.get(name, name), candidate.value, str(truth))


def table(examples: list[Example], code: str, name: str) -> tuple[list[str], list[list[float]], list[int]]:
    """(feature names, one row per candidate, 1 where right) of one field over the examples."""
    find: Callable[[Document], list[Candidate]] = FIELDS[code][name]
    rows: list[dict[str, float]] = []
    labels: list[int] = []
    for example in examples:
        if example.code != code or example.truth.get(name) is None:
            continue
        lines = lines_of(example.pages)
        document = Document.of(lines, RULES[code](lines))
        for candidate in candidates_of(document, name, find):
            rows.append(candidate.features)
            labels.append(int(right(name, candidate, example.truth[name])))
    features = sorted({feature for row in rows for feature in row})
    return features, [[row.get(feature, 0.0) for feature in features] for row in rows], labels


def fit(features: list[str], rows: list[list[float]], labels: list[int]) -> FieldModel:
    """One field's regression, on standardized features, rounded for a stable file."""
    matrix = np.array(rows, dtype=float)
    mean = matrix.mean(axis=0)
    scale = matrix.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=STRENGTH, max_iter=5000)
    model.fit((matrix - mean) / scale, np.array(labels))
    return FieldModel(
        features=features,
        mean=[round(float(value), 6) for value in mean],
        scale=[round(float(value), 6) for value in scale],
        coefficients=[round(float(value), 6) for value in model.coef_[0]],
        intercept=round(float(model.intercept_[0]), 6),
        threshold=THRESHOLD,
    )


def main(argv: list[str] | None = None) -> None:
    """Read the training documents, fit every field, write the model file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="sroie-dev's folder")
    parser.add_argument("--cache", type=Path, help="keep each document's pages here between runs")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="the model file to write")
    args = parser.parse_args(argv)
    if not (args.data / "img").is_dir():
        sys.exit(f"No dataset at {args.data.resolve()}: pass --data DIR (img/, key/, box/).")
    examples = receipts(args.data, args.cache) + generated_invoices(args.cache)
    models: dict[str, FieldModel] = {}
    for code, fields in FIELDS.items():
        for name in fields:
            features, rows, labels = table(examples, code, name)
            if not any(labels):
                print(f"{code}.{name}: no right candidate in the training data, not fitted", file=sys.stderr)
                continue
            models[f"{code}.{name}"] = fit(features, rows, labels)
            print(f"{code}.{name}: {len(rows)} candidates, {sum(labels)} right", file=sys.stderr)
    about = (
        "The field chooser's logistic regressions, written by `make train` (tests/train.py) from "
        f"sroie-dev's {sum(e.code == 'receipt' for e in examples) // len(TRAINING_ENGINES)} receipts and "
        "40 generated invoices; do not edit by hand."
    )
    chooser = ChooserFile(about=about, models=models)
    args.output.write_bytes(msgspec.json.format(msgspec.json.encode(chooser), indent=1) + b"\n")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
