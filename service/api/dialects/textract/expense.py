"""AnalyzeExpense: a receipt's or an invoice's typed fields as Textract's expense document.

The document is read as a receipt or an invoice, whichever Lector identifies it as (the
``auto`` type, narrowed to those two); a document that is neither answers its blocks with no
fields. ``EXPENSE_TYPES`` is the one table between Lector's fields and Textract's types; a
field with no Textract type (a receipt's time, an invoice's IBAN) is answered as ``OTHER``,
its label being Lector's name for it. Amounts carry the document's currency when it is known.
A value's geometry is its field evidence; its label, the key of the key-value pair whose
value holds it, when there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from service.api.dialects.textract.blocks import geometry
from service.api.dialects.textract.wire import (
    Block,
    ExpenseCurrency,
    ExpenseDetection,
    ExpenseDocument,
    ExpenseField,
    ExpenseType,
    LineItemFields,
    LineItemGroup,
)
from service.models import PageResult
from service.structure import KeyValue

#: The document types AnalyzeExpense reads a document as.
EXPENSE_DOCUMENT_TYPES = ["receipt", "invoice"]
#: Lector's receipt and invoice fields by Textract's summary field types.
EXPENSE_TYPES: dict[str, str] = {
    "merchant_name": "VENDOR_NAME",
    "vendor_name": "VENDOR_NAME",
    "merchant_address": "VENDOR_ADDRESS",
    "vendor_address": "VENDOR_ADDRESS",
    "merchant_phone": "VENDOR_PHONE",
    "vendor_tax_id": "TAX_PAYER_ID",
    "customer_name": "RECEIVER_NAME",
    "customer_address": "RECEIVER_ADDRESS",
    "date": "INVOICE_RECEIPT_DATE",
    "invoice_date": "INVOICE_RECEIPT_DATE",
    "invoice_number": "INVOICE_RECEIPT_ID",
    "due_date": "DUE_DATE",
    "purchase_order": "PO_NUMBER",
    "payment_terms": "PAYMENT_TERMS",
    "subtotal": "SUBTOTAL",
    "tax": "TAX",
    "tip": "GRATUITY",
    "total": "TOTAL",
    "amount_due": "AMOUNT_DUE",
}
#: A line item's fields by Textract's types (the row itself is EXPENSE_ROW).
LINE_ITEM_TYPES: dict[str, str] = {
    "description": "ITEM",
    "quantity": "QUANTITY",
    "unit_price": "UNIT_PRICE",
    "amount": "PRICE",
}
#: The fields that are amounts of money, which carry the currency.
AMOUNTS = frozenset({"subtotal", "tax", "tip", "total", "amount_due", "unit_price", "amount"})
#: Fields answered otherwise: the currency (on the amounts) and the line items (their group).
_NOT_SUMMARY = frozenset({"currency", "line_items"})
#: The most line items answered.
MAX_LINE_ITEMS = 500


def expense_document(
    result: Mapping[str, Any], pages: list[PageResult], pairs: Sequence[KeyValue], blocks: list[Block]
) -> ExpenseDocument:
    """One expense document from an extraction's result (its fields, confidences and
    evidence), its pages, its key-value pairs and its blocks."""
    fields = result.get("fields") or {}
    confidence = result.get("field_confidence") or {}
    evidence = result.get("field_evidence") or {}
    currency = fields.get("currency") if isinstance(fields.get("currency"), str) else None
    by_page = {page.page: page for page in pages}
    summary = []
    for name, value in fields.items():
        if name in _NOT_SUMMARY or value is None or isinstance(value, list | dict):
            continue
        sure = _percent(confidence.get(name, 0.5))
        found = evidence.get(name) or {}
        page = by_page.get(found.get("page") or 0)
        box = found.get("box")
        where = geometry(box, page) if page is not None and isinstance(box, list) and len(box) == 4 else None
        kind = EXPENSE_TYPES.get(name, "OTHER")
        label = _label(pairs, found.get("page"), box, page)
        if label is None and kind == "OTHER":
            label = ExpenseDetection(text=name.replace("_", " "), confidence=sure)
        summary.append(
            ExpenseField(
                type=ExpenseType(text=kind, confidence=sure),
                value_detection=ExpenseDetection(text=str(value), confidence=sure, geometry=where),
                label_detection=label,
                page_number=page.page if page is not None else 1,
                currency=ExpenseCurrency(code=currency) if currency and name in AMOUNTS else None,
            )
        )
    listed = fields.get("line_items")
    items: list[Any] = listed if isinstance(listed, list) else []
    rows = [_row(item, currency) for item in items[:MAX_LINE_ITEMS] if isinstance(item, dict)]
    groups = [LineItemGroup(line_item_group_index=1, line_items=rows)] if rows else []
    return ExpenseDocument(expense_index=1, summary_fields=summary, line_item_groups=groups, blocks=blocks)


def _row(item: Mapping[str, Any], currency: str | None) -> LineItemFields:
    """One line item: its fields, then the whole row as EXPENSE_ROW."""
    fields = []
    for name, kind in LINE_ITEM_TYPES.items():
        value = item.get(name)
        if value is None:
            continue
        fields.append(
            ExpenseField(
                type=ExpenseType(text=kind, confidence=_percent(0.5)),
                value_detection=ExpenseDetection(text=str(value), confidence=_percent(0.5)),
                currency=ExpenseCurrency(code=currency) if currency and name in AMOUNTS else None,
            )
        )
    row = " ".join(str(item[name]) for name in LINE_ITEM_TYPES if item.get(name) is not None)
    fields.append(
        ExpenseField(
            type=ExpenseType(text="EXPENSE_ROW", confidence=_percent(0.5)),
            value_detection=ExpenseDetection(text=row, confidence=_percent(0.5)),
        )
    )
    return LineItemFields(line_item_expense_fields=fields)


def _label(
    pairs: Sequence[KeyValue], page_number: Any, box: Any, page: PageResult | None
) -> ExpenseDetection | None:
    """The key of the pair whose value holds the box ``box`` of page ``page_number``."""
    if page is None or not isinstance(box, list) or len(box) != 4:
        return None
    for pair in pairs:
        value = pair.value
        if value is None or value.page != page_number:
            continue
        if (
            value.box[0] <= box[2]
            and box[0] <= value.box[2]
            and value.box[1] <= box[3]
            and box[1] <= value.box[3]
        ):
            return ExpenseDetection(
                text=pair.key.text.rstrip(":"),
                confidence=_percent(pair.key.confidence),
                geometry=geometry(pair.key.box, page),
            )
    return None


def _percent(confidence: Any) -> float:
    value = float(confidence) if isinstance(confidence, int | float) else 0.5
    return round(min(max(value, 0.0), 1.0) * 100, 3)
