"""The `lector` command as a user runs it."""

import json
import subprocess
import sys

from fixtures.generate import PAGES
from tests.helpers import OCR_DATA_KEYS, ROOT, character_error_rate, clean_env, free_port, page_text


def lector(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ocr_prints_the_text(docs):
    result = lector("ocr", str(docs["scanned.pdf"]), "--pages", "2")
    assert result.returncode == 0, result.stderr
    assert character_error_rate(page_text(PAGES[1]), result.stdout) <= 0.02


def test_ocr_json_has_the_api_data_shape(docs):
    result = lector("ocr", str(docs["mixed.pdf"]), "--json", "--words")
    data = json.loads(result.stdout)
    assert set(data) == OCR_DATA_KEYS
    assert [page["source"] for page in data["raw_response"]["pages"]] == ["text-layer", "ocr"]
    assert data["raw_response"]["pages"][0]["words"]


def test_ocr_errors_are_one_line_on_stderr(docs, tmp_path):
    bad = lector("ocr", str(docs["random.bin"]))
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("lector: Unsupported format") and bad.stderr.count("\n") == 1
    missing = lector("ocr", str(tmp_path / "nope.png"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_serve_refuses_to_start_without_a_key():
    result = lector("serve", LECTOR_PORT=str(free_port()))
    assert result.returncode == 2
    assert "No API key configured: set LECTOR_API_KEYS" in result.stderr


def test_a_bad_setting_stops_every_command_with_its_name():
    for command in (["serve"], ["worker"], ["ocr", "x.png"]):
        result = lector(*command, LECTOR_MAX_PAGES="lots")
        assert result.returncode == 2
        assert result.stderr.startswith("lector: Invalid LECTOR_MAX_PAGES='lots'")


def test_worker_without_redis_says_so():
    result = lector("worker", LECTOR_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    assert result.returncode == 1
    assert "Redis does not answer" in result.stderr
