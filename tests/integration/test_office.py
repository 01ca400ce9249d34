"""Office documents through the real LibreOffice (``service.office``): every office format to a
PDF with its text, documents that would run macros or read linked files made harmless, damaged
ones refused with one sentence, and the warm instance replaced after a timeout, a crash or a fork.

The fixtures are made at run time: flat OpenDocument files written here, turned into DOCX, DOC,
RTF... by LibreOffice (``tests/office_fixtures.py``); the hostile ones are OpenDocument packages
written by hand.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar
from xml.sax.saxutils import quoteattr

import httpx
import pymupdf
import pytest

from service.errors import CorruptDocument, TooLarge
from service.office import SNIFFED, shutdown, to_pdf
from service.office import convert as office
from service.pages import sniff
from tests import office_fixtures as make
from tests.helpers import API_KEY, serving_in_thread, wait_for_end

TIMEOUT_S = 60
#: Each catalogue format: the sniffer's name for it, the flat source it is made from, the
#: export filter that makes it, and the text it holds.
FORMATS = {
    "docx": ("DOCX", "text", "MS Word 2007 XML"),
    "doc": ("DOC", "text", "MS Word 97"),
    "odt": ("ODT", "text", "writer8"),
    "rtf": ("RTF", "text", "Rich Text Format"),
    "xlsx": ("XLSX", "spreadsheet", "Calc MS Excel 2007 XML"),
    "ods": ("ODS", "spreadsheet", "calc8"),
    "pptx": ("PPTX", "presentation", "Impress MS PowerPoint 2007 XML"),
    "odp": ("ODP", "presentation", "impress8"),
}
TEXT = {"text": "Zebra writer 4711", "spreadsheet": "Zebra calc 4711", "presentation": "Zebra impress 4711"}
#: What the files a hostile document links to hold: it must never reach a PDF.
SECRET = "crocodile"


@pytest.fixture(scope="module", autouse=True)
def _stop_libreoffice():
    yield
    shutdown()


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One document of each office format, named without an extension (as uploads are stored)."""
    work = tmp_path_factory.mktemp("office")
    sources = {
        "text": make.flat(work / "source.fodt", "text", make.paragraphs(TEXT["text"])),
        "spreadsheet": make.flat(
            work / "source.fods", "spreadsheet", make.sheet("Sheet1", TEXT["spreadsheet"])
        ),
        "presentation": make.flat(work / "source.fodp", "presentation", make.slide(TEXT["presentation"])),
    }
    made = {name: work / f"upload-{name}" for name in FORMATS}
    make.convert([(sources[kind], made[name], export) for name, (_, kind, export) in FORMATS.items()])
    return made


class _Remote(BaseHTTPRequestHandler):
    """A server on loopback that a document links an image to: it notes every request."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.requests.append(self.path)
        body = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">'
            f'<text x="10" y="50" font-size="30">Secret remote {SECRET}</text></svg>'
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "image/svg+xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    """The base URL of a _Remote."""
    with serving_in_thread(_Remote) as url:
        yield url


def _image(href: str) -> str:
    return (
        '<text:p><draw:frame text:anchor-type="paragraph" svg:width="8cm" svg:height="2cm">'
        f'<draw:image xlink:href="{href}" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/>'
        "</draw:frame></text:p>"
    )


def _links(work: Path, remote: str) -> tuple[Path, Path]:
    """A text document with a section and an image linked to local files and an image linked to
    ``remote``, and a spreadsheet with a sheet linked to a local file and a formula fetching from
    ``remote``; what they link to holds SECRET, the documents a placeholder."""
    section = make.flat(work / "secret.fodt", "text", make.paragraphs(f"Secret section {SECRET}"))
    image = work / "secret.svg"
    image.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="100">'
        f'<text x="10" y="50" font-size="30">Secret image {SECRET}</text></svg>'
    )
    table = work / "secret.csv"
    table.write_text(f"Secret sheet {SECRET}\n")
    text = make.package(
        work / "links.odt",
        "text",
        make.paragraphs("Linked document")
        + f'<text:section text:name="Linked"><text:section-source xlink:href="{section.as_uri()}"/>'
        "<text:p>placeholder section</text:p></text:section>"
        + _image(image.as_uri())
        + _image(f"{remote}/{work.name}/secret.svg"),
    )
    source = (
        f'<table:table-source xlink:type="simple" xlink:href="{table.as_uri()}" '
        'table:filter-name="Text - txt - csv (StarCalc)" table:filter-options="44,34,76,1" '
        'table:mode="copy-all"/>'
    )
    # A formula that fetches a URL (WEBSERVICE) whenever the sheet is calculated.
    fetch = quoteattr(f'of:=COM.MICROSOFT.WEBSERVICE("{remote}/{work.name}/webservice")')
    formula = (
        f'<table:table table:name="Fetching"><table:table-row><table:table-cell table:formula={fetch}/>'
        "</table:table-row></table:table>"
    )
    spreadsheet = make.package(
        work / "links.ods",
        "spreadsheet",
        make.sheet("Sheet1", "Linked sheet")
        + make.sheet("Linked", "placeholder cell", source=source)
        + formula,
    )
    return text, spreadsheet


def _text(pdf: Path) -> str:
    with pymupdf.open(pdf) as document:
        return "\n".join(page.get_text() for page in document)


def _group_alive(group: int) -> bool:
    """Whether any process of process group ``group`` still runs (zombies aside)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] not in "ZX":
            return True
    return False


