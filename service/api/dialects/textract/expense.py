"""AnalyzeExpense: a receipt's or an invoice's typed fields as Textract's expense document.

The document is read as a receipt or an invoice, whichever Lector identifies it as (the
``auto`` type, narrowed to those two); a document that is neither answers its blocks with no
fields. ``EXPENSE_TYPES`` is the one table between Lector's fields and Textract's types; a
field with no Textract type (a receipt's time, an invoice's IBAN) is answered as ``OTHER``,
its label being Lector's name for it. Amounts carry the document's currency when it is known.
A value's geometry is its field evidence; its label, the key of the key-value pair whose
value holds it, when there is one (a field Textract would call OTHER with no printed label is
labelled with Lector's name for it, placed on its value, since AWS's parsers need a label's
geometry). A summary amount carries the currency; a line item's does not (trp's expense
schema refuses a Currency there). A line item's values are placed where
``service.structure.items`` finds them (on the words of its table row), and the row's
geometry is around them; AWS's parsers need every row to have one.
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
from service.models import FieldEvidence, PageResult
from service.structure import KeyValue, Structure
from service.structure.items import item_evidence

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
    result: Mapping[str, Any], pages: list[PageResult], structure: Structure, blocks: list[Block]
) -> ExpenseDocument:
    """One expense document from an extraction's result (its fields, confidences and
    evidence), its pages, their structure (key-value pairs and tables) and its blocks."""
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
        where = geometry(box, page) if page is not None and box is not None and _is_box(box) else None
        kind = EXPENSE_TYPES.get(name, "OTHER")
        label = _label(structure.key_values, found.get("page"), box, page)
        if label is None and kind == "OTHER" and where is not None:
            # No printed label: Lector's name for the field, placed on its value.
            label = ExpenseDetection(text=name.replace("_", " "), confidence=sure, geometry=where)
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
    items = [
        item
        for item in (listed if isinstance(listed, list) else [])[:MAX_LINE_ITEMS]
        if isinstance(item, dict)
    ]
    placed = item_evidence(items, pages, structure.tables)
    lines = [_row(item, found, by_page) for item, found in zip(items, placed, strict=True)]
    groups = [LineItemGroup(line_item_group_index=1, line_items=lines)] if lines else []
    return ExpenseDocument(expense_index=1, summary_fields=summary, line_item_groups=groups, blocks=blocks)


def _row(
    item: Mapping[str, Any], found: Mapping[str, FieldEvidence], by_page: Mapping[int, PageResult]
) -> LineItemFields:
    """One line item: its fields, each placed where ``found`` says it was read, then the whole
    row as EXPENSE_ROW."""
    values = {
        name: item[name]
        for name in LINE_ITEM_TYPES
        if isinstance(item.get(name), str | int | float) and not isinstance(item.get(name), bool)
    }
    fields = []
    boxes: list[tuple[int, list[int]]] = []
    for name, kind in LINE_ITEM_TYPES.items():
        if name not in values:
            continue
        place = found.get(name)
        page = by_page.get(place.page or 0) if place is not None else None
        where = None
        if place is not None and page is not None and _is_box(place.box):
            assert place.box is not None
            where = geometry(place.box, page)
            boxes.append((page.page, place.box))
        sure = _percent(place.confidence if place is not None and where is not None else 0.5)
        fields.append(
            ExpenseField(
                type=ExpenseType(text=kind, confidence=sure),
                value_detection=ExpenseDetection(text=str(values[name]), confidence=sure, geometry=where),
                page_number=page.page if page is not None else None,
            )
        )
    text = " ".join(str(values[name]) for name in LINE_ITEM_TYPES if name in values)
    on = by_page.get(boxes[0][0]) if boxes else None
    around = [box for number, box in boxes if on is not None and number == on.page]
    fields.append(
        ExpenseField(
            type=ExpenseType(text="EXPENSE_ROW", confidence=_percent(0.5)),
            value_detection=ExpenseDetection(
                text=text,
                confidence=_percent(0.5),
                geometry=geometry(_around(around), on) if on is not None else None,
            ),
            page_number=on.page if on is not None else None,
        )
    )
    return LineItemFields(line_item_expense_fields=fields)


def _is_box(box: Any) -> bool:
    return isinstance(box, list | tuple) and len(box) == 4


def _around(boxes: Sequence[Sequence[int]]) -> tuple[int, int, int, int]:
    return (
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    )


def _label(
    pairs: Sequence[KeyValue], page_number: Any, box: Any, page: PageResult | None
) -> ExpenseDetection | None:
    """The key of the pair whose value overlaps the box ``box`` of page ``page_number`` most
    (boxes that only touch do not overlap: "Date: 25/12/2018  Time: 14:05" has two pairs)."""
    if page is None or not _is_box(box):
        return None
    best, most = None, 0
    for pair in pairs:
        value = pair.value
        if value is None or value.page != page_number:
            continue
        width = min(value.box[2], box[2]) - max(value.box[0], box[0])
        height = min(value.box[3], box[3]) - max(value.box[1], box[1])
        if width > 0 and height > 0 and width * height > most:
            best, most = pair, width * height
    if best is None:
        return None
    return ExpenseDetection(
        text=best.key.text.rstrip(":"),
        confidence=_percent(best.key.confidence),
        geometry=geometry(best.key.box, page),
    )


def _percent(confidence: Any) -> float:
    value = float(confidence) if isinstance(confidence, int | float) else 0.5
    return round(min(max(value, 0.0), 1.0) * 100, 3)
