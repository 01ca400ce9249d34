"""The Convertorio dialect, driven by Convertorio's own SDK (``convertorio-sdk`` from PyPI,
unchanged) against a real Lector API and real workers on loopback, plus the wire details the
SDK does not check (signed upload URLs, sizes, confirmations, errors, the quota as 402)."""

from __future__ import annotations

import http.server
import json
import re
import socketserver
import threading
import uuid

import httpx
import msgspec
import pytest
from convertorio_sdk import ConversionError, ConvertorioClient
from PIL import Image
from redis import Redis

from fixtures import drawings
from fixtures.generate import PAGES
from service.jobs.remembered import Remembered
from service.models import Status
from tests.helpers import ADMIN_KEY, API_KEY, OTHER_KEY


@pytest.fixture
def sdk(server, workers):
    """Convertorio's client, pointed at Lector: the base URL and the key are all that change."""
    return ConvertorioClient(api_key=API_KEY, base_url=server.url)


def test_convert_file_to_ocr_text_and_json(sdk, docs, tmp_path):
    as_text = sdk.convert_file(
        input_path=str(docs["page.png"]),
        target_format="ocr",
        output_path=str(tmp_path / "page.txt"),
        conversion_metadata={"ocr_format": "txt", "ocr_instructions": "Extract all text"},
    )
    assert as_text["success"] and as_text["target_format"] == "ocr" and as_text["tokens_used"] == 0
    text = (tmp_path / "page.txt").read_text()
    assert PAGES[0][0] in text

    as_json = sdk.convert_file(
        input_path=str(docs["receipt.png"]),
        target_format="ocr",
        output_path=str(tmp_path / "receipt.json"),
        conversion_metadata={"ocr_format": "json"},
    )
    document = json.loads((tmp_path / "receipt.json").read_text())
    assert "TOTAL" in document["text"] and as_json["job_id"]


