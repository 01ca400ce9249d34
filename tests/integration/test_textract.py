"""boto3's textract client, unchanged but for its endpoint, against a real Lector API and a
real worker, with the documents in a real S3 store (SeaweedFS); AWS's own parsers (trp,
textractor) read the answers, and a receiver on loopback gets the signed webhook a
NotificationChannel asks for."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import boto3
import httpx
import pytest
from botocore import config as botocore_config
from botocore.exceptions import ClientError

from fixtures.generate import INVOICE_LINES, PAGES, text_pdf
from tests.helpers import (
    ADMIN_KEY,
    SECRET,
    Receiver,
    Server,
    serving_in_thread,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_until,
)

#: The most a document may take here: small, so that "too large" is cheap to send.
MAX_UPLOAD_MB = 1


@pytest.fixture(scope="module")
def lector(s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An API with managed keys and a worker, sharing one Redis and the S3 store; both may
    call back to loopback, soon."""
    directory = tmp_path_factory.mktemp("textract")
    redis_process, redis_url = start_redis(directory)
    settings = {
        **s3_env,
        "LECTOR_SECRET": SECRET,
        "LECTOR_URL_ALLOW_PRIVATE": "on",
        "LECTOR_WEBHOOK_RETRY_DELAYS_S": "0.2,0.2",
        "LECTOR_MAX_UPLOAD_MB": str(MAX_UPLOAD_MB),
    }
    worker = start_worker(directory, redis_url, **settings)
    server = start_server(directory, **settings, LECTOR_REDIS_URL=redis_url, LECTOR_ADMIN_KEY=ADMIN_KEY)
    yield server
    server.stop()
    stop_process(worker)
    stop_process(redis_process)


