"""The Converter App dialect over real HTTP with real workers, as its documents describe it
(Converter App publishes no SDK): pairs, sync and async conversion, progress, download,
per-key pairs and quotas, and `{"detail": ...}` errors."""

from __future__ import annotations

import io
import time
import zipfile

import httpx
import pytest

from fixtures.generate import PAGES
from tests.helpers import ADMIN_KEY, API_KEY


@pytest.fixture
def app_client(server, workers):
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as client:
        yield client


def managed(server, **spec) -> httpx.Client:
    made = httpx.post(
        f"{server.url}/admin/keys", json={"name": "converter-app", **spec}, headers={"X-API-Key": ADMIN_KEY}
    ).json()
    return httpx.Client(base_url=server.url, headers={"X-API-Key": made["key"]}, timeout=120)


def until_done(client: httpx.Client, jobid: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        progress = client.get(f"/progress/{jobid}").json()
        assert 0.0 <= progress["progress"] <= 1.0
        if progress["status"] != "processing":
            return progress
        time.sleep(0.3)
    raise AssertionError(f"job {jobid} still processing")


def test_pairs_public_and_per_key(server):
    public = httpx.get(f"{server.url}/public/pairs")
    assert public.status_code == 200
    pairs = public.json()["supported_pairs"]
    assert {"from": "png", "to": "jpg"} in pairs and {"from": "pdf", "to": "ocr"} in pairs
    with managed(server, pairs=["png-jpg", "jpg-txt"]) as narrow:
        allowed = narrow.get("/pairs").json()["supported_pairs"]
    assert sorted((pair["from"], pair["to"]) for pair in allowed) == [
        ("jpg", "ocr"),
        ("jpg", "txt"),
        ("png", "jpg"),
    ]
    refused = httpx.get(f"{server.url}/pairs")
    assert refused.status_code == 401 and set(refused.json()) == {"detail"}


def test_sync_conversion_of_one_file_and_of_several(app_client, docs):
    one = app_client.post(
        "/convert/sync",
        data={"target_format": "jpg"},
        files={"files": ("page.png", docs["page.png"].read_bytes())},
    )
    assert one.status_code == 200 and one.content[:3] == b"\xff\xd8\xff"
    several = app_client.post(
        "/convert/sync",
        data={"target_format": "ocr"},
        files=[
            ("files", ("page.png", docs["page.png"].read_bytes())),
            ("files", ("page.jpg", docs["page.jpg"].read_bytes())),
        ],
    )
    assert several.status_code == 200 and several.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(several.content)) as archive:
        assert archive.namelist() == ["page.txt", "page-2.txt"]
        assert PAGES[0][0] in archive.read("page-2.txt").decode()


def test_async_conversion_progress_and_download(app_client, docs):
    started = app_client.post(
        "/convert",
        data={"target_format": "ocr"},
        files=[
            ("files", ("page.png", docs["page.png"].read_bytes())),
            ("files", ("receipt.png", docs["receipt.png"].read_bytes())),
        ],
    ).json()
    assert (started["status"], started["pair"], started["remaining_quota"]) == ("success", "png2ocr", -1)
    progress = until_done(app_client, started["jobid"])
    assert progress == {"jobid": started["jobid"], "progress": 1.0, "status": "completed", "error": None}
    download = app_client.get(f"/download/{started['jobid']}")
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert archive.namelist() == ["page.txt", "receipt.txt"]
        assert "TOTAL" in archive.read("receipt.txt").decode()

    failing = app_client.post(
        "/convert",
        data={"target_format": "jpg"},
        files={"files": ("broken.png", docs["truncated.png"].read_bytes())},
    ).json()
    progress = until_done(app_client, failing["jobid"])
    assert progress["status"] == "failed"
    assert progress["error"] == "1 of 1 files failed; broken.png: The PNG image is corrupt or truncated."
    gone = app_client.get(f"/download/{failing['jobid']}")
    assert gone.status_code == 404 and "failed" in gone.json()["detail"]
    assert app_client.get(f"/progress/{'0' * 32}").status_code == 404


def test_a_malformed_job_id_is_a_400_with_detail(app_client):
    for path in ("/progress/no-such-job", "/download/no-such-job", f"/download/{'A' * 32}"):
        malformed = app_client.get(path)
        assert malformed.status_code == 400, path
        assert set(malformed.json()) == {"detail"}
        assert malformed.json()["detail"].startswith("Unsupported job ID format")
    unknown = app_client.get(f"/download/{'0' * 32}")
    assert unknown.status_code == 404 and set(unknown.json()) == {"detail"}


def test_target_format_text_is_txt_for_images_and_pdfs(app_client, docs):
    for name, fixture in (("page.png", "page.png"), ("doc.pdf", "text-layer.pdf")):
        converted = app_client.post(
            "/convert/sync",
            data={"target_format": "text"},
            files={"files": (name, docs[fixture].read_bytes())},
        )
        assert converted.status_code == 200, converted.text
        assert converted.headers["content-type"].startswith("text/plain")
        assert PAGES[0][0] in converted.text
    started = app_client.post(
        "/convert",
        data={"target_format": "text"},
        files={"files": ("page.png", docs["page.png"].read_bytes())},
    ).json()
    assert started["pair"] == "png2text"
    assert until_done(app_client, started["jobid"])["status"] == "completed"
    assert PAGES[0][0] in app_client.get(f"/download/{started['jobid']}").text


def test_errors_scopes_and_quota_in_converter_app_words(server, workers, docs):
    png = docs["page.png"].read_bytes()
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}) as client:
        misnamed = client.post(
            "/convert/sync", data={"target_format": "png"}, files={"files": ("scan.jpg", png)}
        )
        assert misnamed.status_code == 400
        assert misnamed.json() == {"detail": "The file 'scan.jpg' is named as jpg but its bytes are png."}
        nothing = client.post("/convert", data={"target_format": "png"})
        assert nothing.status_code == 400 and nothing.json()["detail"].startswith("Send multipart/form-data")
        no_target = client.post("/convert", files={"files": ("page.png", png)})
        assert no_target.status_code == 400 and no_target.json()["detail"].startswith(
            "target_format is required"
        )
    with managed(server, pairs=["png-jpg"], quota=1) as narrow:
        scoped = narrow.post("/convert", data={"target_format": "ocr"}, files={"files": ("page.png", png)})
        assert scoped.status_code == 403
        assert scoped.json() == {"detail": "This API key is not authorized for png2ocr conversions."}
        first = narrow.post("/convert", data={"target_format": "jpg"}, files={"files": ("page.png", png)})
        assert first.json()["remaining_quota"] == 0
        second = narrow.post("/convert", data={"target_format": "jpg"}, files={"files": ("page.png", png)})
        assert second.status_code == 429 and set(second.json()) == {"detail"}
        assert narrow.get(f"/download/{first.json()['jobid']}").status_code in (200, 409)
