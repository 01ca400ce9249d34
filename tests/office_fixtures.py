"""Office documents for the tests and the benchmark, made at run time.

Flat OpenDocument XML and OpenDocument packages are written here by hand (any Python); the
other formats (DOCX, DOC, RTF, XLSX, PPTX...) are made from them by LibreOffice itself:
``convert(jobs)`` runs this file with Debian's ``/usr/bin/python3``, which has ``uno``::

    /usr/bin/python3 -I tests/office_fixtures.py JOBS.json [--allow]

``JOBS.json`` lists ``[input, output, filter, visible]``: each input is loaded and stored as ``output``
through the export filter named (``MS Word 2007 XML``, ``writer_pdf_Export``...). The
LibreOffice it starts has the bridge's locked-down profile (``service/office/bridge.py``), so
a hostile fixture is written as it was, without running its macros or following its links.

``--allow`` does the opposite, to show that a hostile fixture is hostile: macros run without
asking, and links are updated on load. LibreOffice fires no open event for a hidden document,
so a job may ask for a window (its fourth item); a spreadsheet whose links update in a window
crashes this LibreOffice, so only the macro document gets one.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Collection
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parents[1]
DEBIAN_PYTHON = "/usr/bin/python3"
#: What the script says when every job is done.
DONE = "office fixtures made"

_NAMESPACES = " ".join(
    f'xmlns:{prefix}="{uri}"'
    for prefix, uri in {
        "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
        "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
        "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
        "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
        "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
        "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
        "xlink": "http://www.w3.org/1999/xlink",
        "script": "urn:oasis:names:tc:opendocument:xmlns:script:1.0",
        "ooo": "http://openoffice.org/2004/office",
        "of": "urn:oasis:names:tc:opendocument:xmlns:of:1.2",
    }.items()
)
_MIMETYPES = {
    "text": "application/vnd.oasis.opendocument.text",
    "spreadsheet": "application/vnd.oasis.opendocument.spreadsheet",
    "presentation": "application/vnd.oasis.opendocument.presentation",
}
#: The events a hostile document binds its script to: opening, and what a conversion does.
EVENTS = ("dom:load", "office:load-finished", "office:view-created", "office:layout-finished", "office:print")


def paragraphs(*texts: str) -> str:
    """Text paragraphs, for the body of a text document."""
    return "".join(f"<text:p>{escape(text)}</text:p>" for text in texts)


def sheet(name: str, *cells: str, source: str = "") -> str:
    """A table of one column, for the body of a spreadsheet; ``source``: a table-source element."""
    rows = "".join(
        f'<table:table-row><table:table-cell office:value-type="string"><text:p>{escape(cell)}</text:p>'
        "</table:table-cell></table:table-row>"
        for cell in cells
    )
    return f"<table:table table:name={quoteattr(name)}>{source}{rows}</table:table>"


def slide(text: str) -> str:
    """A slide holding one text box, for the body of a presentation."""
    return (
        '<draw:page draw:name="page1"><draw:frame svg:x="2cm" svg:y="2cm" svg:width="20cm" svg:height="3cm">'
        f"<draw:text-box><text:p>{escape(text)}</text:p></draw:text-box></draw:frame></draw:page>"
    )


def flat(path: Path, kind: str, body: str) -> Path:
    """A flat OpenDocument file (.fodt, .fods, .fodp) of ``kind`` (text, spreadsheet, presentation)."""
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?><office:document {_NAMESPACES} office:version="1.3" '
        f'office:mimetype="{_MIMETYPES[kind]}"><office:body><office:{kind}>{body}</office:{kind}>'
        "</office:body></office:document>",
        encoding="utf-8",
    )
    return path


def package(
    path: Path, kind: str, body: str, *, scripts: str = "", files: dict[str, str] | None = None
) -> Path:
    """An OpenDocument package (.odt, .ods) of ``kind``, with ``scripts`` (office:scripts
    content) and other ``files`` beside content.xml."""
    mimetype = _MIMETYPES[kind]
    files = files or {}
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_NAMESPACES} office:version="1.3">'
        f"<office:scripts>{scripts}</office:scripts><office:body><office:{kind}>{body}</office:{kind}>"
        "</office:body></office:document-content>"
    )
    entries = "".join(
        f'<manifest:file-entry manifest:full-path="{name}" manifest:media-type="text/xml"/>'
        for name in ("content.xml", *files)
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.3" '
        f'manifest:media-type="{mimetype}"/>'
        f"{entries}</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)  # first and stored, as ODF requires
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        for name, text in files.items():
            archive.writestr(name, text, zipfile.ZIP_DEFLATED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    return path


def macro_document(path: Path, marker: Path) -> Path:
    """A text document whose Basic macro, bound to opening it (and to what a conversion does),
    writes ``marker``."""
    code = f'Sub Main\n  Open "{marker}" For Output As #1\n  Print #1, "ran"\n  Close #1\nEnd Sub'
    head = '<?xml version="1.0" encoding="UTF-8"?>'
    library = 'xmlns:library="http://openoffice.org/2000/library"'
    basic = {
        "Basic/script-lc.xml": f'{head}<library:libraries {library} xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<library:library library:name="Standard" library:link="false"/></library:libraries>',
        "Basic/Standard/script-lb.xml": f'{head}<library:library {library} library:name="Standard" '
        'library:readonly="false" library:passwordprotected="false">'
        '<library:element library:name="Module1"/></library:library>',
        "Basic/Standard/Module1.xml": f"{head}<script:module "
        'xmlns:script="http://openoffice.org/2000/script" script:name="Module1" script:language="StarBasic">'
        f"{escape(code)}</script:module>",
    }
    url = quoteattr("vnd.sun.star.script:Standard.Module1.Main?language=Basic&location=document")
    listeners = "".join(
        f'<script:event-listener script:language="ooo:script" script:event-name="{event}" xlink:href={url}/>'
        for event in EVENTS
    )
    scripts = f"<office:event-listeners>{listeners}</office:event-listeners>"
    return package(path, "text", paragraphs("Macro document"), scripts=scripts, files=basic)


def convert(
    jobs: list[tuple[Path, Path, str]],
    *,
    allow: bool = False,
    visible: Collection[Path] = (),
    timeout: float = 120,
) -> None:
    """Have LibreOffice store each ``(input, output, export filter)`` (see the module's doc);
    with ``allow``, the inputs in ``visible`` are opened in a window, so their open events fire."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as listing:
        json.dump(
            [[str(source), str(target), name, source in visible] for source, target, name in jobs], listing
        )
        listing.flush()
        command = [DEBIAN_PYTHON, "-I", __file__, listing.name, *(["--allow"] if allow else [])]
        # In a process group of its own, so that LibreOffice ends with it whatever happens.
        with tempfile.TemporaryFile() as output:
            process = subprocess.Popen(command, stdout=output, stderr=output, start_new_session=True)
            try:
                process.wait(timeout=timeout)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            output.seek(0)
            said = output.read().decode(errors="replace")
            if DONE not in said:  # it ends by killing its group, itself included: no exit status
                raise RuntimeError(f"LibreOffice could not make the fixtures:\n{said[-3000:]}")


# What follows runs under Debian's Python, with uno.

#: com.sun.star.document.MacroExecMode.ALWAYS_EXECUTE_NO_WARN and UpdateDocMode.QUIET_UPDATE
#: (FULL_UPDATE would ask first, and there is no one to answer).
ALWAYS_EXECUTE_NO_WARN = 4
QUIET_UPDATE = 1
#: The settings --allow runs with: macros and links as permissive as LibreOffice allows.
PERMISSIVE = (
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "xs:int", "0"),
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "xs:int", "2"),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "xs:int", "0"),
)


