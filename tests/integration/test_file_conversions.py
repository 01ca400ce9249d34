"""File conversions over HTTP: at once, queued with its download, signed URLs, scopes, and
refusals; and ``lector convert``."""

from __future__ import annotations

import base64
import io
import subprocess
import sys
import time

import httpx
import pymupdf
from PIL import Image

from fixtures.generate import PAGES, image_pdf, page_image
from service.signing import signature
from tests.helpers import ADMIN_KEY, ROOT, SECRET, character_error_rate, clean_env, page_text, wait_for_end


def test_convert_file_answers_the_file_itself(client, docs):
    with docs["page.png"].open("rb") as handle:
        response = client.post(
            "/api/convert-file", files={"image": ("scan.png", handle)}, data={"target_format": "webp"}
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/webp"
    assert response.headers["content-disposition"] == 'attachment; filename="scan.webp"'
    assert Image.open(io.BytesIO(response.content)).format == "WEBP"
    as_text = client.post(
        "/api/convert-file",
        json={
            "image_base64": base64.b64encode(docs["page.png"].read_bytes()).decode(),
            "target_format": "txt",
        },
    )
    assert as_text.headers["content-type"].startswith("text/plain")
    assert character_error_rate(page_text(PAGES[0]), as_text.text) <= 0.02


def test_a_queued_conversion_is_downloaded_with_the_key_and_from_its_signed_url(client, workers):
    scan = image_pdf([page_image(lines) for lines in PAGES])
    submitted = client.post(
        "/api/convert-file-async", files={"image": ("scan.pdf", scan)}, data={"target_format": "pdf"}
    )
    assert submitted.status_code == 202, submitted.text
    conversion_id = submitted.json()["conversion_id"]
    early = client.get(f"/api/convert-async/{conversion_id}/download")
    status = wait_for_end(client, conversion_id)
    assert status["status"] == "SUCCESS", status
    if early.status_code != 200:  # a worker may have been quicker than this request
        assert early.status_code == 409 and "download it once it is SUCCESS" in early.json()["message"]
    file = status["file"]
    assert (file["name"], file["media_type"]) == ("scan.pdf", "application/pdf")
    download = client.get(file["download_url"])
    assert download.status_code == 200 and len(download.content) == file["size"]
    with pymupdf.open(stream=download.content) as pdf:
        assert character_error_rate(page_text(PAGES[1]), pdf[1].get_text()) <= 0.02
    signed = httpx.get(file["signed_url"])  # no key
    assert signed.status_code == 200 and signed.content == download.content
    base = file["signed_url"].split("?")[0]
    tampered = httpx.get(file["signed_url"].replace("signature=", "signature=x"))
    assert (tampered.status_code, tampered.json()["message"]) == (
        403,
        "The download URL's signature does not match it.",
    )
    past = int(time.time()) - 10
    expired = httpx.get(base, params={"expires": past, "signature": signature(SECRET, conversion_id, past)})
    assert expired.status_code == 410
    other_key = httpx.get(file["download_url"], headers={"X-API-Key": "other-key-9876543210"})
    assert other_key.status_code == 404


def test_unknown_downloads_are_404(client):
    assert client.get("/api/convert-async/0123456789abcdef/download").status_code == 404


def test_pair_scopes_use_the_catalogue_names(server, client, docs):
    made = httpx.post(
        f"{server.url}/admin/keys",
        json={"name": "jpg only", "pairs": ["png-jpg"]},
        headers={"X-API-Key": ADMIN_KEY},
    ).json()
    with docs["page.png"].open("rb") as handle:
        image = handle.read()
    headers = {"X-API-Key": made["key"]}
    allowed = httpx.post(
        f"{server.url}/api/convert-file",
        files={"image": ("a.png", image)},
        data={"target_format": "jpg"},
        headers=headers,
    )
    refused = httpx.post(
        f"{server.url}/api/convert-file",
        files={"image": ("a.png", image)},
        data={"target_format": "webp"},
        headers=headers,
    )
    assert allowed.status_code == 200
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "This API key is not authorized for png-webp conversions.",
    )
    catalogue = client.get("/api/formats").json()
    assert "png-jpg" in catalogue["pairs"] and catalogue["targets"]["hocr"].startswith("text/html")
    assert set(catalogue["inputs"]) == {
        "png",
        "jpg",
        "gif",
        "bmp",
        "webp",
        "tiff",
        "pdf",
        "heic",
        "avif",
        "ico",
    }


def test_bad_conversion_options_are_422_with_every_problem(client, docs):
    image = docs["page.png"].read_bytes()
    for fields, problem in [
        ({"target_format": "jpg", "quality": "0"}, "quality: expected `int` >= 1"),
        ({"target_format": "ico", "icon_size": "20"}, "icon_size: choose one of 16, 32, 48, 64, 128, 256"),
        ({"target_format": "png", "resize_width": "20000"}, "resize_width: expected `int` <= 10000"),
        ({"target_format": "png", "aspect_ratio": "0:5"}, "aspect_ratio: use original or two whole numbers"),
        ({"target_format": "docx"}, "target_format: choose one of jpg, png"),
        ({}, "target_format is required"),
    ]:
        response = client.post("/api/convert-file", files={"image": ("a.png", image)}, data=fields)
        assert response.status_code == 422, response.text
        assert any(line.startswith(problem) for line in response.json()["errors"]), response.json()
    too_big = client.post(
        "/api/convert-file",
        files={"image": ("a.png", image)},
        data={"target_format": "png", "resize_width": "10000", "resize_height": "10000"},
    )
    assert too_big.status_code == 422 and "over the limit" in too_big.json()["message"]


def test_lector_convert_needs_no_server(tmp_path, docs):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "convert",
            str(docs["page.png"]),
            "--to",
            "jpg",
            "--aspect-ratio",
            "16:9",
            "--out",
            str(tmp_path / "out.jpg"),
        ],
        env=clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    image = Image.open(tmp_path / "out.jpg")
    assert image.format == "JPEG" and abs(image.width / image.height - 16 / 9) < 0.01
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "convert",
            str(docs["page.png"]),
            "--to",
            "png",
            "--quality",
            "0",
        ],
        env=clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "--quality: expected `int` >= 1" in refused.stderr


def test_too_many_pages_for_the_sync_route_names_the_queued_one(client):
    pages = image_pdf([Image.new("L", (60, 80), 255) for _ in range(21)])
    response = client.post(
        "/api/convert-file", files={"image": ("long.pdf", pages)}, data={"target_format": "png"}
    )
    assert response.status_code == 413
    assert response.json()["message"] == (
        "The request asks for 21 pages; the limit is 20. "
        "Send it to POST /api/convert-file-async, or select fewer pages with `pages`."
    )
