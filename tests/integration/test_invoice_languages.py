"""Invoices in eight languages and five layouts (fixtures/invoices.py), read from their text
layer by the field rules: the goals of the extraction-quality work, held by a test."""

from __future__ import annotations

import pytest

from fixtures.invoices import invoices
from service.extract import extract
from service.options import Options
from service.settings import Settings
from service.startup import prepare_process

FIELDS = ("invoice_number", "invoice_date", "due_date", "total", "currency")


@pytest.fixture(scope="module")
def readings():
    engines = prepare_process(Settings())
    return [
        (truth, extract(pdf, Options(document_type_code="invoice"), engines).fields or {})
        for truth, pdf, _ in invoices(40, scans=False)
    ]


@pytest.mark.parametrize("name", FIELDS)
def test_each_field_is_read_on_nine_invoices_in_ten(readings, name):
    right = [fields.get(name) == getattr(truth, name) for truth, fields in readings]
    misses = [
        (truth.stem, truth.language, truth.layout)
        for (truth, _), ok in zip(readings, right, strict=True)
        if not ok
    ]
    assert sum(right) >= 0.9 * len(readings), misses


def test_every_language_and_layout_is_in_the_set(readings):
    assert {truth.language for truth, _ in readings} == {"en", "fr", "de", "nl", "es", "it", "pt", "pl"}
    assert {truth.layout for truth, _ in readings} == {"inline", "stacked", "table", "columns", "reversed"}