def test_convert_file_to_an_image_and_list_the_jobs(sdk, docs, tmp_path):
    result = sdk.convert_file(
        input_path=str(docs["page.jpg"]),
        target_format="png",
        output_path=str(tmp_path / "page.png"),
        conversion_metadata={"quality": 80},
    )
    assert (tmp_path / "page.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    job = sdk.get_job(result["job_id"])
    assert (job["status"], job["source_format"], job["target_format"]) == ("completed", "jpg", "png")
    assert job["file_size"] == docs["page.jpg"].stat().st_size and job["can_download"]
    assert job["processing_time_ms"] >= 0 and job["points_cost"] == 1

    listed = sdk.list_jobs(limit=100, status="completed")
    assert result["job_id"] in [entry["id"] for entry in listed]
    assert all(entry["status"] == "completed" for entry in listed)
    assert len(sdk.list_jobs(limit=1)) == 1


def test_a_failed_conversion_raises_the_sentence(sdk, docs):
    with pytest.raises(ConversionError) as failed:
        sdk.convert_file(input_path=str(docs["truncated.png"]), target_format="ocr")
    assert str(failed.value) == "The PNG image is corrupt or truncated."


def test_account(sdk, server):
    account = sdk.get_account()
    # No limit is the largest 32-bit number, not -1, which a client reads as "no credits".
    assert (account["plan"], account["points"]) == ("self-hosted", 2**31 - 1)
    assert re.fullmatch(r"[0-9a-f]{16}", account["id"])  # a static key's hashed id
    assert account["total_conversions"] >= 0 and account["daily_conversions_remaining"] == 2**31 - 1
    assert account["email"] is None

    made = httpx.post(
        f"{server.url}/admin/keys",
        json={"name": "with email", "email": "ops@example.com", "quota": 5, "per_day": 7},
        headers={"X-API-Key": ADMIN_KEY},
    ).json()
    limited = ConvertorioClient(api_key=made["key"], base_url=server.url).get_account()
    assert (limited["email"], limited["points"], limited["daily_conversions_remaining"]) == (
        "ops@example.com",
        5,
        7,
    )
    refused = httpx.post(
        f"{server.url}/admin/keys",
        json={"name": "x", "email": "not an email"},
        headers={"X-API-Key": ADMIN_KEY},
    )
    assert refused.status_code == 422 and "email" in refused.json()["message"]


def test_job_ids_are_uuids_and_an_expired_job_says_so(sdk, server, docs, redis_url):
    result = sdk.convert_file(input_path=str(docs["page.png"]), target_format="jpg")
    job_id = result["job_id"]
    assert str(uuid.UUID(job_id, version=4)) == job_id
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        as_digits = client.get(f"/v1/jobs/{uuid.UUID(job_id).hex}").json()["job"]
        assert (as_digits["id"], as_digits["is_expired"], as_digits["can_download"]) == (job_id, False, True)
        malformed = client.get("/v1/jobs/not-a-uuid")
        assert malformed.status_code == 400 and malformed.json()["error"].startswith("Invalid job id")
        assert client.get(f"/v1/jobs/{uuid.uuid4()}").status_code == 404

        # Its record expires (Redis drops the key at its time to live): the job is still known.
        redis = Redis.from_url(redis_url)
        assert redis.delete(f"lector:conversion:{uuid.UUID(job_id).hex}") == 1
        expired = client.get(f"/v1/jobs/{job_id}")
        assert expired.status_code == 200
        job = expired.json()["job"]
        assert (job["id"], job["status"], job["is_expired"]) == (job_id, "completed", True)
        assert (job["can_download"], job["download_url"], job["original_filename"]) == (
            False,
            None,
            "page.png",
        )
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {OTHER_KEY}"}) as other:
            assert other.get(f"/v1/jobs/{job_id}").status_code == 404

        # A job nobody asked about after it was confirmed is remembered as confirming found it.
        body = docs["page.png"].read_bytes()
        asked = {"filename": "p.png", "source_format": "png", "target_format": "jpg", "file_size": len(body)}
        reserved = client.post("/v1/convert/upload-url", json=asked).json()
        assert httpx.put(reserved["upload_url"], content=body).status_code == 200
        assert client.post("/v1/convert/confirm", json={"job_id": reserved["job_id"]}).status_code == 200
        unseen_id = uuid.UUID(reserved["job_id"]).hex
        memory = Remembered(redis, result_ttl_s=3600)
        found = memory.get(unseen_id)
        assert found is not None and found.owner is not None
        # The worker may have finished it before confirming read it back; as still queued
        # when it expired, it answers `expired`.
        memory.keep(msgspec.structs.replace(found, status=Status.ENQUEUED))
        redis.delete(f"lector:conversion:{unseen_id}")
        unseen = client.get(f"/v1/jobs/{reserved['job_id']}").json()["job"]
        assert (unseen["status"], unseen["is_expired"], unseen["download_url"]) == ("expired", True, None)


def test_unknown_metadata_is_ignored_with_a_warning(sdk, server, docs, tmp_path):
    body = docs["page.png"].read_bytes()
    asked = {
        "filename": "page.png",
        "source_format": "png",
        "target_format": "jpg",
        "file_size": len(body),
        "conversion_metadata": {"quality": 70, "watermark": "draft", "strip_exif": True},
    }
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        reserved = client.post("/v1/convert/upload-url", json=asked)
        plain = client.post("/v1/convert/upload-url", json={**asked, "conversion_metadata": {"quality": 70}})
    assert reserved.status_code == 200, reserved.text
    assert reserved.json()["warnings"] == [
        "conversion_metadata.watermark is not an option Lector knows, so it was ignored.",
        "conversion_metadata.strip_exif is not an option Lector knows, so it was ignored.",
    ]
    assert "warnings" not in plain.json()
    sdk.convert_file(
        input_path=str(docs["page.png"]),
        target_format="jpg",
        output_path=str(tmp_path / "page.jpg"),
        conversion_metadata={"future_option": 1},
    )
    assert (tmp_path / "page.jpg").read_bytes()[:3] == b"\xff\xd8\xff"


def test_icon_sizes_and_a_custom_aspect_ratio(sdk, server, docs, tmp_path):
    sdk.convert_file(
        input_path=str(docs["page.png"]),
        target_format="ico",
        output_path=str(tmp_path / "logo.ico"),
        conversion_metadata={"icon_sizes": [16, 32, 48, 64]},  # as the .NET SDK's IconSizes sends
    )
    with Image.open(tmp_path / "logo.ico") as icon:
        assert icon.info["sizes"] == {(16, 16), (32, 32), (48, 48), (64, 64)}

    for strategy in ("crop-center", "fit"):
        sdk.convert_file(
            input_path=str(docs["page.png"]),
            target_format="png",
            output_path=str(tmp_path / f"{strategy}.png"),
            conversion_metadata={
                "aspect_ratio": "custom",
                "resize_width": 300,
                "resize_height": 120,
                "crop_strategy": strategy,
            },
        )
        with Image.open(tmp_path / f"{strategy}.png") as shaped:
            assert shaped.size == (300, 120)
    # Fitted, the page keeps its proportions: transparent bands at the sides, none above.
    with Image.open(tmp_path / "fit.png") as fitted:
        alpha = fitted.convert("RGBA").getchannel("A")
        assert alpha.getpixel((0, 60)) == 0 and alpha.getpixel((150, 0)) == 255

    body = docs["page.png"].read_bytes()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        for metadata in ({"aspect_ratio": "custom", "resize_width": 300}, {"icon_sizes": [20]}):
            refused = client.post(
                "/v1/convert/upload-url",
                json={
                    "filename": "page.png",
                    "source_format": "png",
                    "target_format": "ico" if "icon_sizes" in metadata else "png",
                    "file_size": len(body),
                    "conversion_metadata": metadata,
                },
            )
            assert refused.status_code == 400, refused.text
            if "aspect_ratio" in metadata:
                assert refused.json()["error"].startswith(
                    "conversion_metadata.aspect_ratio custom is the ratio of resize_width to resize_height"
                )
        assert refused.json()["error"].endswith("icon_sizes: choose one of 16, 32, 48, 64, 128, 256.")


def test_the_upload_url_is_signed_bounded_and_confirmed_once(server, workers, docs):
    headers = {"Authorization": f"Bearer {API_KEY}"}
    body = docs["page.png"].read_bytes()
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        asked = {
            "filename": "page.png",
            "source_format": "png",
            "target_format": "jpg",
            "file_size": len(body),
        }
        reserved = client.post("/v1/convert/upload-url", json=asked).json()
        assert reserved["success"] and reserved["expires_in"] == 600
        job_id, url = reserved["job_id"], reserved["upload_url"]
        assert client.get(f"/v1/jobs/{job_id}").json()["job"]["status"] == "uploading"

        early = client.post("/v1/convert/confirm", json={"job_id": job_id})
        assert early.status_code == 400
        assert early.json() == {
            "success": False,
            "error": "The file has not been uploaded to the upload URL yet.",
        }
        tampered = httpx.put(url.replace("signature=", "signature=x"), content=body)
        assert tampered.status_code == 403 and tampered.json()["success"] is False
        too_big = httpx.put(url, content=body + b"\0")
        assert too_big.status_code == 400 and "file_size" in too_big.json()["error"]
        assert httpx.put(url, content=body, headers={"Content-Type": "image/png"}).status_code == 200

        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {OTHER_KEY}"}) as other:
            assert other.post("/v1/convert/confirm", json={"job_id": job_id}).status_code == 404
            assert other.get(f"/v1/jobs/{job_id}").status_code == 404
        confirmed = client.post("/v1/convert/confirm", json={"job_id": job_id}).json()
        assert confirmed == {
            "success": True, "job_id": job_id, "status": "queued", "message": "Job queued for processing",
        }  # fmt: skip
        assert client.post("/v1/convert/confirm", json={"job_id": job_id}).status_code == 404

        for wrong, error in (
            ({**asked, "file_size": 21 * 1024 * 1024}, "file_size is over the limit"),
            (
                {**asked, "target_format": "svg"},
                "target_format 'svg' is not supported; use ocr or one of: jpg,",
            ),
            (
                {**asked, "target_format": "psd"},
                "target_format 'psd' is not supported; use ocr or one of: jpg,",
            ),
            ({**asked, "conversion_metadata": {"quality": 500}}, "Validation error: conversion_metadata:"),
        ):
            refused = client.post("/v1/convert/upload-url", json=wrong)
            assert refused.status_code == 400 and refused.json()["error"].startswith(error), refused.text
    stranger = httpx.get(f"{server.url}/v1/account", headers={"Authorization": "Bearer nope"})
    assert stranger.status_code == 401 and stranger.json()["success"] is False


def test_a_spent_quota_is_402(server, workers, docs):
    made = httpx.post(
        f"{server.url}/admin/keys", json={"name": "points", "quota": 1}, headers={"X-API-Key": ADMIN_KEY}
    ).json()
    body = docs["page.png"].read_bytes()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made['key']}"}) as client:
        answers, job_ids = [], []
        for _ in range(2):
            asked = {
                "filename": "p.png",
                "source_format": "png",
                "target_format": "ocr",
                "file_size": len(body),
            }
            reserved = client.post("/v1/convert/upload-url", json=asked).json()
            assert httpx.put(reserved["upload_url"], content=body).status_code == 200
            job_ids.append(reserved["job_id"])
            answers.append(client.post("/v1/convert/confirm", json={"job_id": reserved["job_id"]}))
        assert [answer.status_code for answer in answers] == [200, 402]
        assert answers[1].json()["success"] is False
        account = client.get("/v1/account").json()["account"]
        assert (account["points"], account["name"]) == (0, "points")
        # The refused job keeps its file: after a top-up, confirming again would queue it.
        assert client.get(f"/v1/jobs/{job_ids[1]}").json()["job"]["status"] == "uploading"


