"""The Docutray dialect, driven by Docutray's own SDK (``docutray`` from PyPI, unchanged) against
a real Lector API and real workers on loopback, plus the wire details the SDK does not check."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ProcessPoolExecutor

import docutray
import httpx
import pytest
from redis import Redis

from fixtures.generate import INVOICE_FIELDS, RECEIPT_FIELDS, encode, page_image
from tests.helpers import API_KEY, OTHER_KEY

WAIT = {"poll_interval": 0.3, "timeout": 120}


@pytest.fixture
def sdk(server, workers):
    """Docutray's client, pointed at Lector: the base URL and the key are all that change."""
    with docutray.Client(api_key=API_KEY, base_url=server.url) as client:
        yield client


def test_run_async_waits_for_the_fields(sdk, docs):
    status = sdk.convert.run_async(file=docs["receipt.png"], document_type_code="receipt")
    assert status.status == "ENQUEUED" and status.conversion_id
    final = status.wait(**WAIT)
    assert final.is_success(), final
    for name in ("date", "total", "currency"):
        assert final.data[name] == RECEIPT_FIELDS[name]
    assert final.document_type_code == "receipt" and final.original_filename == "receipt.png"
    assert final.request_timestamp <= final.response_timestamp
    assert final.status_url.endswith(f"/api/convert-async/status/{final.conversion_id}")
    extras = final.model_extra
    assert extras["result"]["fields"] == final.data and extras["result"]["text"].strip()
    assert extras["progress"] == 1.0


def test_run_async_of_a_bad_document_ends_in_error(sdk, docs):
    final = sdk.convert.run_async(file=docs["truncated.png"], document_type_code="text").wait(**WAIT)
    assert final.is_error() and final.status == "ERROR"
    assert final.error == "The PNG image is corrupt or truncated."
    assert final.data is None


def test_sync_convert_in_each_body_form(sdk, docs):
    by_file = sdk.convert.run(file=docs["invoice.pdf"], document_type_code="invoice")
    for name in ("invoice_number", "invoice_date", "total"):
        assert by_file.data[name] == INVOICE_FIELDS[name]
    encoded = base64.b64encode(docs["receipt.png"].read_bytes()).decode()
    by_base64 = sdk.convert.run(file_base64=encoded, content_type="image/png", document_type_code="receipt")
    assert by_base64.data["total"] == RECEIPT_FIELDS["total"]
    assert by_base64.model_extra["document_type_code"] == "receipt"
    plain = sdk.convert.run(file=docs["page.png"], document_type_code="text")
    assert plain.data["text"].startswith("Invoice 2024-0117 from Northwind")


def test_identify_at_once_and_queued(sdk, docs):
    found = sdk.identify.run(file=docs["receipt.png"])
    assert found.document_type.code == "receipt" and found.document_type.name == "Receipt"
    codes = [found.document_type.code, *(match.code for match in found.alternatives)]
    assert sorted(codes) == ["invoice", "receipt", "text"]
    assert abs(sum([found.document_type.confidence, *(m.confidence for m in found.alternatives)]) - 1) < 0.01
    among = sdk.identify.run(file=docs["receipt.png"], document_type_code_options=["invoice"])
    assert among.document_type.code in ("invoice", "text")
    assert "receipt" not in [match.code for match in among.alternatives]

    queued = sdk.identify.run_async(file=docs["invoice.png"])
    assert queued.status == "ENQUEUED"
    final = queued.wait(**WAIT)
    assert final.is_success() and final.document_type.code == "invoice"
    assert final.original_filename == "invoice.png"


