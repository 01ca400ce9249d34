"""The field chooser: a small learned model picks each field's value among its candidates.

For the fields in ``FIELDS``, every candidate (``service.fields.candidates``, and the rules'
own answer) is scored by a logistic regression over its features, and the best one is
answered, with the model's probability as its confidence. When none reaches the model's
threshold the rules' answer stands, with the model's low probability of it; when the rules
found none either, the field is null: a field the document does not show is not a guess.

The model is data, not code: ``chooser.json`` beside this module holds each field's feature
names, their scaling and the coefficients, fitted by ``make train`` (``tests/train.py``) on
sroie-dev's receipts and the generated invoices. Scoring is a dot product here, so scikit-learn,
which fits it, is not needed at run time, and nothing is trained or downloaded then.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from importlib import resources

import msgspec

from service.fields import labels
from service.fields.candidates import Candidate, Document, addresses, amounts, dates, names
from service.fields.found import Found
from service.fields.layout import Line

#: The model file, beside this module.
MODEL_FILE = "chooser.json"

#: For each document type, the fields the chooser picks and how their candidates are found.
FIELDS: dict[str, dict[str, Callable[[Document], list[Candidate]]]] = {
    "receipt": {
        "total": amounts,
        "date": dates,
        "merchant_name": names,
        "merchant_address": addresses,
    },
    "invoice": {
        "total": amounts,
        "invoice_date": lambda document: dates(document, "invoice_date", labels.DUE_DATE),
    },
}


class FieldModel(msgspec.Struct, forbid_unknown_fields=True):
    """One field's logistic regression: features standardized by ``mean`` and ``scale``."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coefficients: list[float]
    intercept: float
    #: Under this probability the best candidate is not answered (the rules' answer stands).
    threshold: float

    def probability(self, candidate: Candidate) -> float:
        """How likely the model finds ``candidate`` to be the field's value, 0 to 1."""
        score = self.intercept + sum(
            weight * (candidate.features.get(name, 0.0) - mean) / scale
            for name, mean, scale, weight in zip(
                self.features, self.mean, self.scale, self.coefficients, strict=True
            )
        )
        return 1 / (1 + math.exp(-max(min(score, 50.0), -50.0)))


class ChooserFile(msgspec.Struct, forbid_unknown_fields=True):
    """``chooser.json``: how it was made, and a model per ``<type>.<field>``."""

    about: str
    models: dict[str, FieldModel]


@cache
def models() -> dict[str, FieldModel]:
    """The shipped models by ``<type>.<field>`` (read once per process)."""
    raw = resources.files("service.fields").joinpath(MODEL_FILE).read_bytes()
    return msgspec.json.decode(raw, type=ChooserFile).models


def choose(code: str, lines: list[Line], rules: dict[str, Found]) -> dict[str, Found]:
    """The chooser's answer for each field it has a model for on documents of type ``code``:
    the best candidate with its probability and words. When no candidate reaches the model's
    threshold, the rules' answer stands, with the model's (low) probability of it; with none,
    the field is null. Fields without a model are not in the answer (the rules' answer stands
    for them, with the rules' confidence)."""
    chosen: dict[str, Found] = {}
    document = Document.of(lines, rules)
    for name, find in FIELDS.get(code, {}).items():
        model = models().get(f"{code}.{name}")
        if model is None:
            continue
        choice = decide(model, candidates_of(document, name, find), rules.get(name))
        if choice is None:
            chosen[name] = Found(None, 0.0)
            continue
        candidate, probability = choice
        page = lines[candidate.line].page if candidate.words else None
        chosen[name] = Found(candidate.value, round(probability, 3), candidate.words, page)
    return chosen


def decide(
    model: FieldModel, candidates: list[Candidate], ruled: Found | None
) -> tuple[Candidate, float] | None:
    """The candidate answered, and its probability: the most probable one when it reaches the
    model's threshold, else the rules' own answer (a labelled value the model finds unlikely is
    still the best the document offers), else None."""
    scored = [(model.probability(candidate), -number) for number, candidate in enumerate(candidates)]
    if not scored:
        return None
    probability, number = max(scored)
    if probability >= model.threshold:
        return candidates[-number], probability
    for (probability, _), candidate in zip(scored, candidates, strict=True):
        if ruled is not None and ruled.value is not None and candidate.value == ruled.value:
            return candidate, probability
    return None


def candidates_of(
    document: Document, name: str, find: Callable[[Document], list[Candidate]]
) -> list[Candidate]:
    """The candidates ``find`` sees for field ``name``, each with how sure the rules were of it
    (``rules_confidence``, 0 for a value they did not answer); and the rules' answer when it is
    none of them (a total after cash rounding, an address of lines apart): ``rules_only``, with
    no words."""
    found = find(document)
    ruled = document.rules.get(name)
    if ruled is None or ruled.value is None:
        return found
    for candidate in found:
        candidate.features["rules_confidence"] = ruled.confidence if candidate.value == ruled.value else 0.0
    if all(candidate.value != ruled.value for candidate in found):
        features = {"rules": 1.0, "rules_only": 1.0, "rules_confidence": ruled.confidence}
        found.append(Candidate(ruled.value, 0, (), features))
    return found
