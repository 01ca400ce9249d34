"""Normalizing a vision model's reply to its schema, and salvaging what is left of a bad one."""

import json

from service.engines.replies import has_values, normalize, salvage
from tests.helpers import ROOT

INVOICE = json.loads((ROOT / "schemas" / "invoice.json").read_text())
OPEN = {"type": "object", "properties": {"n": {"type": ["number", "null"]}}, "required": ["n"]}


def test_numbers_dates_and_codes_are_parsed_as_the_rules_parse_them():
    reply = normalize(
        {"invoice_number": 48213, "total": "€ 2.321,00", "tax": "", "invoice_date": "02/07/2015",
         "currency": "eur", "due_date": "soon"},
        INVOICE,
    )  # fmt: skip
    assert reply["invoice_number"] == "48213"
    assert reply["total"] == 2321.0 and reply["tax"] is None
    assert reply["invoice_date"] == "2015-07-02" and reply["currency"] == "EUR"
    assert reply["due_date"] == "soon"  # not a date: left for the validator to name
    assert reply["vendor_name"] is None and set(reply) == set(INVOICE["properties"])


def test_only_a_closed_object_loses_unknown_keys():
    assert normalize({"n": "1,5", "note": "x"}, OPEN) == {"n": 1.5, "note": "x"}
    closed = {**OPEN, "additionalProperties": False}
    assert normalize({"n": "12", "note": "x"}, closed) == {"n": 12.0}


def test_salvage_nulls_the_broken_fields_and_names_their_paths():
    reply = normalize({"total": "nine", "vendor_name": "Acme", "line_items": [{"amount": "x"}]}, INVOICE)
    fields, paths = salvage(reply, INVOICE)
    assert fields["total"] is None and fields["line_items"] is None and fields["vendor_name"] == "Acme"
    assert paths == ["$.line_items[0].amount (type)", "$.total (type)"]
    assert has_values(fields) and not has_values({"total": None, "line_items": []})