def test_document_types_list_get_validate(sdk):
    listed = sdk.document_types.list()
    assert {kind.codeType for kind in listed.data} == {"invoice", "receipt", "text"}
    assert listed.total == 3 and not listed.has_next_page()
    paged = sdk.document_types.list(limit=1)
    assert paged.has_next_page() and len(paged.data) == 1
    assert [kind.id for kind in paged.auto_paging_iter()] == [kind.id for kind in listed.data]
    assert [kind.id for kind in sdk.document_types.list(search="INVOICE").data] == ["invoice"]

    receipt = sdk.document_types.get("receipt")
    assert receipt.name == "Receipt" and "total" in receipt.jsonSchema["properties"]

    valid = sdk.document_types.validate(
        "receipt", {**dict.fromkeys(receipt.jsonSchema["required"]), "total": 1.5}
    )
    assert valid.is_valid() and valid.has_warnings()
    assert "$.date: no value" in valid.warnings.messages
    assert "$.total: no value" not in valid.warnings.messages
    invalid = sdk.document_types.validate("receipt", {"total": "a lot", "colour": "red"})
    assert not invalid.is_valid()
    assert any(message.startswith("$.total:") for message in invalid.errors.messages)
    assert invalid.errors.count == len(invalid.errors.messages)

    with pytest.raises(docutray.NotFoundError):
        sdk.document_types.get("no-such-type")


def test_errors_as_docutray_documents_them(server, workers, docs, client):
    with (
        docutray.Client(api_key="wrong-key", base_url=server.url) as stranger,
        pytest.raises(docutray.AuthenticationError),
    ):
        stranger.document_types.list()
    unauthorized = httpx.get(f"{server.url}/api/document-types", headers={"Authorization": "Bearer wrong"})
    assert unauthorized.status_code == 401 and unauthorized.json()["error"] == "Invalid API key"

    missing = client.post("/api/convert-async", json={"image_base64": "aGVsbG8="})
    assert missing.status_code == 422
    body = missing.json()
    assert body["message"] == "Validation error" and body["errors"] == ["document_type_code is required"]

    unknown = client.post(
        "/api/identify", json={"image_base64": "aGVsbG8=", "document_type_code_options": ["passport"]}
    )
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0].startswith("document_type_code_options: unknown code 'passport'")

    wrong_type = client.post("/api/convert", data={"x": "1"}, headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    assert wrong_type.json()["message"].startswith("Unsupported Content-Type")


def test_a_job_is_read_only_at_its_own_kind_of_status(sdk, docs, client):
    identification = sdk.identify.run_async(file=docs["page.png"])
    conversion = sdk.convert.run_async(file=docs["page.png"], document_type_code="text")
    assert client.get(f"/api/convert-async/status/{identification.identification_id}").status_code == 404
    assert client.get(f"/api/identify-async/status/{conversion.conversion_id}").status_code == 404
    assert conversion.wait(**WAIT).is_success() and identification.wait(**WAIT).is_success()


PURCHASE_ORDER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["po_number", "supplier"],
    "properties": {
        "po_number": {"type": ["string", "null"], "description": "The purchase order number"},
        "supplier": {"type": ["string", "null"], "description": "Who delivers"},
    },
}


