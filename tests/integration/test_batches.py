"""Batches: many documents in, one summary and one results file out, in input order."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import shutil
import subprocess
import sys
import time

import httpx
from redis import Redis

from fixtures.generate import PAGES, encode, page_image, text_pdf
from service.jobs.store import JobStore
from service.options import Options
from service.storage import open_storage
from tests.helpers import API_KEY, OTHER_KEY, ROOT, TEST_STORE, character_error_rate, clean_env, page_text

ITEMS = 50


def batch_files(docs) -> list[tuple[str, bytes, str | None]]:
    """50 documents: text-layer PDFs with known text, four scans, and one corrupt file."""
    files = []
    for index in range(ITEMS):
        if index == 17:
            files.append(("broken.png", docs["truncated.png"].read_bytes(), None))
        elif index % 12 == 5:
            lines = PAGES[index % len(PAGES)]
            files.append((f"scan-{index}.png", encode(page_image(lines), "PNG"), page_text(lines)))
        else:
            text = f"Invoice number {1000 + index} for order {index}"
            files.append((f"doc-{index}.pdf", text_pdf([[text]]).tobytes(), text))
    return files


def wait_for_batch(client: httpx.Client, batch_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/batches/{batch_id}").json()
        if status["status"] in ("SUCCESS", "PARTIAL", "FAILED"):
            return status
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} did not finish: {status}")


def test_a_50_item_batch_finishes_with_csv_and_jsonl_in_input_order(client, workers, docs):
    files = batch_files(docs)
    response = client.post(
        "/api/batches/",
        files=[("files", (name, data)) for name, data, _ in files],
        data={"document_type_code": "text"},
    )
    assert response.status_code == 202, response.text
    created = response.json()
    assert created["total"] == ITEMS and created["status"] == "ENQUEUED"
    assert response.headers["location"] == created["status_url"]

    status = wait_for_batch(client, created["batch_id"])
    assert (status["status"], status["succeeded"], status["failed"], status["progress"]) == (
        "PARTIAL",
        49,
        1,
        1.0,
    )
    assert [item["index"] for item in status["items"]] == list(range(ITEMS))
    assert [item["filename"] for item in status["items"]] == [name for name, _, _ in files]
    assert status["items"][17]["error"] == {"message": "The PNG image is corrupt or truncated."}

    jsonl = client.get(f"/api/batches/{created['batch_id']}/results", params={"format": "jsonl"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in jsonl.text.splitlines()]
    as_csv = client.get(f"/api/batches/{created['batch_id']}/results", params={"format": "csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert list(rows[0]) == ["index", "filename", "status", "error", "tokens_used", "text"]
    assert len(records) == len(rows) == ITEMS

    for (name, _, expected), record, row in zip(files, records, rows, strict=True):
        assert record["filename"] == row["filename"] == name
        assert set(record) == {"index", "filename", "status", "error", "tokens_used", "fields",
                               "field_confidence", "field_evidence", "checks", "text"}  # fmt: skip
        if expected is None:
            assert record["status"] == row["status"] == "FAILED"
            assert record["error"] == row["error"] == "The PNG image is corrupt or truncated."
        else:
            assert record["status"] == row["status"] == "SUCCESS"
            assert record["text"] == row["text"]
            assert character_error_rate(expected, record["text"]) <= 0.02


def test_a_json_batch_fetches_urls_on_the_worker_with_the_same_checks(client, workers, docs):
    encoded = base64.b64encode(docs["page.png"].read_bytes()).decode()
    response = client.post(
        "/api/batches/",
        json={
            "document_type_code": "text",
            "items": [
                {"image_base64": encoded, "filename": "inline.png"},
                {"image_url": "http://127.0.0.1:9/private.png"},
            ],
        },
    )
    assert response.status_code == 202, response.text
    status = wait_for_batch(client, response.json()["batch_id"])
    assert [item["status"] for item in status["items"]] == ["SUCCESS", "FAILED"]
    assert status["items"][1]["filename"] == "private.png"
    assert (
        status["items"][1]["error"]["message"]
        == "URL not allowed: 127.0.0.1 resolves to a non-public address"
    )


def test_batch_requests_are_validated(client, server):
    empty = client.post("/api/batches/", json={"document_type_code": "text", "items": []})
    assert empty.status_code == 422
    assert empty.json()["errors"] == [
        "items is required: a list of {image_url} or {image_base64, filename} objects"
    ]
    bad = client.post(
        "/api/batches/",
        json={"items": [{"image_url": "http://x/a.png", "image_base64": "aGk="}, {"image_base64": "@@"}]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"] == [
        "items[0]: send exactly one of image_url and image_base64",
        "The `items[1].image_base64` field is not valid base64",
        "document_type_code is required",
    ]
    no_files = client.post("/api/batches/", files={"document_type_code": (None, "text")})
    assert no_files.json()["errors"] == ["files is required: send each document in a multipart field `files`"]
    assert client.post("/api/batches/", content=b"x", headers={"Content-Type": "text/csv"}).status_code == 415


def test_another_key_cannot_see_a_batch(client, server, docs):
    created = client.post(
        "/api/batches/",
        files=[("files", ("a.pdf", docs["text-layer.pdf"].read_bytes()))],
        data={"document_type_code": "text"},
    ).json()
    other = httpx.get(f"{server.url}/api/batches/{created['batch_id']}", headers={"X-API-Key": OTHER_KEY})
    assert other.status_code == 404
    results = httpx.get(
        f"{server.url}/api/batches/{created['batch_id']}/results", headers={"X-API-Key": OTHER_KEY}
    )
    assert results.status_code == 404


def lector_batch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", "batch", *args], cwd=ROOT, env=clean_env(), capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip


def test_lector_batch_writes_the_results_and_reports_failures(server, workers, docs, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("page.png", "text-layer.pdf", "truncated.png"):
        shutil.copy(docs[name], folder / name)
    out = tmp_path / "results.csv"
    result = lector_batch(
        str(folder), "--type", "text", "--out", str(out), "--server", server.url, "--key", API_KEY
    )
    assert result.returncode == 1, result.stderr
    assert "3/3 done, 1 failed" in result.stderr
    assert "failed: truncated.png: The PNG image is corrupt or truncated." in result.stderr
    rows = list(csv.DictReader(out.open()))
    assert [(row["filename"], row["status"]) for row in rows] == [
        ("page.png", "SUCCESS"), ("text-layer.pdf", "SUCCESS"), ("truncated.png", "FAILED"),
    ]  # fmt: skip

    good = tmp_path / "good.jsonl"
    result = lector_batch(
        str(folder / "page.png"), str(folder / "text-layer.pdf"), "--type", "text", "--out", str(good),
        "--server", server.url, "--key", API_KEY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["status"] for line in good.read_text().splitlines()] == ["SUCCESS", "SUCCESS"]


def test_lector_batch_sends_every_option_the_model_has(server, workers, docs, tmp_path, redis_url):
    out = tmp_path / "receipt.jsonl"
    result = lector_batch(
        str(docs["receipt.png"]), "--document-type-code", "receipt", "--engine", "tesseract",
        "--ocr-instructions", "Totals are in EUR.", "--document-metadata", '{"store": "Corner shop"}',
        "--pages", "1", "--psm", "6", "--words", "--force-ocr",
        "--out", str(out), "--server", server.url, "--key", API_KEY,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    batch_id = re.search(r"^batch (\w+): 1 files queued$", result.stderr, re.MULTILINE).group(1)
    status = httpx.get(f"{server.url}/api/batches/{batch_id}", headers={"X-API-Key": API_KEY}).json()
    redis = Redis.from_url(redis_url)
    try:
        record = JobStore(redis, 3600, open_storage(f"file://{TEST_STORE}")).get(
            status["items"][0]["conversion_id"]
        )
    finally:
        redis.close()
    assert record.options == Options(
        document_type_code="receipt", engine="tesseract", pages="1", force_ocr=True, include_words=True,
        psm=6, ocr_instructions="Totals are in EUR.", document_metadata={"store": "Corner shop"},
    )  # fmt: skip
    assert json.loads(out.read_text())["status"] == "SUCCESS"


def test_lector_batch_says_why_a_batch_cannot_run(server, tmp_path, docs):
    result = lector_batch(
        str(docs["page.png"]), "--type", "passport", "--out", str(tmp_path / "x.csv"), "--server", server.url,
        "--key", API_KEY,
    )  # fmt: skip
    assert result.returncode == 2
    assert "the server answered 422: Unknown document_type_code 'passport'" in result.stderr
    missing = lector_batch(str(tmp_path / "nothing"), "--type", "text", "--out", str(tmp_path / "x.csv"))
    assert missing.returncode == 2 and "is neither a file nor a folder" in missing.stderr


def test_an_item_of_no_known_format_fails_alone_and_the_batch_is_taken(client, workers, docs):
    """A batch's items end on their own: one that is no format Lector reads fails as an item,
    with the sentence the sync routes give, and does not refuse the batch."""
    response = client.post(
        "/api/batches/",
        files=[
            ("files", ("page.png", docs["page.png"].read_bytes())),
            ("files", ("notes.txt", b"Dear customer, your invoice is attached.")),
        ],
        data={"document_type_code": "text"},
    )
    assert response.status_code == 202, response.text
    status = wait_for_batch(client, response.json()["batch_id"])
    items = [(item["status"], (item.get("error") or {}).get("message")) for item in status["items"]]
    assert items[0] == ("SUCCESS", None)
    assert items[1][0] == "FAILED" and items[1][1].startswith(
        "Unsupported format: the document looks like plain text."
    )
