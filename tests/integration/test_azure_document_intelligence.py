"""The Azure AI Document Intelligence dialect, driven by Azure's own SDK
(``azure-ai-documentintelligence`` from PyPI, unchanged: only the endpoint is Lector's) against
a real Lector API and real workers on loopback, plus the wire details the SDK does not check.

Each document is analyzed once per module and asserted on many ways; the SDK polls as soon as
Lector's Retry-After (1 s) allows, and a result request waits for the analysis to end.
"""

from __future__ import annotations

import base64
import datetime
import uuid

import httpx
import pytest
from azure.ai.documentintelligence import DocumentIntelligenceAdministrationClient, DocumentIntelligenceClient
from azure.ai.documentintelligence.models import (
    AnalyzeDocumentRequest,
    AnalyzeResult,
    DocumentAnalysisFeature,
    DocumentContentFormat,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError

from fixtures.generate import INVOICE_FIELDS, PAGES, RECEIPT_FIELDS
from tests.helpers import ADMIN_KEY, API_KEY, OTHER_KEY

API = "/documentintelligence/documentModels"
VERSION = {"api-version": "2024-11-30"}


def client_for(server, key: str = API_KEY, **config) -> DocumentIntelligenceClient:
    return DocumentIntelligenceClient(server.url, AzureKeyCredential(key), **config)


@pytest.fixture(scope="module")
def azure(server, workers) -> DocumentIntelligenceClient:
    return client_for(server)


@pytest.fixture(scope="module")
def receipt(azure, docs):
    """The receipt as raw bytes, and the poller that read it."""
    poller = azure.begin_analyze_document("prebuilt-receipt", docs["receipt.png"].read_bytes())
    return poller.result(), poller


@pytest.fixture(scope="module")
def invoice(azure, docs) -> AnalyzeResult:
    """The invoice as base64Source."""
    body = AnalyzeDocumentRequest(bytes_source=docs["invoice.png"].read_bytes())
    return azure.begin_analyze_document("prebuilt-invoice", body).result()


@pytest.fixture(scope="module")
def layout(azure, docs) -> AnalyzeResult:
    return azure.begin_analyze_document(
        "prebuilt-layout",
        docs["invoice.png"].read_bytes(),
        output_content_format=DocumentContentFormat.MARKDOWN,
        features=[DocumentAnalysisFeature.KEY_VALUE_PAIRS, DocumentAnalysisFeature.LANGUAGES],
    ).result()


def assert_spans_true(result: AnalyzeResult) -> int:
    """Every word's, line's, paragraph's, pair's and field's one span holds its content; how
    many spans were checked."""
    content = result.content
    checked = 0

    def holds(text: str, spans) -> None:
        nonlocal checked
        if spans and len(spans) == 1:
            assert content[spans[0].offset : spans[0].offset + spans[0].length] == text
            checked += 1

    for page in result.pages:
        for word in page.words:
            holds(word.content, [word.span])
        for line in page.lines:
            holds(line.content, line.spans)
    for paragraph in result.paragraphs or []:
        holds(paragraph.content, paragraph.spans)
    for pair in result.key_value_pairs or []:
        holds(pair.key.content, pair.key.spans)
        if pair.value is not None:
            holds(pair.value.content, pair.value.spans)
    for document in result.documents or []:
        for field in document.fields.values():
            holds(field.content, field.spans)
            for item in field.value_array or []:  # a line item's parts
                for part in (item.value_object or {}).values():
                    holds(part.content, part.spans)
    return checked


def test_a_receipt_reads_as_lectors_own_route_reads_it(receipt, server, docs):
    result, poller = receipt
    assert (result.model_id, result.api_version, result.content_format) == (
        "prebuilt-receipt",
        "2024-11-30",
        "text",
    )
    assert len(poller.details["operation_id"]) == 32
    (document,) = result.documents
    fields = document.fields
    assert document.doc_type == "receipt.retailMeal"
    assert fields["MerchantName"].value_string == RECEIPT_FIELDS["merchant_name"]
    assert fields["TransactionDate"].value_date == datetime.date(2018, 12, 25)
    assert fields["TransactionTime"].value_time == datetime.time(14, 5)
    total = fields["Total"].value_currency
    assert (total.amount, total.currency_code) == (RECEIPT_FIELDS["total"], "MYR")
    assert fields["Subtotal"].value_currency.amount == RECEIPT_FIELDS["subtotal"]
    assert fields["TotalTax"].value_currency.amount == RECEIPT_FIELDS["tax"]
    assert fields["MerchantAddress"].value_address.street_address == RECEIPT_FIELDS["merchant_address"]
    assert (
        fields["Total"].bounding_regions[0].page_number == 1
        and len(fields["Total"].bounding_regions[0].polygon) == 8
    )
    assert 0 < fields["Total"].confidence <= 1

    # What Lector's own route reads from the same document, field for field.
    own = httpx.post(
        f"{server.url}/api/convert",
        json={
            "image_base64": base64.b64encode(docs["receipt.png"].read_bytes()).decode(),
            "document_type_code": "receipt",
        },
        headers={"X-API-Key": API_KEY},
        timeout=60,
    ).json()["data"]
    assert fields["MerchantPhoneNumber"].content == own["merchant_phone"]
    items = fields["Items"].value_array
    assert [item.value_object["Description"].value_string for item in items] == [
        line["description"] for line in own["line_items"]
    ]
    assert [item.value_object["TotalPrice"].value_currency.amount for item in items] == [
        line["amount"] for line in own["line_items"]
    ]
    # Each item's parts are placed on its row's words: the description left of its amount
    for item in items:
        description, amount = item.value_object["Description"], item.value_object["TotalPrice"]
        assert description.spans and description.bounding_regions[0].page_number == 1
        assert description.content == description.value_string and amount.content
        left_of = description.bounding_regions[0].polygon[2] <= amount.bounding_regions[0].polygon[0]
        same_line = (
            abs(description.bounding_regions[0].polygon[1] - amount.bounding_regions[0].polygon[1]) < 40
        )
        assert left_of and same_line, (description, amount)
        assert 0 < description.confidence <= 1

    (page,) = result.pages
    assert (page.page_number, page.unit, page.angle) == (1, "pixel", 0)
    assert page.words and all(len(word.polygon) == 8 and 0 < word.confidence <= 1 for word in page.words)
    assert page.lines[0].content.startswith("KEDAI BUKU CAHAYA")
    assert assert_spans_true(result) > 30


def test_an_invoice_from_base64(invoice):
    (document,) = invoice.documents
    fields = document.fields
    assert document.doc_type == "invoice"
    assert fields["InvoiceId"].value_string == INVOICE_FIELDS["invoice_number"]
    assert fields["InvoiceId"].content == INVOICE_FIELDS["invoice_number"]
    assert fields["InvoiceDate"].value_date == datetime.date(2024, 3, 5)
    assert fields["DueDate"].value_date == datetime.date(2024, 4, 4)
    assert fields["VendorName"].value_string == INVOICE_FIELDS["vendor_name"]
    assert fields["InvoiceTotal"].value_currency.amount == INVOICE_FIELDS["total"]
    assert fields["InvoiceTotal"].value_currency.currency_code == "EUR"
    assert fields["SubTotal"].value_currency.amount == INVOICE_FIELDS["subtotal"]
    assert invoice.key_value_pairs is None  # not asked for
    assert assert_spans_true(invoice) > 20


def test_layout_in_markdown_with_key_value_pairs(layout):
    assert layout.content_format == "markdown" and "\n\n" in layout.content
    assert layout.content.startswith("Northwind Traders Ltd")
    assert layout.documents is None and layout.tables is not None
    pairs = {pair.key.content: pair.value.content for pair in layout.key_value_pairs if pair.value}
    assert pairs["Invoice No:"] == "INV-2024-0042"
    assert [paragraph.content for paragraph in layout.paragraphs][:2] == ["Northwind Traders Ltd", "INVOICE"]
    assert layout.languages[0].locale == "en"
    assert assert_spans_true(layout) > 30


def test_read_and_the_string_index_types(azure, docs):
    text = docs["page.png"].read_bytes()
    read = azure.begin_analyze_document("prebuilt-read", text, string_index_type="utf16CodeUnit").result()
    assert read.string_index_type == "utf16CodeUnit" and read.tables is None and read.documents is None
    assert PAGES[0][0] in read.content
    assert read.pages[0].lines[0].content == PAGES[0][0]
    assert all(paragraph.role is None for paragraph in read.paragraphs)
    assert assert_spans_true(read) > 10
    with pytest.raises(HttpResponseError) as refused:
        azure.begin_analyze_document("prebuilt-read", text, output_content_format="markdown")
    assert refused.value.status_code == 400 and "markdown" in refused.value.message


def test_a_keys_own_document_type_is_a_custom_model(server, azure, docs):
    code = f"memo_{uuid.uuid4().hex[:8]}"
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["invoice_number", "total"],
        "properties": {
            "invoice_number": {"type": ["string", "null"], "description": "The invoice's number"},
            "total": {"type": ["number", "null"], "description": "The total"},
        },
    }
    made = httpx.post(
        f"{server.url}/api/document-types",
        json={"name": "Memo", "codeType": code, "jsonSchema": schema, "description": "A memo."},
        headers={"X-API-Key": API_KEY},
    )
    assert made.status_code == 201, made.text
    result = azure.begin_analyze_document(code, docs["invoice.png"].read_bytes()).result()
    (document,) = result.documents
    assert (result.model_id, document.doc_type) == (code, code)
    assert set(document.fields) <= {"invoice_number", "total"}

    admin = DocumentIntelligenceAdministrationClient(server.url, AzureKeyCredential(API_KEY))
    details = admin.get_model(code)
    assert details.doc_types[code].field_schema["total"].type == "number"
    listed = [model.model_id for model in admin.list_models()]
    assert listed[:4] == ["prebuilt-read", "prebuilt-layout", "prebuilt-receipt", "prebuilt-invoice"]
    assert code in listed
    other = DocumentIntelligenceAdministrationClient(server.url, AzureKeyCredential(OTHER_KEY))
    assert code not in [model.model_id for model in other.list_models()]