def main() -> None:
    sys.path.insert(0, str(ROOT / "service" / "office"))
    import bridge  # type: ignore[import-not-found]
    import uno  # type: ignore[import-not-found]

    if os.getpgrp() != os.getpid():  # it ends by killing its process group: its own, only
        os.setpgid(0, 0)
    jobs = json.loads(Path(sys.argv[1]).read_text())
    allow = "--allow" in sys.argv[2:]
    load: dict[str, Any] = {"MacroExecutionMode": bridge.NEVER_EXECUTE, "UpdateDocMode": bridge.NO_UPDATE}
    if allow:
        load = {"MacroExecutionMode": ALWAYS_EXECUTE_NO_WARN, "UpdateDocMode": QUIET_UPDATE}
    home = Path(tempfile.mkdtemp(prefix="lector-office-fixtures-"))
    pipe = f"fixtures-{home.name}"
    try:
        office = bridge.start_office(
            "soffice", home, pipe, sys.stderr, PERMISSIVE if allow else bridge.SETTINGS
        )
        running = bridge.Office(bridge.connect(pipe, office, time.monotonic() + 60))
        for source, target, export, visible in jobs:
            url = uno.systemPathToFileUrl(source)
            hidden = not (allow and visible)
            document = running.desktop.loadComponentFromURL(
                url, "_blank", 0, bridge._properties(Hidden=hidden, **load)
            )
            try:
                store = bridge._properties(FilterName=export, Overwrite=True)
                document.storeToURL(uno.systemPathToFileUrl(target), store)
            finally:
                document.close(True)
        print(DONE, flush=True)
    finally:
        # The caller started this script in a process group of its own: end it all as the
        # bridge does, its files included (killing soffice, a shell script that runs oosplash,
        # would leave soffice.bin running).
        bridge.end_group(home, pipe)


if __name__ == "__main__":
    main()
