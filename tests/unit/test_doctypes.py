"""Document types are data: every schema is valid and pairs with a prompt."""

import pytest
from jsonschema import Draft202012Validator

from service.doctypes import define_type, document_types, strict_schema_problems
from service.errors import Conflict, ValidationFailed
from tests.helpers import ROOT

PROMPTS, SCHEMAS = ROOT / "prompts", ROOT / "schemas"

RECEIPT_FIELDS = (
    "merchant_name merchant_address merchant_phone date time currency "
    "subtotal tax tip total payment_method line_items"
).split()
INVOICE_FIELDS = (
    "invoice_number invoice_date due_date purchase_order vendor_name vendor_address vendor_tax_id "
    "customer_name customer_address currency subtotal tax total amount_due payment_terms iban bic "
    "payment_reference line_items"
).split()
LINE_ITEM_FIELDS = ["description", "quantity", "unit_price", "amount"]


def test_every_schema_is_a_valid_draft_2020_12_schema_with_a_prompt():
    for path in SCHEMAS.glob("*.json"):
        kind = document_types()[path.stem]  # a schema without a prompt would not be a type
        Draft202012Validator.check_schema(kind.schema)
        assert kind.schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert (PROMPTS / f"{path.stem}.md").exists()


def test_the_public_field_names_are_the_contract():
    types = document_types()
    assert {"text", "receipt", "invoice"} <= set(types) and types["text"].schema is None
    assert list(types["receipt"].schema["properties"]) == RECEIPT_FIELDS
    assert list(types["invoice"].schema["properties"]) == INVOICE_FIELDS
    for code in ("receipt", "invoice"):
        items = types[code].schema["properties"]["line_items"]["items"]
        assert list(items["properties"]) == LINE_ITEM_FIELDS


def test_schemas_fit_strict_structured_outputs():
    """Strict mode wants every property required and no extra ones; absent values are null."""
    for code in ("receipt", "invoice"):
        schema = document_types()[code].schema
        assert schema["additionalProperties"] is False and schema["required"] == list(schema["properties"])
        assert all("null" in field["type"] for field in schema["properties"].values())
        empty = dict.fromkeys(schema["properties"])
        assert not list(Draft202012Validator(schema).iter_errors(empty))
        wrong = {**empty, "total": "12.50", "date" if code == "receipt" else "invoice_date": "25/12/2018"}
        assert len(list(Draft202012Validator(schema).iter_errors(wrong))) == 2


def test_the_built_in_schemas_pass_the_strict_check_that_own_types_must_pass():
    for kind in document_types().values():
        if kind.schema is not None:
            assert strict_schema_problems(kind.schema) == [], kind.code


def test_an_own_type_must_be_strict_to_the_bottom_and_bounded():
    item = {"type": "object", "properties": {"sku": {"type": "string"}}}  # open, nothing required
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": item}},
    }
    assert strict_schema_problems(schema) == [
        "jsonSchema: $.items[] must set additionalProperties to false",
        "jsonSchema: $.items[] must list every property in required",
    ]
    assert strict_schema_problems({"type": "string"}) == [
        'jsonSchema: the root must be {"type": "object"} with properties'
    ]
    assert strict_schema_problems({"type": 7})[0].startswith("jsonSchema: not a valid JSON Schema")
    refused = ["jsonSchema: a $ref may only point to a part of the schema itself (#/...)"]
    for ref in ("http://169.254.169.254/schema.json", "#/$defs/missing"):
        assert strict_schema_problems({**schema, "$defs": {"x": {"$ref": ref}}}) == refused
    inside = {**schema, "$defs": {"x": {"type": "string"}, "y": {"$ref": "#/$defs/x"}}}
    assert strict_schema_problems(inside)[0].startswith("jsonSchema: $.items[]")
    deep: dict = {"type": "string"}
    for _ in range(12):
        deep = {"type": "object", "additionalProperties": False, "required": ["x"], "properties": {"x": deep}}
    assert "nested more than 10 levels" in strict_schema_problems(deep)[0]


def test_an_own_type_gets_a_prompt_from_its_definition_and_a_free_code():
    schema = {"type": "object", "additionalProperties": False, "required": ["a"], "properties": {"a": {}}}
    kind = define_type("my_type", " Mine ", "What it is. More.", schema, "Read a.", taken=document_types())
    assert (kind.code, kind.title, kind.description) == ("my_type", "Mine", "What it is.")
    assert kind.prompt == "# Mine\n\nWhat it is. More.\n\nRead a.\n"
    with pytest.raises(Conflict):
        define_type("invoice", "Mine", "", schema, None, taken=document_types())
    with pytest.raises(ValidationFailed) as refused:
        define_type("My Type!", "M", "", schema, None, taken=document_types())
    assert refused.value.details == [
        "codeType: 2 to 64 lower-case letters, digits or underscores",
        "name: 2 to 100 characters",
    ]