def test_errors_reach_the_sdk_in_azures_shape(server, azure, docs, receipt):
    wrong = client_for(server, "not-a-key-0123456789", retry_total=0)
    with pytest.raises(ClientAuthenticationError) as denied:
        wrong.begin_analyze_document("prebuilt-read", b"x")
    assert denied.value.status_code == 401 and denied.value.error.code == "401"

    with pytest.raises(ResourceNotFoundError) as missing:
        azure.begin_analyze_document("prebuilt-nothing", docs["page.png"].read_bytes())
    assert missing.value.error.code == "NotFound"
    assert missing.value.error.innererror["code"] == "ModelNotFound"

    # A document that does not open fails on the worker: the analysis ends `failed`.
    with pytest.raises(HttpResponseError) as corrupt:
        azure.begin_analyze_document("prebuilt-read", docs["truncated.png"].read_bytes()).result()
    assert corrupt.value.error.code == "InvalidRequest"
    assert "corrupt or truncated" in str(corrupt.value)

    _, poller = receipt
    location = poller.polling_method()._initial_response.http_response.headers["Operation-Location"]
    with httpx.Client(timeout=30) as http:
        ours = http.get(location, headers={"Ocp-Apim-Subscription-Key": API_KEY})
        assert ours.status_code == 200 and ours.json()["status"] == "succeeded"
        theirs = http.get(location, headers={"Ocp-Apim-Subscription-Key": OTHER_KEY})
        assert theirs.status_code == 404
        assert theirs.json()["error"]["innererror"]["code"] == "OperationNotFound"
        key = {"Ocp-Apim-Subscription-Key": API_KEY}
        analyze = f"{server.url}{API}/prebuilt-read:analyze"
        malformed = http.post(
            analyze, params=VERSION, content=b"{", headers={**key, "content-type": "application/json"}
        )
        assert malformed.status_code == 400
        assert malformed.json()["error"]["code"] == "InvalidRequest"
        empty = http.post(analyze, params=VERSION, json={}, headers=key)
        assert empty.status_code == 400
        assert empty.json()["error"]["message"] == "The parameter urlSource or base64Source is required."
        old = http.post(analyze, params={"api-version": "2023-07-31"}, json={}, headers=key)
        assert (old.status_code, old.json()) == (
            404,
            {"error": {"code": "404", "message": "Resource not found"}},
        )
        unknown = http.post(analyze, params={**VERSION, "features": "telepathy"}, json={}, headers=key)
        assert unknown.status_code == 400 and "telepathy" in unknown.json()["error"]["message"]
        answered = http.post(analyze, params=VERSION, content=docs["page.png"].read_bytes(), headers=key)
        assert answered.status_code == 202 and answered.content == b""
        assert answered.headers["Retry-After"] == "1" and answered.headers["apim-request-id"]


def test_a_throttled_key_gets_429_with_retry_after(server, docs):
    made = httpx.post(
        f"{server.url}/admin/keys", json={"name": "azure", "per_minute": 1}, headers={"X-API-Key": ADMIN_KEY}
    ).json()
    throttled = client_for(server, made["key"], retry_total=0)
    document = docs["page.png"].read_bytes()
    throttled.begin_analyze_document("prebuilt-read", document)
    with pytest.raises(HttpResponseError) as refused:
        throttled.begin_analyze_document("prebuilt-read", document)
    assert refused.value.status_code == 429 and refused.value.error.code == "429"
    assert 1 <= int(refused.value.response.headers["Retry-After"]) <= 60
