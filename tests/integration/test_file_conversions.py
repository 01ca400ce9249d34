"""File conversions: the conversion core in this process (every target decoded back and
measured, with real Tesseract behind the OCR targets), then over HTTP (at once, queued with
its download, signed URLs, scopes and refusals) and through ``lector convert``."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import subprocess
import sys
import time
import zipfile

import httpx
import pymupdf
import pytest
from markdown_it import MarkdownIt
from PIL import Image
from pillow_heif import register_heif_opener

from fixtures.generate import (
    PAGES,
    RECEIPT_LINES,
    encode,
    exif_rotated_jpeg,
    image_pdf,
    multipage_tiff,
    page_image,
    text_pdf,
)
from service.convert.formats import IMAGE_TARGETS, MEDIA_TYPES, PIL_WRITERS, pairs
from service.convert.run import convert
from service.convert.target import Target
from service.convert.text import as_markdown
from service.errors import DecompressionBomb, TooLarge
from service.models import Extraction, PageResult
from service.options import Options
from service.settings import Settings
from service.signing import signature
from service.startup import prepare_process
from tests.helpers import ADMIN_KEY, ROOT, SECRET, character_error_rate, clean_env, page_text, wait_for_end

register_heif_opener()


@pytest.fixture(scope="module")
def engines():
    return prepare_process(Settings())


def run(engines, data: bytes, options: Options | None = None, **target):
    output, _ = convert(
        data, options or Options(), Target(**target), engines, filename="in.png", max_pages=50, dpi=150
    )
    return output


def halves(width: int = 200, height: int = 100) -> bytes:
    """A PNG whose left half is red and right half blue, with a transparent-free RGB."""
    image = Image.new("RGB", (width, height), "blue")
    image.paste(Image.new("RGB", (width // 2, height), "red"), (0, 0))
    return encode(image, "PNG")


def transparent_png() -> bytes:
    image = Image.new("RGBA", (120, 60), (0, 128, 0, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))
    return encode(image, "PNG")


@pytest.mark.parametrize("target", IMAGE_TARGETS)
def test_every_image_target_decodes_as_its_format(engines, target):
    output = run(engines, transparent_png(), target_format=target)
    if target == "pdf":
        with pymupdf.open(stream=output.content) as pdf:
            assert pdf.page_count == 1 and pdf[0].get_images()
        return
    decoded = Image.open(io.BytesIO(output.content))
    assert decoded.format == PIL_WRITERS[target]
    expected = (256, 256) if target == "ico" else (120, 60)
    assert decoded.size == expected
    assert output.name == f"in.{target}"


def test_fit_pads_to_the_ratio_transparent_with_alpha_and_white_without(engines):
    png = Image.open(io.BytesIO(run(engines, halves(), target_format="png", aspect_ratio="1:1").content))
    jpg = Image.open(io.BytesIO(run(engines, halves(), target_format="jpg", aspect_ratio="1:1").content))
    assert png.size == jpg.size == (200, 200)
    assert png.convert("RGBA").getpixel((100, 2))[3] == 0  # the band above the picture
    assert all(channel > 245 for channel in jpg.convert("RGB").getpixel((100, 2)))
    wide = Image.open(io.BytesIO(run(engines, halves(), target_format="png", aspect_ratio="21:9").content))
    assert abs(wide.width / wide.height - 21 / 9) < 0.02


@pytest.mark.parametrize(("strategy", "colour"), [("crop-left", (255, 0, 0)), ("crop-right", (0, 0, 255))])
def test_crops_keep_the_side_they_name(engines, strategy, colour):
    output = run(engines, halves(), target_format="png", aspect_ratio="1:1", crop_strategy=strategy)
    image = Image.open(io.BytesIO(output.content)).convert("RGB")
    assert image.size == (100, 100)
    assert image.getpixel((50, 50)) == colour and image.getpixel((5, 5)) == colour


def test_crop_center_keeps_both_halves_and_resize_keeps_the_aspect(engines):
    centre = Image.open(
        io.BytesIO(
            run(
                engines, halves(), target_format="png", aspect_ratio="1:1", crop_strategy="crop-center"
            ).content
        )
    ).convert("RGB")
    assert centre.getpixel((10, 50)) == (255, 0, 0) and centre.getpixel((90, 50)) == (0, 0, 255)
    resized = Image.open(io.BytesIO(run(engines, halves(), target_format="png", resize_width=50).content))
    assert resized.size == (50, 25)
    both = Image.open(
        io.BytesIO(run(engines, halves(), target_format="png", resize_width=30, resize_height=40).content)
    )
    assert both.size == (30, 40)


def test_quality_changes_the_size(engines):
    photo = encode(page_image(PAGES[0]).convert("RGB"), "PNG")
    for target in ("jpg", "webp", "avif"):
        low = run(engines, photo, target_format=target, quality=10).content
        high = run(engines, photo, target_format=target, quality=95).content
        assert len(low) < len(high), target


@pytest.mark.parametrize("size", [16, 48, 256])
def test_ico_sizes(engines, size):
    icon = Image.open(io.BytesIO(run(engines, halves(), target_format="ico", icon_size=size).content))
    assert icon.size == (size, size)


def test_exif_orientation_is_applied_and_metadata_stripped_unless_kept(engines):
    rotated = exif_rotated_jpeg()
    stored = Image.open(io.BytesIO(rotated))
    upright = Image.open(io.BytesIO(run(engines, rotated, target_format="jpg").content))
    assert upright.size == (stored.height, stored.width)
    assert not upright.getexif()
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    exif[0x010F] = "Camera maker"
    with_gps = encode(Image.new("RGB", (40, 30), "white"), "JPEG", exif=exif.tobytes())
    stripped = Image.open(io.BytesIO(run(engines, with_gps, target_format="jpg").content)).getexif()
    kept = Image.open(
        io.BytesIO(run(engines, with_gps, target_format="jpg", keep_metadata=True).content)
    ).getexif()
    assert 0x8825 not in stripped and 0x010F not in stripped
    assert kept[0x010F] == "Camera maker" and 0x8825 in kept


def scanned_jpeg_with_metadata() -> bytes:
    """A JPEG as a scanner writes it: its name in the comment, EXIF and XMP."""
    exif = Image.Exif()
    exif[0x010F] = "MakerCorpX"  # Make
    exif[0x8825] = {1: "N", 2: (51.0, 30.0, 0.0)}  # GPS
    xmp = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Model="XmpScannerModel"/>'
        b"</rdf:RDF></x:xmpmeta>"
    )
    return encode(
        Image.new("RGB", (64, 48), "white"),
        "JPEG",
        comment=b"ScannerBrand FS-9000",
        exif=exif.tobytes(),
        xmp=xmp,
    )


@pytest.mark.parametrize("target", IMAGE_TARGETS)
def test_a_scanners_comment_exif_and_xmp_are_stripped_in_every_image_target(engines, target):
    content = run(engines, scanned_jpeg_with_metadata(), target_format=target).content
    left = [word for word in (b"ScannerBrand", b"MakerCorpX", b"XmpScannerModel") if word in content]
    assert left == []


@pytest.mark.parametrize("target", ["jpg", "webp", "heic"])
def test_keep_metadata_keeps_the_exif_alone(engines, target):
    content = run(engines, scanned_jpeg_with_metadata(), target_format=target, keep_metadata=True).content
    assert b"MakerCorpX" in content
    assert b"ScannerBrand" not in content and b"XmpScannerModel" not in content


def test_several_pages_to_a_single_page_format_are_a_zip_and_to_tiff_or_pdf_one_file(engines):
    tiff = multipage_tiff()
    zipped = run(engines, tiff, target_format="png")
    assert zipped.name == "in.zip" and zipped.media_type == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.content)) as archive:
        assert archive.namelist() == ["in-1.png", "in-2.png", "in-3.png"]
        assert Image.open(io.BytesIO(archive.read("in-2.png"))).format == "PNG"
    as_tiff = Image.open(io.BytesIO(run(engines, tiff, target_format="tiff").content))
    assert as_tiff.n_frames == 3
    scan = image_pdf([page_image(lines) for lines in PAGES])
    with zipfile.ZipFile(io.BytesIO(run(engines, scan, target_format="jpg", quality=50).content)) as archive:
        assert len(archive.namelist()) == len(PAGES)
    with pymupdf.open(stream=run(engines, multipage_tiff(), target_format="pdf").content) as pdf:
        assert pdf.page_count == 3
    one_page = run(engines, scan, Options(pages="2"), target_format="jpg")
    assert one_page.name == "in.jpg"


def test_text_targets(engines):
    scan = encode(page_image(PAGES[0]), "PNG")
    text = run(engines, scan, target_format="txt").content.decode()
    assert character_error_rate(page_text(PAGES[0]), text) <= 0.02
    answer = json.loads(run(engines, scan, target_format="json").content)
    assert answer["success"] is True and character_error_rate(page_text(PAGES[0]), answer["text"]) <= 0.02
    markdown = run(engines, scan, target_format="md")
    assert markdown.media_type.startswith("text/markdown")
    assert character_error_rate(page_text(PAGES[0]), markdown.content.decode()) <= 0.05
    hocr = run(engines, scan, target_format="hocr").content.decode()
    assert hocr.count("class='ocrx_word'") + hocr.count('class="ocrx_word"') == len(
        page_text(PAGES[0]).split()
    )
    assert 'class="ocr_line"' in hocr and "bbox" in hocr


def rendered_lines(markdown: str) -> list[str]:
    """The lines a reader sees once CommonMark renders ``markdown``: paragraphs and hard breaks
    end a line, soft breaks do not."""
    rendered = MarkdownIt("commonmark").render(markdown).replace("\n", " ")
    parts = re.split(r"<br />|</p>|</h\d>|</li>", rendered)
    texts = (html.unescape(re.sub(r"<[^>]+>", "", part)) for part in parts)
    return [" ".join(text.split()) for text in texts if text.strip()]


def test_a_receipt_keeps_its_lines_in_markdown(engines):
    receipt = encode(page_image(RECEIPT_LINES), "PNG")
    read = run(engines, receipt, target_format="txt").content.decode()
    markdown = run(engines, receipt, target_format="md").content.decode()
    lines = rendered_lines(markdown)
    assert lines == [" ".join(line.split()) for line in read.splitlines() if line.strip()]
    assert len(lines) == len(RECEIPT_LINES) and "TOTAL RM 20.03" in lines
    assert lines[2].startswith("47301 PETALING")  # no stray backslash before a number


def test_ocr_lines_that_look_like_markdown_stay_text():
    looks_like = ["# 12 TABLE", "1. Coffee 3.50", "2) Tea 2.00", "- discount -1.00", "+ tip", "* * *",
                  "====", "----", "> ref 88213", "```", "~~~", "| a | b |", "___", "<b>", "Qty <2> each",
                  "47301 PETALING JAYA"]  # fmt: skip
    page = PageResult(page=1, text="\n".join(looks_like), confidence=90.0, width=9, height=9, source="ocr")
    extraction = Extraction(engine="tesseract", language="eng", page_count=1, pages=[page], processing_time=0)
    assert rendered_lines(as_markdown(extraction, from_model=False).decode()) == looks_like


def grown(word: tuple, margin: float) -> pymupdf.Rect:
    """A word's box from ``get_text("words")``, grown by ``margin`` points on every side."""
    x0, y0, x1, y1 = word[:4]
    return pymupdf.Rect(x0 - margin, y0 - margin, x1 + margin, y1 + margin)


