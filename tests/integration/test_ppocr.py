"""The ppocr engine (PP-OCRv6 small through rapidocr): its bundled models, its text and
words on generated pages, and a clear refusal when the models are missing."""

from __future__ import annotations

import sys

import pytest

from fixtures.generate import PAGES, image_pdf, page_image
from service.engines.ppocr import model_paths
from service.errors import EngineUnavailable
from service.extract import extract
from service.options import Options
from service.settings import Settings
from service.startup import prepare_process
from tests.helpers import character_error_rate, page_text


@pytest.fixture(scope="module")
def engines():
    return prepare_process(Settings())


def test_the_models_come_from_the_package(tmp_path):
    detection, recognition = model_paths()
    assert detection.name == "PP-OCRv6_det_small.onnx" and detection.stat().st_size > 1_000_000
    assert recognition.name == "PP-OCRv6_rec_small.onnx" and recognition.stat().st_size > 1_000_000


def test_missing_models_are_a_clear_refusal_not_a_download(monkeypatch, tmp_path):
    (tmp_path / "rapidocr").mkdir()
    (tmp_path / "rapidocr" / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))  # a rapidocr package without its models
    monkeypatch.delitem(sys.modules, "rapidocr", raising=False)
    with pytest.raises(EngineUnavailable, match="ppocr engine's models are missing"):
        model_paths()


def test_pages_read_in_parallel_with_words_and_confidences(engines):
    scan = image_pdf([page_image(lines) for lines in PAGES])
    extraction = extract(scan, Options(engine="ppocr", include_words=True), engines)
    assert extraction.engine == "ppocr"
    for lines, page in zip(PAGES, extraction.pages, strict=True):
        assert character_error_rate(page_text(lines), page.text) <= 0.02
        assert page.source == "ocr" and page.confidence is not None and page.confidence > 90
        assert [word.text for word in page.words] == page_text(lines).split()
        for word in page.words:
            left, top, right, bottom = word.box
            assert 0 <= left < right <= page.width and 0 <= top < bottom <= page.height
            assert 0 <= word.confidence <= 100


def test_the_ppocr_engine_over_http(client, docs):
    import base64

    image = base64.b64encode(docs["page.png"].read_bytes()).decode()
    response = client.post("/api/ocr/extract-text", json={"image": image, "engine": "ppocr"})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["raw_response"]["engine"] == "ppocr"
    assert character_error_rate(page_text(PAGES[0]), data["text"]) <= 0.02


@pytest.mark.parametrize("size", [(1, 1), (64, 64)])
def test_a_page_without_text_is_read_as_empty(engines, size):
    """rapidocr answers a page with no text with one empty word, not a line of words."""
    import io

    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", size, "white").save(blank, format="PNG")
    extraction = extract(blank.getvalue(), Options(engine="ppocr", include_words=True), engines)
    assert extraction.pages[0].text == ""
    assert extraction.pages[0].words == []
