"""boto3's textract client, unchanged but for its endpoint, against a real Lector API and a
real worker, with the documents in a real S3 store (SeaweedFS); AWS's own parsers (trp,
textractor) read the answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import SECRET, Server, start_redis, start_server, start_worker, stop_process

boto3 = pytest.importorskip("boto3")
botocore_config = pytest.importorskip("botocore.config")
ClientError = pytest.importorskip("botocore.exceptions").ClientError


@pytest.fixture(scope="module")
def lector(s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """An API with auth off and a worker, sharing one Redis and the S3 store."""
    directory = tmp_path_factory.mktemp("textract")
    redis_process, redis_url = start_redis(directory)
    settings = {**s3_env, "LECTOR_SECRET": SECRET}
    worker = start_worker(directory, redis_url, **settings)
    server = start_server(directory, **settings, LECTOR_REDIS_URL=redis_url, LECTOR_AUTH="off")
    yield server
    stop_process(worker)
    server.stop()
    stop_process(redis_process)


@pytest.fixture(scope="module")
def textract(lector: Server) -> Any:
    return boto3.client(
        "textract",
        endpoint_url=lector.url + "/textract",
        region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=botocore_config.Config(retries={"max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def s3(s3_env: dict[str, str]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=s3_env["AWS_ENDPOINT_URL"],
        region_name=s3_env["AWS_REGION"],
        aws_access_key_id=s3_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_env["AWS_SECRET_ACCESS_KEY"],
    )


def _bucket(s3_env: dict[str, str]) -> tuple[str, str]:
    """The store's bucket and the prefix its keys live under."""
    bucket, _, prefix = s3_env["LECTOR_STORAGE_URL"].removeprefix("s3://").partition("/")
    return bucket, f"{prefix}/" if prefix else ""


def _error(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response


def test_detect_document_text_answers_pages_lines_and_words(textract, docs):
    from textractor.parsers.response_parser import parse
    from trp import Document as TrpDocument

    answer = textract.detect_document_text(Document={"Bytes": docs["receipt.png"].read_bytes()})
    assert answer["DocumentMetadata"]["Pages"] == 1
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
    parsed = parse(answer)
    assert parsed.lines and parsed.words and "TOTAL" in parsed.text.upper()


def test_analyze_document_answers_forms_layout_and_queries(textract, docs):
    from textractor.parsers.response_parser import parse

    answer = textract.analyze_document(
        Document={"Bytes": docs["invoice.png"].read_bytes()},
        FeatureTypes=["FORMS", "TABLES", "LAYOUT", "QUERIES"],
        QueriesConfig={
            "Queries": [{"Text": "What is the total?", "Alias": "TOTAL"}, {"Text": "Zebra colour?"}]
        },
    )
    kinds = {block["BlockType"] for block in answer["Blocks"]}
    assert {"KEY_VALUE_SET", "QUERY", "QUERY_RESULT", "LAYOUT_TEXT"} <= kinds
    parsed = parse(answer)
    assert parsed.key_values
    answered = {query.query: query.result for query in parsed.queries}
    assert answered["What is the total?"] is not None
    assert answered["Zebra colour?"] is None  # no answer: a QUERY without ANSWER, as Textract
    assert parsed.layouts


def test_analyze_expense_answers_typed_summary_fields(textract, docs):
    from textractor.parsers.response_parser import parse

    answer = textract.analyze_expense(Document={"Bytes": docs["receipt.png"].read_bytes()})
    (document,) = answer["ExpenseDocuments"]
    types = {field["Type"]["Text"]: field for field in document["SummaryFields"]}
    assert "TOTAL" in types and "VENDOR_NAME" in types
    assert 0 < types["TOTAL"]["Type"]["Confidence"] <= 100
    assert parse(answer).expense_documents


def test_errors_take_textract_types(textract, docs, tmp_path):
    bad = _error(textract.detect_document_text, Document={"Bytes": b"hello, this is plain text"})
    assert bad["Error"]["Code"] == "UnsupportedDocumentException" and bad["Error"]["Message"]
    corrupt = docs["receipt.png"].read_bytes()[:200]
    assert _error(textract.detect_document_text, Document={"Bytes": corrupt})["Error"]["Code"] in (
        "BadDocumentException",
        "UnsupportedDocumentException",
    )
    empty = _error(textract.detect_document_text, Document={})
    assert empty["Error"]["Code"] == "InvalidParameterException"
    multi = _error(textract.detect_document_text, Document={"Bytes": docs["text-layer.pdf"].read_bytes()})
    assert multi["Error"]["Code"] == "UnsupportedDocumentException"
    missing = _error(textract.get_document_text_detection, JobId="0" * 32)
    assert missing["Error"]["Code"] == "InvalidJobIdException"
    sns = _error(
        textract.start_document_text_detection,
        DocumentLocation={"S3Object": {"Bucket": "b", "Name": "x.png"}},
        NotificationChannel={"SNSTopicArn": "arn:aws:sns:us-east-1:1:t", "RoleArn": "arn:aws:iam::1:role/r"},
    )
    assert sns["Error"]["Code"] in ("InvalidParameterException", "InvalidS3ObjectException")


def test_asynchronous_text_detection_pages_its_blocks(textract, s3, s3_env, docs):
    bucket, prefix = _bucket(s3_env)
    name = f"{prefix}client/text-layer.pdf"
    s3.put_object(Bucket=bucket, Key=name, Body=docs["text-layer.pdf"].read_bytes())
    job = textract.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": bucket, "Name": name}}
    )
    deadline = time.monotonic() + 60
    answer = textract.get_document_text_detection(JobId=job["JobId"])
    while answer["JobStatus"] == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = textract.get_document_text_detection(JobId=job["JobId"], MaxResults=5)
    assert answer["JobStatus"] == "SUCCEEDED"
    assert answer["DocumentMetadata"]["Pages"] > 1 and len(answer["Blocks"]) == 5 and answer["NextToken"]
    more = textract.get_document_text_detection(
        JobId=job["JobId"], MaxResults=5, NextToken=answer["NextToken"]
    )
    assert {block["Id"] for block in more["Blocks"]}.isdisjoint(block["Id"] for block in answer["Blocks"])
    other_api = _error(textract.get_expense_analysis, JobId=job["JobId"])
    assert other_api["Error"]["Code"] == "InvalidJobIdException"
    assert s3.head_object(Bucket=bucket, Key=name)  # the client's object is never deleted
    own = _error(
        textract.start_document_text_detection,
        DocumentLocation={"S3Object": {"Bucket": bucket, "Name": f"{prefix}documents/x"}},
    )
    assert own["Error"]["Code"] == "InvalidS3ObjectException"
