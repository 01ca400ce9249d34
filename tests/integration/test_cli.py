"""The `lector` command as a user runs it."""

import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
from redis import Redis

from fixtures.generate import PAGES
from service.options import OPTION_NAMES
from tests.helpers import (
    OCR_DATA_KEYS,
    ROOT,
    TEST_STORE,
    character_error_rate,
    clean_env,
    free_port,
    page_text,
    port_open,
    start_redis,
    stop_process,
    wait_until,
)


def lector(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=cwd,
        env=clean_env(PYTHONPATH=str(ROOT), **env),
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


def test_convert_never_writes_over_its_input(docs, tmp_path):
    source = tmp_path / "in.pdf"
    shutil.copy(docs["invoice.pdf"], source)
    before = source.read_bytes()
    # The default output name is the input's, here: the same file.
    result = lector("convert", "in.pdf", "--to", "pdf", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == "lector: in.pdf is the input file; name another output with --out.\n"
    # Not even with --overwrite, by another spelling of the same path.
    (tmp_path / "sub").mkdir()
    again = lector("convert", "in.pdf", "--to", "pdf", "--out", "sub/../in.pdf", "--overwrite", cwd=tmp_path)
    assert again.returncode == 2 and "is the input file" in again.stderr
    assert source.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.pdf", "sub"]


def test_convert_replaces_an_existing_file_only_with_overwrite(docs, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"keep me")
    refused = lector("convert", str(docs["page.png"]), "--to", "png", "--out", str(out))
    assert refused.returncode == 2
    assert refused.stderr == (
        f"lector: {out} already exists; give --overwrite to replace it, or name another output with --out.\n"
    )
    assert out.read_bytes() == b"keep me"
    replaced = lector("convert", str(docs["page.png"]), "--to", "png", "--out", str(out), "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert out.read_bytes().startswith(b"\x89PNG")


def test_commands_that_use_redis_say_which_and_never_its_password(tmp_path):
    password = "pa55-Word-never-shown"
    process, url = start_redis(tmp_path, "--requirepass", password)
    port = url.rsplit(":", 1)[1].split("/")[0]
    try:
        redis_url = f"redis://:{password}@127.0.0.1:{port}/3"
        made = lector("keys", "create", "--name", "where", LECTOR_REDIS_URL=redis_url)
        assert made.returncode == 0, made.stderr
        assert made.stderr.splitlines()[0] == f"lector: Redis at 127.0.0.1:{port} db 3"
        assert password not in made.stdout + made.stderr
        # The line tells the truth: the key went to db 3, and nowhere else.
        client = Redis.from_url(redis_url)
        try:
            assert client.dbsize() > 0 and Redis.from_url(redis_url[:-1] + "0").dbsize() == 0
        finally:
            client.close()
    finally:
        stop_process(process)
    # A Redis that does not answer: still said, before the command gives up; a worker says it in
    # its log, whose every line is JSON.
    port = str(free_port())
    nowhere = f"redis://user:{password}@127.0.0.1:{port}/2"
    listed = lector("keys", "list", LECTOR_REDIS_URL=nowhere)
    assert listed.returncode == 1
    assert listed.stderr.startswith(f"lector: Redis at 127.0.0.1:{port} db 2\n")
    worker = lector("worker", LECTOR_REDIS_URL=nowhere)
    assert worker.returncode == 1
    first, second = (json.loads(line) for line in worker.stderr.splitlines()[:2])
    assert (first["event"], first["at"]) == ("redis", f"127.0.0.1:{port} db 2")
    assert (second["event"], second["at"]) == ("store", f"file://{TEST_STORE}")  # and which store
    assert password not in listed.stdout + listed.stderr + worker.stdout + worker.stderr


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


def test_batch_refuses_an_output_name_it_cannot_read_a_format_from(docs, tmp_path):
    result = lector("batch", str(docs["page.png"]), "--type", "text", "--out", str(tmp_path / "r.txt"))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "lector: cannot tell the results format from 'r.txt': name it .csv, .jsonl or .ndjson."
    )
    assert not (tmp_path / "r.txt").exists()


def test_batch_takes_every_option_ocr_takes():
    def flags(command: str) -> set[str]:
        shown = lector(command, "--help")
        assert shown.returncode == 0, shown.stderr
        return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", shown.stdout))

    ocr, batch = flags("ocr"), flags("batch")
    assert {"--" + name.replace("_", "-") for name in OPTION_NAMES} <= ocr
    assert ocr - {"--json"} <= batch


def test_batch_against_no_server_says_so_without_a_traceback(docs, tmp_path):
    # Finding 11: a connection error showed a traceback.
    server = f"http://127.0.0.1:{free_port()}"
    out = str(tmp_path / "r.csv")
    result = lector(
        "batch", str(docs["page.png"]), "--type", "text", "--out", out, "--server", server, "--key", "k" * 8
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip() == f"lector: cannot reach the server at {server}: cannot connect to the server."
    )


def test_ocr_refuses_what_the_api_refuses(docs):
    result = lector("ocr", str(docs["page.png"]), "--lang", "+".join(["eng"] * 9))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == "lector: --lang: use up to 8 language codes joined by +, such as eng or eng+deu."
    )


def test_ocr_reports_ignored_model_options(docs):
    result = lector("ocr", str(docs["page.png"]), "--engine", "tesseract", "--ocr-instructions", "EUR")
    assert result.returncode == 0
    assert "`ocr_instructions` was ignored" in result.stderr


def test_serve_falls_back_to_the_key_make_run_generated(tmp_path, redis_url):
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "api-key").write_text("generated-key-0123456789\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve"],
        cwd=tmp_path,
        env=clean_env(LECTOR_PORT=str(port), LECTOR_REDIS_URL=redis_url, PYTHONPATH=str(ROOT)),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: port_open(port), 30, "lector serve")
        url = f"http://127.0.0.1:{port}/api/document-types"
        assert httpx.get(url, headers={"X-API-Key": "generated-key-0123456789"}).status_code == 200
        assert httpx.get(url, headers={"X-API-Key": "another-key-0123456789"}).status_code == 401
    finally:
        stop_process(process)
    assert "using the key in var/api-key" in process.stderr.read()


