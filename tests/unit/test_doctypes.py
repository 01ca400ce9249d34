"""Document types are data: every schema is valid and pairs with a prompt."""

from jsonschema import Draft202012Validator

from service.doctypes import document_types
from tests.helpers import ROOT

PROMPTS, SCHEMAS = ROOT / "prompts", ROOT / "schemas"

RECEIPT_FIELDS = (
    "merchant_name merchant_address merchant_phone date time currency "
    "subtotal tax tip total payment_method line_items"
).split()
INVOICE_FIELDS = (
    "invoice_number invoice_date due_date purchase_order vendor_name vendor_address vendor_tax_id "
    "customer_name customer_address currency subtotal tax total amount_due payment_terms iban line_items"
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