def _wait_gone(group: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _group_alive(group):
            return True
        time.sleep(0.05)
    return False


def _bridge() -> int:
    """The process id of this process's bridge, which is its LibreOffice's process group."""
    assert office._instance is not None
    return office._instance.process.pid


@pytest.mark.parametrize("name", FORMATS)
def test_every_office_format_is_sniffed_and_becomes_a_pdf_with_its_text(
    name: str, documents: dict[str, Path], tmp_path: Path
):
    sniffed, kind, _ = FORMATS[name]
    assert sniff(documents[name]) == sniffed
    assert SNIFFED[sniffed] == name
    pdf = to_pdf(documents[name], tmp_path, format=name, timeout_s=TIMEOUT_S)
    assert pdf == tmp_path / f"upload-{name}.pdf"
    assert TEXT[kind] in _text(pdf)


def test_the_hostile_documents_are_hostile_in_a_permissive_libreoffice(tmp_path: Path, remote: str):
    # The control for the next two tests: with macros allowed and links updated, LibreOffice
    # runs the macro and reads every linked file, so their assertions could fail.
    marker = tmp_path / "macro-ran"
    macro = make.macro_document(tmp_path / "macro.odt", marker)
    text, spreadsheet = _links(tmp_path, remote)
    pdfs = [tmp_path / "text.pdf", tmp_path / "spreadsheet.pdf"]
    make.convert(
        [
            (macro, tmp_path / "macro.pdf", "writer_pdf_Export"),
            (text, pdfs[0], "writer_pdf_Export"),
            (spreadsheet, pdfs[1], "calc_pdf_Export"),
        ],
        allow=True,
        visible=[macro],
    )
    assert marker.exists()
    assert f"Secret section {SECRET}" in _text(pdfs[0])
    assert f"Secret image {SECRET}" in _text(pdfs[0])
    assert f"Secret remote {SECRET}" in _text(pdfs[0])
    assert f"/{tmp_path.name}/secret.svg" in _Remote.requests
    assert f"/{tmp_path.name}/webservice" in _Remote.requests
    assert f"Secret sheet {SECRET}" in _text(pdfs[1])


def test_a_macro_bound_to_opening_the_document_does_not_run(tmp_path: Path):
    marker = tmp_path / "macro-ran"
    macro = make.macro_document(tmp_path / "macro.odt", marker)
    assert sniff(macro) == "ODT"
    pdf = to_pdf(macro, tmp_path, format="odt", timeout_s=TIMEOUT_S)
    assert "Macro document" in _text(pdf)
    time.sleep(0.5)  # a macro that ran would have written by now
    assert not marker.exists()


def test_linked_files_and_urls_are_not_read(tmp_path: Path, remote: str):
    text, spreadsheet = _links(tmp_path, remote)
    converted = _text(to_pdf(text, tmp_path, format="odt", timeout_s=TIMEOUT_S))
    assert "Linked document" in converted
    assert "placeholder section" in converted  # what the document holds, not what it links to
    assert SECRET not in converted
    converted = _text(to_pdf(spreadsheet, tmp_path, format="ods", timeout_s=TIMEOUT_S))
    assert "Linked sheet" in converted
    assert SECRET not in converted
    assert not [path for path in _Remote.requests if path.startswith(f"/{tmp_path.name}/")]


def _damaged(documents: dict[str, Path], work: Path) -> dict[str, tuple[Path, str]]:
    """Documents that are not what their format says: by name, (path, format)."""
    docx = documents["docx"].read_bytes()
    truncated = work / "truncated"
    truncated.write_bytes(docx[: len(docx) // 2])
    garbage = io.BytesIO()
    with zipfile.ZipFile(garbage, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types")
        archive.writestr("word/document.xml", "not XML at all")
    broken = work / "broken-package"
    broken.write_bytes(garbage.getvalue())
    ole = work / "random-ole"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(4096))
    spreadsheet = documents["xlsx"]  # a good document of another format than the one named
    return {
        "truncated DOCX": (truncated, "docx"),
        "DOCX package with broken parts": (broken, "docx"),
        "OLE header then noise": (ole, "doc"),
        "XLSX sent as DOCX": (spreadsheet, "docx"),
    }


def test_a_damaged_document_is_refused_with_one_sentence(documents: dict[str, Path], tmp_path: Path):
    for label, (path, format) in _damaged(documents, tmp_path).items():
        with pytest.raises(CorruptDocument) as refused:
            to_pdf(path, tmp_path, format=format, timeout_s=TIMEOUT_S)
        message = refused.value.message
        assert message.endswith(".") and message.count(".") == 1, (label, message)
        assert format.upper() in message, (label, message)
        assert not (tmp_path / f"{path.stem}.pdf").exists(), label
    # LibreOffice read none of them as text (it would, without the filter check), and goes on.
    assert TEXT["text"] in _text(to_pdf(documents["docx"], tmp_path, format="docx", timeout_s=TIMEOUT_S))


def test_a_document_past_its_time_limit_stops_libreoffice_and_the_next_one_converts(
    documents: dict[str, Path], tmp_path: Path
):
    to_pdf(documents["odt"], tmp_path, format="odt", timeout_s=TIMEOUT_S)  # warm
    before = _bridge()
    with pytest.raises(TooLarge) as refused:
        to_pdf(documents["pptx"], tmp_path, format="pptx", timeout_s=0.001)
    assert refused.value.message == "The office document took longer than 0.001 s to convert."
    assert office._instance is None
    assert _wait_gone(before)  # the bridge and every LibreOffice process it started
    pdf = to_pdf(documents["pptx"], tmp_path, format="pptx", timeout_s=TIMEOUT_S)
    assert TEXT["presentation"] in _text(pdf)
    assert _bridge() != before


def test_a_crashed_libreoffice_is_replaced_and_the_document_converts(
    documents: dict[str, Path], tmp_path: Path
):
    to_pdf(documents["odt"], tmp_path, format="odt", timeout_s=TIMEOUT_S)  # warm
    bridge = _bridge()
    crashed = [
        int(stat.parent.name)
        for stat in Path("/proc").glob("[0-9]*/stat")
        if stat.parent.name != str(bridge)
        and int(stat.read_text().rsplit(")", 1)[1].split()[2]) == bridge
        and "soffice.bin" in (stat.parent / "cmdline").read_text()
    ]
    assert crashed, "no soffice.bin in the bridge's process group"
    for pid in crashed:
        os.kill(pid, signal.SIGKILL)
    pdf = to_pdf(documents["docx"], tmp_path, format="docx", timeout_s=TIMEOUT_S)
    assert TEXT["text"] in _text(pdf)
    assert _bridge() != bridge
    assert _wait_gone(bridge)


def test_a_warm_conversion_is_faster_than_a_cold_one(documents: dict[str, Path], tmp_path: Path):
    shutdown()
    started = time.perf_counter()
    to_pdf(documents["docx"], tmp_path, format="docx", timeout_s=TIMEOUT_S)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    to_pdf(documents["docx"], tmp_path, format="docx", timeout_s=TIMEOUT_S)
    warm = time.perf_counter() - started
    assert warm < cold / 2, (warm, cold)


def test_a_forked_child_starts_its_own_libreoffice_which_ends_with_it(
    documents: dict[str, Path], tmp_path: Path
):
    to_pdf(documents["odt"], tmp_path, format="odt", timeout_s=TIMEOUT_S)
    parents = _bridge()
    assert office._instance is not None
    files = [office._instance.home, *map(Path, office._instance.leftovers)]
    assert len(files) == 3 and all(path.exists() for path in files)  # profile, and sockets in /tmp
    (tmp_path / "child").mkdir()
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # as an RQ work horse: converts, then ends without running atexit handlers
        code = 1
        try:
            os.close(reader)
            inherited = office._instance
            pdf = to_pdf(documents["docx"], tmp_path / "child", format="docx", timeout_s=TIMEOUT_S)
            mine = office._instance
            if inherited is None and mine is not None and TEXT["text"] in _text(pdf):
                said = {"pid": mine.process.pid, "files": [str(mine.home), *mine.leftovers]}
                os.write(writer, json.dumps(said).encode() + b"\n")
            code = 0
        finally:
            os._exit(code)
    os.close(writer)
    with os.fdopen(reader) as answer:
        said = json.loads(answer.readline() or '{"pid": 0, "files": []}')
    childs = said["pid"]
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert childs not in (0, parents)
    assert _wait_gone(childs)  # its bridge saw its parent go and ended its process group,
    assert len(said["files"]) == 3
    assert not any(Path(name).exists() for name in said["files"])  # and removed its files
    assert _bridge() == parents and _group_alive(parents)  # the parent's was left alone
    pdf = to_pdf(documents["rtf"], tmp_path, format="rtf", timeout_s=TIMEOUT_S)
    assert TEXT["text"] in _text(pdf)
    assert _bridge() == parents
    shutdown()
    assert _wait_gone(parents)
    assert not any(path.exists() for path in files)  # its profile, its temporary files, its sockets


# Over HTTP with real workers: Converter App's docx-to-pdf sync example, Convertr, Lector's
# own routes, and an office document read as an OCR input through its PDF's text layer.


def test_docx_to_pdf_through_the_routes(server, workers, documents: dict[str, Path]):
    docx = documents["docx"].read_bytes()
    headers = {"X-API-Key": API_KEY}
    with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
        app = client.post(
            "/convert/sync", data={"target_format": "pdf"}, files={"files": ("document.docx", docx)}
        )
        assert app.status_code == 200, app.text
        assert app.headers["content-type"] == "application/pdf" and TEXT["text"] in _pdf_text(app.content)
        convertr = client.post(
            "/convertr/api/convert",
            data={"input_format": "odt", "output_format": "pdf"},
            files={"file": ("notes.odt", documents["odt"].read_bytes())},
        )
        assert convertr.status_code == 200 and TEXT["text"] in _pdf_text(convertr.content)
        queued = client.post(
            "/api/convert-file-async",
            data={"target_format": "png"},
            files={"file": ("deck.pptx", documents["pptx"].read_bytes())},
        )
        assert queued.status_code == 202, queued.text
        status = wait_for_end(client, queued.json()["conversion_id"])
        assert (
            status["status"] == "SUCCESS"
            and sniff(client.get(status["file"]["download_url"]).content) == "PNG"
        )
        read = client.post(
            "/api/ocr/extract-text-from-file", files={"file": ("sheet.xlsx", documents["xlsx"].read_bytes())}
        )
        assert read.status_code == 200, read.text
        data = read.json()["data"]
        assert (
            TEXT["spreadsheet"] in data["text"] and data["raw_response"]["pages"][0]["source"] == "text-layer"
        )


def _pdf_text(pdf: bytes) -> str:
    with pymupdf.open(stream=pdf, filetype="pdf") as document:
        return "".join(page.get_text() for page in document)
