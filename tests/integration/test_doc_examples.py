"""The documentation's examples run as written: every curl line that needs nothing the reader
fills in goes to a real Lector started for it, and every ``lector ocr`` and ``lector convert``
line runs on the repository's fixtures. (tests/unit/test_readme.py checks every command,
these included, for real targets, flags, routes and files.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.reference import README
from tests import office_fixtures as office
from tests.doc_commands import EXAMPLE_URL, PLACEHOLDER, Command, commands, json_block
from tests.helpers import ADMIN_KEY, API_KEY, ROOT, SECRET, Server, start_server

#: What a reader fills in, or an address this machine cannot reach: such lines are only checked.
NOT_RUNNABLE = re.compile(rf"{PLACEHOLDER.pattern}|\$JOBID|https?://(?!127\.0\.0\.1:8000)")


def runnable(command: Command, program: str) -> bool:
    return re.search(rf"(^|[|;]\s*|\s){re.escape(program)}\s", command.text) is not None and not (
        NOT_RUNNABLE.search(command.text)
    )


def unique(found: list[Command]) -> list[Command]:
    """Each command line once (as the first document shows it), to keep the runs few."""
    first: dict[str, Command] = {}
    for command in found:
        first.setdefault(command.text, command)
    return list(first.values())


CURL = unique([command for command in commands() if runnable(command, "curl")])
LECTOR = unique(
    [
        command
        for command in commands()
        if re.match(r"\.venv/bin/lector (ocr|convert) fixtures/", command.text)
        and not NOT_RUNNABLE.search(command.text)
    ]
)


@pytest.fixture(scope="module")
def docs_server(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A Lector with every feature the examples show turned on."""
    running = start_server(
        tmp_path_factory.mktemp("docs-server"),
        LECTOR_REDIS_URL=redis_url,
        LECTOR_ADMIN_KEY=ADMIN_KEY,
        LECTOR_SECRET=SECRET,
        LECTOR_ANONYMOUS="on",
        LECTOR_REGISTRATION="on",
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def own_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the examples have the reader bring: a video, a recording, office documents."""
    folder = tmp_path_factory.mktemp("own-files")
    ffmpeg = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
    picture = ["-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2"]
    sound = ["-f", "lavfi", "-i", "sine=frequency=440:duration=2"]
    for name in ("talk.mp4", "film.mov"):
        subprocess.run([*ffmpeg, *picture, *sound, "-shortest", str(folder / name)], check=True)
    subprocess.run(["espeak-ng", "-w", str(folder / "call.wav"), "the invoice is due on friday"], check=True)
    subprocess.run([*ffmpeg, "-i", str(folder / "call.wav"), str(folder / "call.mp3")], check=True)
    text = office.flat(folder / "report.fodt", "text", office.paragraphs("Quarterly report"))
    sheet = office.flat(folder / "sheet.fods", "spreadsheet", office.sheet("Sheet1", "Total 42"))
    office.convert(
        [
            (text, folder / "report.docx", "MS Word 2007 XML"),
            (sheet, folder / "sheet.xlsx", "Calc MS Excel 2007 XML"),
        ]
    )
    return folder


@pytest.fixture
def reader(tmp_path: Path, own_files: Path) -> Path:
    """A folder like the reader's checkout: the fixtures at ``fixtures/``, the reader's own
    files, outputs written beside."""
    (tmp_path / "fixtures").symlink_to(ROOT / "fixtures")
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    for name in ("talk.mp4", "film.mov", "call.wav", "call.mp3", "report.docx", "sheet.xlsx"):
        (tmp_path / name).symlink_to(own_files / name)
    return tmp_path


def shell(line: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_examples_are_found() -> None:
    assert len(CURL) >= 20 and len(LECTOR) >= 5, (len(CURL), len(LECTOR))


@pytest.mark.parametrize("command", CURL, ids=str)
def test_every_runnable_curl_example_succeeds_against_a_real_lector(
    command: Command, docs_server: Server, reader: Path
) -> None:
    # --fail-with-body: an HTTP error fails the line, with the answer kept for the message.
    line = command.text.replace(EXAMPLE_URL, docs_server.url).replace("curl ", "curl --fail-with-body ")
    run = shell(line, reader, KEY=API_KEY, ADMIN=ADMIN_KEY)
    assert run.returncode == 0, f"{command}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    if "-F file=@fixtures/receipt.png -F document_type_code=receipt -F engine=tesseract" in command.text:
        fields = json.loads(run.stdout)["data"]["fields"]
        shown = json_block(README, "receipt-fields")
        assert isinstance(shown, dict)
        assert {name: fields[name] for name in shown} == shown


@pytest.mark.parametrize("command", LECTOR, ids=str)
def test_every_lector_ocr_and_convert_example_runs_on_the_fixtures(command: Command, reader: Path) -> None:
    run = shell(command.text, reader)
    assert run.returncode == 0, f"{command}\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}"
    if "--type receipt" in command.text:
        shown = json_block(README, "receipt-fields")
        assert isinstance(shown, dict)
        fields = json.loads(run.stdout)["fields"]
        assert {name: fields[name] for name in shown} == shown
    out = re.search(r"--out (\S+)", command.text)
    if out:
        assert (reader / out.group(1)).stat().st_size > 0
