"""Azure's models as Lector reads them: which document type each is, what it answers, and the
one table of Lector's fields under Azure's field names.

``prebuilt-read`` and ``prebuilt-layout`` read a plain ``text`` document; ``prebuilt-receipt``
and ``prebuilt-invoice`` read Lector's ``receipt`` and ``invoice`` and answer their fields under
Azure's names (``RECEIPT`` and ``INVOICE``). A key's own document type is a custom model whose
id is the type's code and whose fields keep the type's own names and JSON Schema types.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from service.api.dialects.document_intelligence.wire import FieldSchema
from service.doctypes import DocumentType

#: When the built-in models were "made", as ``GET /documentModels`` shows it.
PREBUILT_DATE = "2024-11-30T00:00:00Z"


class FieldMap(NamedTuple):
    """One of Azure's fields and the Lector field it is read from.

    ``type`` is Azure's field type (string, date, time, phoneNumber, number, currency, address,
    array). An ``array`` holds objects of ``items``: read from the Lector list ``lector``, or,
    when ``lector`` is None, one object made of top-level Lector fields (PaymentDetails)."""

    lector: str | None
    azure: str
    type: str
    items: tuple[FieldMap, ...] = ()


RECEIPT = (
    FieldMap("merchant_name", "MerchantName", "string"),
    FieldMap("merchant_address", "MerchantAddress", "address"),
    FieldMap("merchant_phone", "MerchantPhoneNumber", "phoneNumber"),
    FieldMap("date", "TransactionDate", "date"),
    FieldMap("time", "TransactionTime", "time"),
    FieldMap("subtotal", "Subtotal", "currency"),
    FieldMap("tax", "TotalTax", "currency"),
    FieldMap("tip", "Tip", "currency"),
    FieldMap("total", "Total", "currency"),
    FieldMap(
        "line_items",
        "Items",
        "array",
        (
            FieldMap("description", "Description", "string"),
            FieldMap("quantity", "Quantity", "number"),
            FieldMap("unit_price", "Price", "currency"),
            FieldMap("amount", "TotalPrice", "currency"),
        ),
    ),
)
INVOICE = (
    FieldMap("invoice_number", "InvoiceId", "string"),
    FieldMap("invoice_date", "InvoiceDate", "date"),
    FieldMap("due_date", "DueDate", "date"),
    FieldMap("purchase_order", "PurchaseOrder", "string"),
    FieldMap("vendor_name", "VendorName", "string"),
    FieldMap("vendor_address", "VendorAddress", "address"),
    FieldMap("vendor_tax_id", "VendorTaxId", "string"),
    FieldMap("customer_name", "CustomerName", "string"),
    FieldMap("customer_address", "CustomerAddress", "address"),
    FieldMap("subtotal", "SubTotal", "currency"),
    FieldMap("tax", "TotalTax", "currency"),
    FieldMap("total", "InvoiceTotal", "currency"),
    FieldMap("amount_due", "AmountDue", "currency"),
    FieldMap("payment_terms", "PaymentTerm", "string"),
    FieldMap(
        "line_items",
        "Items",
        "array",
        (
            FieldMap("description", "Description", "string"),
            FieldMap("quantity", "Quantity", "number"),
            FieldMap("unit_price", "UnitPrice", "currency"),
            FieldMap("amount", "Amount", "currency"),
        ),
    ),
    FieldMap(
        None,
        "PaymentDetails",
        "array",
        (FieldMap("iban", "IBAN", "string"), FieldMap("bic", "SWIFT", "string")),
    ),
)
#: The Lector field whose ISO code every currency value of a document carries.
CURRENCY = "currency"


class Model(NamedTuple):
    """One model: its id, the Lector type it reads, and what it answers."""

    model_id: str
    #: Lector's document type code.
    type_code: str
    description: str
    #: Azure's docType of its documents (None: it answers no documents).
    doc_type: str | None = None
    #: It answers paragraph roles, tables and Markdown.
    layout: bool = True
    #: Its fields under Azure's names (empty for a custom model, whose fields keep their own).
    fields: tuple[FieldMap, ...] = ()
    #: A key's own type's JSON Schema (a custom model).
    schema: dict[str, Any] | None = None
    created: str = PREBUILT_DATE


PREBUILT = {
    model.model_id: model
    for model in (
        Model("prebuilt-read", "text", "Extract text: words, lines, paragraphs and languages.", layout=False),
        Model(
            "prebuilt-layout",
            "text",
            "Extract text and layout: paragraphs with roles, tables, key-value pairs.",
        ),
        Model(
            "prebuilt-receipt",
            "receipt",
            "Extract the fields of a receipt.",
            "receipt.retailMeal",
            fields=RECEIPT,
        ),
        Model("prebuilt-invoice", "invoice", "Extract the fields of an invoice.", "invoice", fields=INVOICE),
    )
}


def custom_model(kind: DocumentType, created: str | None) -> Model:
    """A key's own document type as a custom model: its code is the model id and its docType."""
    return Model(
        kind.code,
        kind.code,
        kind.description or kind.title,
        kind.code,
        schema=kind.schema,
        created=created or PREBUILT_DATE,
    )


def field_schema(model: Model) -> dict[str, FieldSchema]:
    """The fields a model's documents have, as ``docTypes[].fieldSchema`` describes them."""
    if model.schema is not None:
        return {name: _from_json_schema(part) for name, part in model.schema.get("properties", {}).items()}
    return {field.azure: _described(field) for field in model.fields}


def _described(field: FieldMap) -> FieldSchema:
    if field.type != "array":
        return FieldSchema(type=field.type)
    item = FieldSchema(type="object", properties={part.azure: _described(part) for part in field.items})
    return FieldSchema(type="array", items=item)


#: JSON Schema's types as Azure's field types.
JSON_TYPES = {"string": "string", "number": "number", "integer": "integer", "boolean": "boolean"}


def field_type(part: dict[str, Any]) -> str:
    """Azure's type of a field a JSON Schema describes (its first type other than null)."""
    given = part.get("type", "string")
    types = [given] if isinstance(given, str) else [kind for kind in given if kind != "null"]
    kind = types[0] if types else "string"
    dated = part.get("format") == "date" or str(part.get("pattern", "")).startswith(r"^\d{4}-")
    if kind == "string" and dated:
        return "date"
    return kind if kind in ("array", "object") else JSON_TYPES.get(kind, "string")


def _from_json_schema(part: Any, depth: int = 0) -> FieldSchema:
    """A JSON Schema part as Azure's field schema, at most 8 levels deep."""
    if not isinstance(part, dict):
        return FieldSchema(type="string")
    kind = field_type(part)
    description = part.get("description") if isinstance(part.get("description"), str) else None
    if depth >= 8:
        return FieldSchema(type=kind, description=description)
    if kind == "array":
        return FieldSchema(
            type=kind, description=description, items=_from_json_schema(part.get("items"), depth + 1)
        )
    if kind == "object":
        given = part.get("properties")
        properties: dict[str, Any] = given if isinstance(given, dict) else {}
        inner = {name: _from_json_schema(value, depth + 1) for name, value in properties.items()}
        return FieldSchema(type=kind, description=description, properties=inner)
    return FieldSchema(type=kind, description=description)