def test_svg_psd_and_eps_sources(sdk, tmp_path):
    planes = bytes([200] * 8) + bytes([10] * 8) + bytes([30] * 8)
    sources = {
        "drawing.svg": drawings.SVG,
        "photo.psd": drawings.psd(4, 2, planes),
        "figure.eps": drawings.dos_eps(drawings.EPS),
    }
    for name, data in sources.items():
        (tmp_path / name).write_bytes(data)
        result = sdk.convert_file(
            input_path=str(tmp_path / name), target_format="png", output_path=str(tmp_path / f"{name}.png")
        )
        assert result["source_format"] == name.rsplit(".", 1)[1]
    with Image.open(tmp_path / "photo.psd.png") as photo:
        assert photo.size == (4, 2) and photo.convert("RGB").getpixel((0, 0)) == (200, 10, 30)
    with Image.open(tmp_path / "drawing.svg.png") as drawn:
        assert drawn.convert("RGB").getpixel((5, 5)) == (255, 0, 0)
    with Image.open(tmp_path / "figure.eps.png") as figure:
        assert figure.width / figure.height == pytest.approx(3, abs=0.02)
    text = sdk.convert_file(
        input_path=str(tmp_path / "drawing.svg"), target_format="ocr", output_path=str(tmp_path / "svg.txt")
    )
    assert text["success"] and "Hello SVG" in (tmp_path / "svg.txt").read_text()


@pytest.fixture
def loopback():
    """A web server on loopback that records every request it gets."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_error(404)

        def log_message(self, *args: object) -> None:
            pass

    with socketserver.TCPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
        server.shutdown()


def test_hostile_svg_psd_and_eps_are_refused(sdk, tmp_path, loopback):
    address, asked = loopback
    hostile = {
        "entity.svg": (drawings.SVG_ENTITY, "The SVG has a DOCTYPE or ENTITY declaration"),
        "file.svg": (drawings.svg_image("file:///etc/passwd"), "The SVG refers to 'file:///etc/passwd'"),
        "fetch.svg": (drawings.svg_image(f"{address}/pixel.png"), f"The SVG refers to '{address}/pixel.png'"),
        "bomb.psd": (drawings.psd(100_000, 100_000), "The PSD image declares more than 89 megapixels"),
        "reads.eps": (drawings.EPS_READS_A_FILE, "The EPS file tries to open files"),
    }
    for name, (data, refused) in hostile.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ConversionError) as failed:
            sdk.convert_file(input_path=str(tmp_path / name), target_format="png")
        assert str(failed.value).startswith(refused), name
    assert asked == []  # nothing was fetched