def test_ocr_shows_a_visible_page_break_on_a_terminal_and_a_form_feed_in_a_pipe(docs):
    piped = lector("ocr", str(docs["scanned.pdf"]), "--pages", "1-2")
    assert piped.stdout.count("\f") == 1 and "page break" not in piped.stdout
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "service.cli", "ocr", str(docs["scanned.pdf"]), "--pages", "1-2"],
            cwd=ROOT,
            env=clean_env(),
            stdout=follower,
            stderr=subprocess.PIPE,
            timeout=120,
        )
        assert process.returncode == 0
        os.close(follower)
        shown = b""
        while chunk := _read(leader):
            shown += chunk
    finally:
        os.close(leader)
    assert b"page break" in shown and b"\f" not in shown


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other side closed: everything was read
        return b""


def test_serve_worker_up_and_keys_take_their_settings_from_an_env_file(tmp_path):
    file_port, env_port = free_port(), free_port()
    env_file = tmp_path / "lector.env"
    env_file.write_text(f"# shared by every host\nLECTOR_REDIS_URL='redis://127.0.0.1:{file_port}/4'\n")
    for command in (["worker"], ["keys"], ["up"], ["serve"], ["backup"], ["restore"]):
        assert "--env-file" in lector(*command, "--help").stdout, command
    # No Redis answers at the file's address: each says it is the one it tried.
    worker = lector("worker", "--env-file", str(env_file))
    assert worker.returncode == 1
    assert json.loads(worker.stderr.splitlines()[0])["at"] == f"127.0.0.1:{file_port} db 4"
    assert f"Redis does not answer at 127.0.0.1:{file_port} db 4" in worker.stderr
    keys = lector("keys", "--env-file", str(env_file), "list")
    assert keys.stderr.startswith(f"lector: Redis at 127.0.0.1:{file_port} db 4\n")
    # A variable set in the environment wins over the file.
    explicit = lector(
        "keys", "--env-file", str(env_file), "list", LECTOR_REDIS_URL=f"redis://127.0.0.1:{env_port}/5"
    )
    assert explicit.stderr.startswith(f"lector: Redis at 127.0.0.1:{env_port} db 5\n")


def test_a_bad_env_file_is_one_sentence_and_status_2(tmp_path):
    missing = tmp_path / "missing.env"
    for command in (["serve"], ["worker"], ["up"]):
        result = lector(*command, "--env-file", str(missing))
        assert (result.returncode, result.stdout) == (2, ""), result.stderr
        assert result.stderr == f"lector: Cannot read the env file {missing}: No such file or directory.\n"
    malformed = tmp_path / "malformed.env"
    malformed.write_text("LECTOR_PORT=8000\nLECTOR_SECRET 'a-secret-never-shown'\n")
    result = lector("up", "--env-file", str(malformed))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"lector: {malformed} line 2: no '='") and result.stderr.count("\n") == 1
    assert "a-secret-never-shown" not in result.stderr
    # A value the file gives is checked as the environment's is.
    bad_value = tmp_path / "bad-value.env"
    bad_value.write_text("LECTOR_MAX_PAGES=lots\n")
    result = lector("worker", "--env-file", str(bad_value))
    assert result.returncode == 2 and result.stderr.startswith("lector: Invalid LECTOR_MAX_PAGES='lots'")