def test_the_searchable_pdf_has_the_text_on_the_words(engines):
    source = text_pdf(PAGES)
    expected = {page.number: page.get_text("words") for page in source}
    scan = image_pdf([page_image(lines) for lines in PAGES])
    output = run(engines, scan, target_format="pdf")
    with pymupdf.open(stream=output.content) as pdf:
        assert pdf.page_count == len(PAGES)
        for number, page in enumerate(pdf):
            assert page.get_images(), "the page keeps its picture"
            text = page.get_text()
            assert character_error_rate(page_text(PAGES[number]), text) <= 0.02
            fixture_words = expected[number]
            for x0, y0, x1, y1, word, *_ in page.get_text("words"):
                centre = pymupdf.Point((x0 + x1) / 2, (y0 + y1) / 2)
                holders = [w for w in fixture_words if grown(w, 2).contains(centre)]
                assert holders, f"{word!r} at {centre} is on no word of the fixture"
                assert grown(holders[0], 3).contains(pymupdf.Rect(x0, y0, x1, y1)), word
    assert len(output.content) < len(scan) * 1.5


def test_a_pdf_page_with_its_own_text_layer_is_kept_as_it_is(engines):
    digital = text_pdf([PAGES[0]]).tobytes()
    with pymupdf.open(stream=run(engines, digital, target_format="pdf").content) as pdf:
        assert pdf[0].get_text().split() == page_text(PAGES[0]).split()


