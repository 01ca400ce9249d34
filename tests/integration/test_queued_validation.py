"""Queued submissions refuse what the sync routes refuse, with the same sentences, before the
key is charged; and a request with several bad fields hears of every one."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import ADMIN_KEY, API_KEY

#: Options the worker used to refuse after a 202 (the job then ended ERROR, and was paid for).
REFUSED = [
    ({"lang": "xx"}, "Language 'xx' is not installed; installed: "),
    ({"lang": "xxx"}, "Language 'xxx' is not installed; installed: "),
    ({"pages": "1-99999999"}, "Page 99999999 does not exist: the document has 1 pages."),
]
#: Six fields wrong at once, and what each is told.
SEVERAL = {
    "lang": "eng+",
    "pages": "1-x",
    "psm": "2",
    "engine": "magic",
    "force_ocr": "maybe",
    "colour": "red",
}
EVERY_PROBLEM = [
    "lang: use up to 8 language codes joined by +, such as eng or eng+deu",
    "pages: use page numbers and ranges such as 1-3,5 or 2-",
    "psm: choose one of 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13",
    "engine: choose one of auto, tesseract, ppocr, llm, hybrid, llm-text",
    "force_ocr: expected `bool`, got `str`",
    "unknown field `colour`",
]


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@pytest.fixture
def paying(server) -> Iterator[httpx.Client]:
    """A client holding a new managed key with a quota of 10 documents."""
    made = httpx.post(
        f"{server.url}/admin/keys", json={"name": "queued", "quota": 10}, headers={"X-API-Key": ADMIN_KEY}
    ).json()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": made["key"]}, timeout=60) as client:
        yield client


def spent(client: httpx.Client) -> tuple[int, int, int]:
    """What the key has paid: (quota left, requests today, documents today)."""
    account = client.get("/api/account").json()
    today = account["today"]
    return account["quota_remaining"], today["requests"], today["documents"]


def sync_answer(client: httpx.Client, docs: dict[str, Path], fields: dict[str, str]) -> httpx.Response:
    """Docutray's sync conversion of the 1-page document with ``fields``."""
    body = {"document_type_code": "text", "image_base64": b64(docs["page.png"]), **fields}
    return client.post("/api/convert", json=body)


@pytest.mark.parametrize(("fields", "sentence"), REFUSED)
def test_convert_async_refuses_what_sync_refuses_before_charging(server, paying, docs, fields, sentence):
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as static:
        sync = sync_answer(static, docs, fields)
    assert sync.status_code == 422 and sync.json()["message"].startswith(sentence), sync.text
    before = spent(paying)
    as_json = paying.post(
        "/api/convert-async",
        json={"document_type_code": "text", "image_base64": b64(docs["page.png"]), **fields},
    )
    as_form = paying.post(
        "/api/convert-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text", **fields},
    )
    for queued in (as_json, as_form):
        assert queued.status_code == 422, queued.text
        assert queued.json()["message"] == sync.json()["message"]
    assert spent(paying) == before


@pytest.mark.parametrize(("fields", "sentence"), REFUSED[:2])
def test_identify_async_refuses_a_language_not_installed_before_charging(paying, docs, fields, sentence):
    before = spent(paying)
    queued = paying.post(
        "/api/identify-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data=fields,
    )
    assert queued.status_code == 422, queued.text
    assert queued.json()["message"].startswith(sentence)
    assert spent(paying) == before


@pytest.mark.parametrize(("fields", "sentence"), REFUSED)
def test_convertorio_refuses_at_confirmation_before_charging(paying, docs, fields, sentence):
    body = docs["page.png"].read_bytes()
    asked = {
        "filename": "page.png",
        "source_format": "png",
        "target_format": "ocr",
        "file_size": len(body),
        "conversion_metadata": fields,
    }
    reserved = paying.post("/v1/convert/upload-url", json=asked).json()
    assert httpx.put(reserved["upload_url"], content=body).status_code == 200
    before = paying.get("/v1/account").json()["account"]
    confirmed = paying.post("/v1/convert/confirm", json={"job_id": reserved["job_id"]})
    assert confirmed.status_code == 400, confirmed.text
    assert confirmed.json()["success"] is False and confirmed.json()["error"].startswith(sentence)
    assert paying.get("/v1/account").json()["account"] == before


def test_a_file_conversion_that_only_re_encodes_ignores_the_language(paying, docs):
    # png to jpg reads no text, on the sync route as in the queue: `lang` does not matter.
    queued = paying.post(
        "/api/convert-file-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"target_format": "jpg", "lang": "xx"},
    )
    assert queued.status_code == 202, queued.text
    refused = paying.post(
        "/api/convert-file-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"target_format": "txt", "lang": "xx"},
    )
    assert refused.status_code == 422 and refused.json()["message"].startswith("Language 'xx' is not")


def test_several_refused_options_are_listed_together(paying, docs):
    before = spent(paying)
    queued = paying.post(
        "/api/convert-async",
        json={
            "document_type_code": "text",
            "image_base64": b64(docs["page.png"]),
            "lang": "xx",
            "pages": "1-99999999",
        },
    )
    assert queued.status_code == 422, queued.text
    errors = queued.json()["errors"]
    assert len(errors) == 2
    assert errors[0].startswith("Language 'xx' is not installed")
    assert errors[1] == "Page 99999999 does not exist: the document has 1 pages"
    assert spent(paying) == before


def test_every_bad_field_is_listed_in_json_and_in_a_form(server, paying, docs):
    before = spent(paying)
    as_json = paying.post(
        "/api/convert-async",
        json={"document_type_code": "text", "image_base64": b64(docs["page.png"]), **SEVERAL},
    )
    as_form = paying.post(
        "/api/convert-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"document_type_code": "text", **SEVERAL},
    )
    identify = paying.post(
        "/api/identify-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data=SEVERAL,
    )
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as static:
        sync = sync_answer(static, docs, SEVERAL)
    for answer in (as_json, as_form, identify, sync):
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"] == EVERY_PROBLEM
    assert spent(paying) == before


def test_a_missing_document_type_is_listed_with_the_other_problems(paying, docs):
    queued = paying.post(
        "/api/convert-async",
        files={"image": ("page.png", docs["page.png"].read_bytes())},
        data={"psm": "2", "engine": "magic"},
    )
    assert queued.status_code == 422
    assert queued.json()["errors"] == ["document_type_code is required", *EVERY_PROBLEM[2:4]]


def test_a_batch_refuses_a_language_not_installed_before_charging(paying, docs):
    before = spent(paying)
    batch = paying.post(
        "/api/batches/",
        files=[("files", ("page.png", docs["page.png"].read_bytes()))] * 2,
        data={"document_type_code": "text", "lang": "xx"},
    )
    assert batch.status_code == 422, batch.text
    assert batch.json()["message"].startswith("Language 'xx' is not installed; installed: ")
    assert spent(paying) == before