def test_a_key_defines_its_own_type_and_only_it_uses_it(sdk, server, docs, tmp_path):
    made = sdk.document_types.create(
        name="Purchase order",
        code_type="purchase_order",
        description="A buyer's order to a supplier.",
        json_schema=PURCHASE_ORDER,
        prompt_hints="Read the PO number as printed.",
    )
    assert (made.id, made.codeType, made.isPublic, made.jsonSchema) == (
        "purchase_order", "purchase_order", False, PURCHASE_ORDER,
    )  # fmt: skip
    assert made.createdAt is not None
    assert "purchase_order" in [kind.id for kind in sdk.document_types.list().auto_paging_iter()]
    assert sdk.document_types.get("purchase_order").name == "Purchase order"
    assert sdk.document_types.validate("purchase_order", {"po_number": "4711", "supplier": None}).is_valid()

    order = tmp_path / "order.png"
    order.write_bytes(
        encode(page_image(["PURCHASE ORDER", "PO Number: 4711", "Supplier: ACME Widgets Ltd"]), "PNG")
    )
    converted = sdk.convert.run(file=order, document_type_code="purchase_order")
    assert set(converted.data) == {"po_number", "supplier"}  # no rules and no model: read, left empty
    assert "4711" in converted.model_extra["result"]["text"]
    queued = sdk.convert.run_async(file=order, document_type_code="purchase_order").wait(**WAIT)
    assert queued.is_success() and set(queued.data) == {"po_number", "supplier"}
    found = sdk.identify.run(file=order, document_type_code_options=["purchase_order", "receipt"])
    assert found.document_type.code == "purchase_order" and found.document_type.name == "Purchase order"

    with docutray.Client(api_key=OTHER_KEY, base_url=server.url) as other:
        assert "purchase_order" not in [kind.id for kind in other.document_types.list().data]
        with pytest.raises(docutray.NotFoundError):
            other.document_types.get("purchase_order")
        with pytest.raises(docutray.UnprocessableEntityError):
            other.convert.run(file=order, document_type_code="purchase_order")


def test_own_types_are_strict_unique_and_made_once_under_concurrency(server, client):
    loose = {**PURCHASE_ORDER, "additionalProperties": True, "required": ["po_number"]}
    body = {"name": "Loose", "codeType": "loose_order", "description": "x", "jsonSchema": loose}
    refused = client.post("/api/document-types", json=body)
    assert refused.status_code == 422 and refused.json()["message"] == "Validation error"
    assert refused.json()["errors"] == [
        "jsonSchema: $ must set additionalProperties to false",
        "jsonSchema: $ must list every property in required",
    ]
    built_in = client.post(
        "/api/document-types", json={**body, "codeType": "invoice", "jsonSchema": PURCHASE_ORDER}
    )
    assert built_in.status_code == 409
    missing = client.post("/api/document-types", json={"name": "No schema", "codeType": "no_schema"})
    assert missing.status_code == 422 and "jsonSchema" in missing.json()["errors"][0]

    # Several processes' requests race to make one code: exactly one wins, the others get 409.
    race = {"name": "Race", "codeType": "race_order", "description": "x", "jsonSchema": PURCHASE_ORDER}
    with ProcessPoolExecutor(4) as pool:
        codes = list(pool.map(_create, [server.url] * 8, [race] * 8))
    assert sorted(codes) == [201] + [409] * 7


def _create(url: str, body: dict) -> int:
    return httpx.post(
        f"{url}/api/document-types", json=body, headers={"Authorization": f"Bearer {OTHER_KEY}"}
    ).status_code


def test_document_metadata_as_a_json_string_in_a_json_body(server, workers, docs, client, redis_url):
    """Docutray's field table types document_metadata "as JSON string": inside a JSON body too."""
    encoded = base64.b64encode(docs["page.png"].read_bytes()).decode()
    body = {"image_base64": encoded, "document_type_code": "text"}
    redis = Redis.from_url(redis_url)
    for metadata in ('{"po": "PO-9", "lines": [1, 2]}', {"po": "PO-9", "lines": [1, 2]}):
        queued = client.post("/api/convert-async", json={**body, "document_metadata": metadata})
        assert queued.status_code == 202, queued.text
        stored = redis.hget(f"lector:conversion:{queued.json()['conversion_id']}", "options")
        assert json.loads(stored)["document_metadata"] == {"po": "PO-9", "lines": [1, 2]}
    for wrong in ("[1, 2]", "not json", 7):
        refused = client.post("/api/convert-async", json={**body, "document_metadata": wrong})
        assert refused.status_code == 422
        assert "document_metadata" in refused.json()["errors"][0], refused.text
    at_once = client.post("/api/convert", json={**body, "document_metadata": '{"po": "PO-9"}'})
    assert at_once.status_code == 200 and at_once.json()["data"]["text"].startswith("Invoice 2024-0117")