def test_new_input_formats_are_read(engines):
    picture = Image.new("RGB", (64, 48), "red")
    heic, avif, ico = (
        encode(picture, "HEIF"),
        encode(picture, "AVIF"),
        encode(picture.resize((64, 48)).crop((8, 0, 56, 48)), "ICO", sizes=[(48, 48)]),
    )
    for data, name in ((heic, "heic"), (avif, "avif"), (ico, "ico")):
        out = Image.open(io.BytesIO(run(engines, data, target_format="png").content))
        assert out.format == "PNG" and out.size[1] == 48, name
    assert {"heic-txt", "avif-pdf", "ico-png", "pdf-hocr"} <= set(pairs())


def test_bad_shapes_are_refused_before_they_cost_memory(engines):
    frames = [Image.new("L", (4, 4), index % 256) for index in range(1000)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    with pytest.raises(TooLarge, match="animation has 1000 frames"):
        run(engines, gif.getvalue(), target_format="png")
    with pytest.raises(DecompressionBomb, match="over the limit"):
        run(engines, halves(), target_format="png", resize_width=10_000, resize_height=10_000)


def every_input() -> dict[str, bytes]:
    """A small picture in every input format Lector reads."""
    picture = Image.new("RGB", (96, 64), (200, 40, 40))
    picture.paste((20, 20, 160), (48, 0, 96, 64))
    inputs = {name: encode(picture, writer) for name, writer in
              (("png", "PNG"), ("jpg", "JPEG"), ("gif", "GIF"), ("bmp", "BMP"), ("webp", "WEBP"),
               ("tiff", "TIFF"), ("heic", "HEIF"), ("avif", "AVIF"))}  # fmt: skip
    inputs["ico"] = encode(picture.crop((0, 0, 64, 64)), "ICO", sizes=[(64, 64)])
    with pymupdf.open() as pdf:
        page = pdf.new_page(width=96 * 72 / 300, height=64 * 72 / 300)
        page.insert_image(page.rect, stream=inputs["png"])
        inputs["pdf"] = pdf.tobytes()
    return inputs


@pytest.mark.parametrize("source", ["png", "jpg", "gif", "bmp", "webp", "tiff", "heic", "avif", "ico", "pdf"])
def test_every_input_to_every_target(engines, source):
    data = every_input()[source]
    for target in IMAGE_TARGETS:
        output = run(engines, data, target_format=target)
        if target == "pdf":
            with pymupdf.open(stream=output.content) as pdf:
                assert pdf.page_count == 1, (source, target)
            continue
        decoded = Image.open(io.BytesIO(output.content))
        assert decoded.format == PIL_WRITERS[target], (source, target)
        width, height = decoded.size
        if target != "ico" and source not in ("ico", "pdf"):
            assert (width, height) == (96, 64), (source, target)
    for target in ("txt", "json", "md", "hocr"):
        output = run(engines, data, target_format=target)
        assert output.name == f"in.{'hocr.html' if target == 'hocr' else target}", target
        assert output.media_type == MEDIA_TYPES[target]  # a picture without text has empty text


# Over HTTP and through `lector convert`.


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
    images = {"png", "jpg", "gif", "bmp", "webp", "tiff", "heic", "avif", "ico", "svg", "psd", "eps"}
    office = {"docx", "doc", "odt", "rtf", "xlsx", "ods", "pptx", "odp"}
    media = {"mp4", "mov", "mkv", "webm", "avi", "mp3", "wav", "m4a", "aac", "ogg", "opus", "flac"}
    assert set(catalogue["inputs"]) == images | office | media | {"pdf"}
    # Each family converts to its own targets: no image to mp3, no audio to png.
    assert {"docx-pdf", "mp4-mp3", "mp4-gif", "wav-srt", "mp3-txt"} <= set(catalogue["pairs"])
    assert not {"png-mp3", "mp3-png", "wav-mp4", "docx-srt"} & set(catalogue["pairs"])


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