@pytest.fixture(scope="module")
def admin(lector: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lector.url, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as client:
        yield client


class Key(NamedTuple):
    """A managed key and the AWS credentials the admin API gave it."""

    key: str
    access_key_id: str
    secret_access_key: str
    #: The key's id: its objects go under textract/<key_id>/ of the store.
    key_id: str


def new_key(admin: httpx.Client, **limits: int) -> Key:
    """A managed key made through the admin API, with AWS credentials."""
    made = admin.post("/admin/keys", json={"name": "textract", **limits})
    assert made.status_code == 201, made.text
    credentials = admin.post(f"/admin/keys/{made.json()['key_id']}/aws-credentials")
    assert credentials.status_code == 201, credentials.text
    return Key(made.json()["key"], **credentials.json(), key_id=made.json()["key_id"])


def client_for(lector: Server, access_key_id: str, secret_access_key: str) -> Any:
    """boto3's textract client, signing with these credentials."""
    return boto3.client(
        "textract",
        endpoint_url=lector.url + "/textract",
        region_name="us-east-1",
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=botocore_config.Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def key(admin: httpx.Client) -> Key:
    return new_key(admin)


@pytest.fixture(scope="module")
def textract(lector: Server, key: Key) -> Any:
    return client_for(lector, key.access_key_id, key.secret_access_key)


@pytest.fixture(scope="module")
def s3(s3_env: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3_env["AWS_ENDPOINT_URL"],
        region_name=s3_env["AWS_REGION"],
        aws_access_key_id=s3_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_env["AWS_SECRET_ACCESS_KEY"],
    )


@pytest.fixture(scope="module")
def put(s3: Any, s3_env: dict[str, str], key: Key) -> Any:
    """Put a document in a key's place in the store's bucket (the module's key's, unless
    another is named), as a client does; its S3Object."""
    bucket, _, prefix = s3_env["LECTOR_STORAGE_URL"].removeprefix("s3://").partition("/")

    def put_object(name: str, body: bytes, owner: str = key.key_id) -> dict[str, str]:
        key = f"{prefix}/textract/{owner}/{name}" if prefix else f"textract/{owner}/{name}"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        return {"Bucket": bucket, "Name": key}

    return put_object


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def _finished(get: Any, job_id: str, **kwargs: Any) -> dict[str, Any]:
    """A Get's first answer once the job has ended."""
    deadline = time.monotonic() + 60
    answer = get(JobId=job_id, **kwargs)
    while answer["JobStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = get(JobId=job_id, **kwargs)
    assert answer["JobStatus"] == "SUCCEEDED", answer
    return answer


def _every_block(get: Any, job_id: str, first: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """Every block of a finished job, a page of ``size`` at a time from ``first``."""
    blocks, answer = list(first["Blocks"]), first
    for _ in range(100):
        if "NextToken" not in answer:
            return blocks
        assert len(answer["Blocks"]) == size
        answer = get(JobId=job_id, MaxResults=size, NextToken=answer["NextToken"])
        blocks.extend(answer["Blocks"])
    raise AssertionError("NextToken never ran out")


def test_detect_document_text_answers_pages_lines_and_words(textract, docs):
    from textractor.parsers.response_parser import parse
    from trp import Document as TrpDocument
    from trp.trp2 import TDocumentSchema

    answer = textract.detect_document_text(Document={"Bytes": docs["receipt.png"].read_bytes()})
    assert answer["DocumentMetadata"]["Pages"] == 1 and answer["DetectDocumentTextModelVersion"]
    assert answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    kinds = {block["BlockType"] for block in answer["Blocks"]}
    assert kinds == {"PAGE", "LINE", "WORD"}
    for block in answer["Blocks"]:
        box = block["Geometry"]["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1 and len(block["Geometry"]["Polygon"]) == 4
    text = " ".join(block["Text"] for block in answer["Blocks"] if block["BlockType"] == "LINE").upper()
    assert "TOTAL" in text
    trp_page = TrpDocument(answer).pages[0]
    assert trp_page.lines and trp_page.lines[0].words
    assert len(TDocumentSchema().load(answer).blocks) == len(answer["Blocks"])
    parsed = parse(answer)
    assert parsed.lines and parsed.words and "TOTAL" in parsed.text.upper()


def test_analyze_document_answers_forms_tables_layout_and_queries(textract, docs):
    from textractor.parsers.response_parser import parse
    from trp import Document as TrpDocument
    from trp.trp2 import TDocumentSchema

    answer = textract.analyze_document(
        Document={"Bytes": docs["receipt.png"].read_bytes()},
        FeatureTypes=["FORMS", "TABLES", "LAYOUT", "QUERIES"],
        QueriesConfig={
            "Queries": [{"Text": "What is the total?", "Alias": "TOTAL"}, {"Text": "Zebra colour?"}]
        },
    )
    kinds = {block["BlockType"] for block in answer["Blocks"]}
    assert {"KEY_VALUE_SET", "TABLE", "CELL", "QUERY", "QUERY_RESULT", "LAYOUT_TABLE"} <= kinds
    TDocumentSchema().load(answer)
    # trp: the form's pairs and the table's rows, cells counted from 1.
    page = TrpDocument(answer).pages[0]
    pairs = {
        field.key.text.rstrip(":").upper(): field.value.text for field in page.form.fields if field.value
    }
    assert pairs["SUBTOTAL"] == "18.90" and pairs["TEL"] == "03-7865 4321"
    (table,) = page.tables
    rows = [[cell.text.strip() for cell in row.cells] for row in table.rows]
    assert rows[0][0] == "NOTEBOOK A5" and rows[1][0] == "PEN BLUE" and rows[0][-1] == "12.00"
    cells = [block for block in answer["Blocks"] if block["BlockType"] == "CELL"]
    assert min(cell["RowIndex"] for cell in cells) == 1 and min(cell["ColumnIndex"] for cell in cells) == 1
    # textractor: the same, and the queries and the layout.
    parsed = parse(answer)
    assert len(parsed.key_values) == len(page.form.fields) and len(parsed.tables) == 1
    assert parsed.tables[0].table_cells[0].text.strip() == "NOTEBOOK A5"
    answered = {query.query: query.result for query in parsed.queries}
    assert answered["What is the total?"].answer == "20.03"
    assert answered["Zebra colour?"] is None  # no answer: a QUERY without ANSWER, as Textract
    assert {layout.layout_type for layout in parsed.layouts} >= {"LAYOUT_TABLE", "LAYOUT_KEY_VALUE"}


def test_analyze_expense_answers_typed_fields_and_line_items(textract, docs):
    from textractor.parsers.response_parser import parse
    from trp.trp2_expense import TAnalyzeExpenseDocumentSchema

    answer = textract.analyze_expense(Document={"Bytes": docs["receipt.png"].read_bytes()})
    (document,) = answer["ExpenseDocuments"]
    types = {field["Type"]["Text"]: field for field in document["SummaryFields"]}
    assert types["TOTAL"]["ValueDetection"]["Text"] == "20.03" and "VENDOR_NAME" in types
    assert types["TOTAL"]["LabelDetection"]["Text"] == "TOTAL"
    assert 0 < types["TOTAL"]["Type"]["Confidence"] <= 100
    assert all("Geometry" in field["ValueDetection"] for field in document["SummaryFields"])
    (group,) = document["LineItemGroups"]
    items = [
        {field["Type"]["Text"]: field["ValueDetection"] for field in item["LineItemExpenseFields"]}
        for item in group["LineItems"]
    ]
    assert [item["ITEM"]["Text"] for item in items] == ["NOTEBOOK A5", "PEN BLUE"]
    assert all("Geometry" in value for item in items for value in item.values())
    assert TAnalyzeExpenseDocumentSchema().load(answer).expenses_documents
    (parsed,) = parse(answer).expense_documents
    assert [row.expenses[0].value.text for row in parsed.line_items_groups[0].rows] == [
        "NOTEBOOK A5",
        "PEN BLUE",
    ]
    assert {field.type.text for field in parsed.summary_fields_list} >= {"TOTAL", "VENDOR_NAME"}


def test_errors_take_textract_types(lector, textract, docs):
    bad = _error(textract.detect_document_text, Document={"Bytes": b"hello, this is plain text"})
    assert bad["Error"]["Code"] == "UnsupportedDocumentException" and bad["Error"]["Message"]
    assert bad["ResponseMetadata"]["HTTPStatusCode"] == 400
    corrupt = _error(textract.detect_document_text, Document={"Bytes": docs["truncated.png"].read_bytes()})
    assert corrupt["Error"]["Code"] == "BadDocumentException"
    empty = _error(textract.detect_document_text, Document={})
    assert empty["Error"]["Code"] == "InvalidParameterException"
    multi = _error(textract.detect_document_text, Document={"Bytes": docs["text-layer.pdf"].read_bytes()})
    assert (
        multi["Error"]["Code"] == "UnsupportedDocumentException"
        and "asynchronous" in multi["Error"]["Message"]
    )
    large = _error(
        textract.detect_document_text, Document={"Bytes": b"\x89PNG" + b"0" * MAX_UPLOAD_MB * 2**20}
    )
    assert large["Error"]["Code"] == "DocumentTooLargeException"
    signatures = _error(
        textract.analyze_document,
        Document={"Bytes": docs["page.png"].read_bytes()},
        FeatureTypes=["SIGNATURES"],
    )
    assert signatures["Error"]["Code"] == "InvalidParameterException"
    missing = _error(textract.get_document_text_detection, JobId="0" * 32)
    assert missing["Error"]["Code"] == "InvalidJobIdException"
    sns = _error(
        textract.start_document_text_detection,
        DocumentLocation={"S3Object": {"Bucket": "bucket", "Name": "x.png"}},
        NotificationChannel={"SNSTopicArn": "arn:aws:sns:us-east-1:1:t", "RoleArn": "arn:aws:iam::1:role/r"},
    )
    assert sns["Error"]["Code"] == "InvalidParameterException" and "SNS" in sns["Error"]["Message"]
    # An operation boto3 has no method for, sent as it would send one.
    unknown = httpx.post(
        lector.url + "/textract",
        content=b"{}",
        headers={"X-Amz-Target": "Textract.AnalyzeID", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert unknown.status_code == 400 and unknown.json()["__type"] == "UnknownOperationException"


def test_asynchronous_text_detection_pages_its_blocks(textract, key, s3, put, docs):
    where = put("text-layer.pdf", docs["text-layer.pdf"].read_bytes())
    job = textract.start_document_text_detection(DocumentLocation={"S3Object": where})
    answer = _finished(textract.get_document_text_detection, job["JobId"], MaxResults=5)
    assert answer["DocumentMetadata"]["Pages"] == len(PAGES) and len(answer["Blocks"]) == 5
    more = textract.get_document_text_detection(
        JobId=job["JobId"], MaxResults=5, NextToken=answer["NextToken"]
    )
    assert {block["Id"] for block in more["Blocks"]}.isdisjoint(block["Id"] for block in answer["Blocks"])
    other_api = _error(textract.get_expense_analysis, JobId=job["JobId"])
    assert other_api["Error"]["Code"] == "InvalidJobIdException"
    foreign = _error(textract.get_document_text_detection, JobId=job["JobId"], NextToken="bm9wZTo1")
    assert foreign["Error"]["Code"] == "InvalidParameterException"
    assert s3.head_object(Bucket=where["Bucket"], Key=where["Name"])  # the client's object stays
    prefix = where["Name"].removesuffix(f"textract/{key.key_id}/text-layer.pdf")
    for name in (f"{prefix}documents/x", f"{prefix}textract/{key.key_id}/../other/x"):
        own = _error(
            textract.start_document_text_detection,
            DocumentLocation={"S3Object": {"Bucket": where["Bucket"], "Name": name}},
        )
        assert own["Error"]["Code"] == "InvalidS3ObjectException", name


def test_asynchronous_analysis_pages_blocks_and_calls_the_notification_url(lector, textract, key, put, docs):
    from standardwebhooks import Webhook
    from trp import Document as TrpDocument

    secret = httpx.post(lector.url + "/api/webhooks/secret", headers={"X-API-Key": key.key}, timeout=30)
    assert secret.status_code == 201, secret.text
    where = put("two-invoices.pdf", text_pdf([INVOICE_LINES, PAGES[0]]).tobytes())
    got = Receiver()
    with serving_in_thread(got.handler()) as url:
        asked = {
            "DocumentLocation": {"S3Object": where},
            "FeatureTypes": ["FORMS", "QUERIES"],
            "QueriesConfig": {"Queries": [{"Text": "What is the invoice number?", "Pages": ["1"]}]},
            "NotificationChannel": {"SNSTopicArn": f"{url}/textract", "RoleArn": "arn:aws:iam::1:role/r"},
            "ClientRequestToken": "analysis-1",
        }
        job = textract.start_document_analysis(**asked)
        assert textract.start_document_analysis(**asked)["JobId"] == job["JobId"]  # the same token
        answer = _finished(textract.get_document_analysis, job["JobId"], MaxResults=7)
        wait_until(lambda: got.deliveries, 30, "the job's webhook")
    ((headers, body),) = got.deliveries
    payload = Webhook(secret.json()["secret"]).verify(body, headers)
    assert payload["data"]["conversion_id"] == job["JobId"] and payload["type"] == "conversion.succeeded"
    assert answer["DocumentMetadata"]["Pages"] == 2 and answer["AnalyzeDocumentModelVersion"]
    blocks = _every_block(textract.get_document_analysis, job["JobId"], answer, 7)
    assert len({block["Id"] for block in blocks}) == len(blocks)
    document = TrpDocument({"DocumentMetadata": answer["DocumentMetadata"], "Blocks": blocks})
    assert len(document.pages) == 2
    assert any(field.value and "INV-2024-0042" in field.value.text for field in document.pages[0].form.fields)
    (query,) = [block for block in blocks if block["BlockType"] == "QUERY"]  # page 1 only
    (result,) = [block for block in blocks if block["Id"] in query["Relationships"][0]["Ids"]]
    assert result["Text"] == "INV-2024-0042"


def test_asynchronous_expense_analysis_of_a_two_page_invoice(textract, put):
    from textractor.parsers.response_parser import parse

    where = put("invoice-and-terms.pdf", text_pdf([INVOICE_LINES, PAGES[1]]).tobytes())
    job = textract.start_expense_analysis(DocumentLocation={"S3Object": where})
    answer = _finished(textract.get_expense_analysis, job["JobId"], MaxResults=1)
    assert answer["DocumentMetadata"]["Pages"] == 2 and "NextToken" not in answer
    (document,) = answer["ExpenseDocuments"]
    types = {field["Type"]["Text"]: field["ValueDetection"]["Text"] for field in document["SummaryFields"]}
    assert types["INVOICE_RECEIPT_ID"] == "INV-2024-0042" and types["TOTAL"] == "1440.0"
    assert {block["Page"] for block in document["Blocks"]} == {1, 2}
    assert parse(answer).expense_documents


def test_another_keys_job_and_a_throttled_key(lector, admin, textract, put, docs):
    where = put("page.png", docs["page.png"].read_bytes())
    job = textract.start_document_text_detection(DocumentLocation={"S3Object": where})
    other_key = new_key(admin)
    other = client_for(lector, other_key.access_key_id, other_key.secret_access_key)
    foreign = _error(other.get_document_text_detection, JobId=job["JobId"])
    assert foreign["Error"]["Code"] == "InvalidJobIdException"
    # Another key may not read this key's object, however it names it.
    foreign_object = _error(other.detect_document_text, Document={"S3Object": where})
    assert foreign_object["Error"]["Code"] == "InvalidS3ObjectException"
    assert other_key.key_id in foreign_object["Error"]["Message"]  # it is told where its own go
    limited = new_key(admin, per_minute=1)
    throttled = client_for(lector, limited.access_key_id, limited.secret_access_key)
    its_own = put("page.png", docs["page.png"].read_bytes(), owner=limited.key_id)
    throttled.start_document_text_detection(DocumentLocation={"S3Object": its_own})
    refused = _error(throttled.start_document_text_detection, DocumentLocation={"S3Object": its_own})
    assert refused["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert int(refused["ResponseMetadata"]["HTTPHeaders"]["retry-after"]) > 0


def _signed_at(url: str, key: Key, body: bytes, when: datetime) -> dict[str, str]:
    """The headers of a DetectDocumentText request signed by botocore's own signer, as a
    client whose clock says ``when`` signs it."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    target = {"X-Amz-Target": "Textract.DetectDocumentText", "Content-Type": "application/x-amz-json-1.1"}
    request = AWSRequest(method="POST", url=url, data=body, headers=target)
    request.context["timestamp"] = when.strftime("%Y%m%dT%H%M%SZ")
    signer = SigV4Auth(Credentials(key.access_key_id, key.secret_access_key), "textract", "us-east-1")
    signer._modify_request_before_signing(request)  # as add_auth does, at the time given
    signature = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    signer._inject_signature_to_request(request, signature)
    return dict(request.headers.items())


def test_signatures_are_verified(lector, key, docs):
    page = {"Document": {"Bytes": base64.b64encode(docs["page.png"].read_bytes()).decode()}}
    wrong = client_for(lector, key.access_key_id, key.secret_access_key[:-1] + "!")
    refused = _error(wrong.get_document_text_detection, JobId="0" * 32)
    assert refused["Error"]["Code"] == "InvalidSignatureException"
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = client_for(lector, "AKIA" + "Q" * 16, key.secret_access_key)
    assert _error(unknown.get_document_text_detection, JobId="0" * 32)["Error"]["Code"] == (
        "UnrecognizedClientException"
    )
    url, body = lector.url + "/textract", json.dumps(page).encode()
    now = datetime.now(UTC)
    skewed = httpx.post(url, content=body, headers=_signed_at(url, key, body, now - timedelta(minutes=6)))
    assert skewed.status_code == 403 and skewed.json()["__type"] == "InvalidSignatureException"
    assert "Signature expired" in skewed.json()["message"]
    tampered = _signed_at(url, key, body, now)
    assert (
        httpx.post(url, content=body.replace(b"Document", b"Documenu"), headers=tampered).status_code == 403
    )
    unsigned = httpx.post(url, content=body, headers={"X-Amz-Target": "Textract.DetectDocumentText"})
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
