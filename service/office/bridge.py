"""The bridge between Lector and one warm LibreOffice: run by Debian's ``/usr/bin/python3``,
which has ``uno``; the standard library and ``uno`` only, as it cannot import Lector.

``service.office.convert`` starts it in a process group of its own::

    /usr/bin/python3 -I bridge.py --soffice /usr/bin/soffice --home DIR --pipe NAME \
        [--start-timeout S] [--memory-mb N]

It writes a private LibreOffice profile under ``DIR`` (macros never run, links never update,
one thread per pool), starts ``soffice --headless`` on it listening on the UNO pipe ``NAME``,
and answers one JSON line for each JSON line it reads::

    {"input": "/abs/in.docx", "output": "/abs/out.pdf", "format": "docx"}
    -> {"ok": true}
    -> {"ok": false, "reason": "unreadable" | "mismatch" | "export" | "crashed", "detail": "..."}

The first line it writes is ``{"ready": true, "leftovers": [...]}`` once LibreOffice answers
(the sockets LibreOffice leaves in /tmp if killed), or ``{"ready": false, "detail": "..."}``.
After "crashed" it ends. When its input closes, or the process that started it is gone, it
kills LibreOffice, removes ``DIR`` and the sockets, and ends: it never outlives its caller.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn
from xml.sax.saxutils import escape

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]

#: How often the watchdog looks whether the process that started the bridge is still there.
WATCH_S = 0.5
#: LibreOffice's constants, spelled out (com.sun.star.document.MacroExecMode.NEVER_EXECUTE,
#: com.sun.star.document.UpdateDocMode.NO_UPDATE) so that the bridge needs no type lookups.
NEVER_EXECUTE = 0
NO_UPDATE = 0

#: The import filters a document of each catalogue format may be read with. A file is loaded
#: only through the filter LibreOffice's detection picks among these: anything else (a ZIP
#: that only looks like DOCX, bytes LibreOffice would read as plain text) is refused, so a
#: damaged document is an error and not a PDF of its raw bytes.
IMPORT_FILTERS: dict[str, tuple[str, ...]] = {
    "docx": ("MS Word 2007 XML", "Office Open XML Text", "MS Word 2007 XML Template"),
    # The sniffer names every OLE2 compound file DOC: Word, Excel and PowerPoint 97-2003.
    "doc": (
        "MS Word 97",
        "MS Word 97 Vorlage",
        "MS Excel 97",
        "MS Excel 97 Vorlage/Template",
        "MS PowerPoint 97",
    ),
    "odt": ("writer8", "writer8_template"),
    "rtf": ("Rich Text Format",),
    "xlsx": ("Calc MS Excel 2007 XML", "Calc Office Open XML", "Calc MS Excel 2007 XML Template"),
    "ods": ("calc8", "calc8_template"),
    "pptx": (
        "Impress MS PowerPoint 2007 XML",
        "Impress Office Open XML",
        "Impress MS PowerPoint 2007 XML AutoPlay",
    ),
    "odp": ("impress8", "impress8_template"),
}
#: The PDF export filter of each kind of document, by the service its model supports
#: (a presentation is also a drawing, so it comes first).
EXPORT_FILTERS: tuple[tuple[str, str], ...] = (
    ("com.sun.star.text.TextDocument", "writer_pdf_Export"),
    ("com.sun.star.sheet.SpreadsheetDocument", "calc_pdf_Export"),
    ("com.sun.star.presentation.PresentationDocument", "impress_pdf_Export"),
    ("com.sun.star.drawing.DrawingDocument", "draw_pdf_Export"),
)

#: The private profile's settings (registrymodifications.xcu): what a document may not do.
SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    # Macros: never, whatever a document asks; event bindings to any script are refused too
    # (an empty allow-list), which covers scripts shipped with LibreOffice (location=share).
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "xs:int", "3"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "xs:boolean", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "CheckDocumentEvents", "xs:boolean", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "AllowedDocumentEventURLs", "oor:string-list", ""),
    # VBA projects of Word, Excel and PowerPoint files are neither imported nor runnable.
    ("/org.openoffice.Office.Writer/Filter/Import/VBA", "Load", "xs:boolean", "false"),
    ("/org.openoffice.Office.Writer/Filter/Import/VBA", "Executable", "xs:boolean", "false"),
    ("/org.openoffice.Office.Calc/Filter/Import/VBA", "Load", "xs:boolean", "false"),
    ("/org.openoffice.Office.Calc/Filter/Import/VBA", "Executable", "xs:boolean", "false"),
    ("/org.openoffice.Office.Impress/Filter/Import/VBA", "Load", "xs:boolean", "false"),
    # What a document links to (images, media...) is not fetched: LibreOffice takes the
    # document's own URL as the links' referer, and no location is trusted.
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "xs:boolean", "true"),
    # Links (sections, OLE objects, DDE, external references) never update: Writer 0 = never,
    # Calc 1 = never; formulas are never recalculated on load (WEBSERVICE would fetch URLs).
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "xs:int", "0"),
    ("/org.openoffice.Office.Calc/Content/Update", "Link", "xs:int", "1"),
    ("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "xs:int", "1"),
    ("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "xs:int", "1"),
    # One thread for formulas, no OpenCL: the bridge runs beside other work on the machine.
    (
        "/org.openoffice.Office.Calc/Formula/Calculation",
        "UseThreadedCalculationForFormulaGroups",
        "xs:boolean",
        "false",
    ),
    ("/org.openoffice.Office.Common/Misc", "UseOpenCL", "xs:boolean", "false"),
    # No proxy (0 = none), no Java, nothing that shows or phones home.
    ("/org.openoffice.Inet/Settings", "ooInetProxyType", "xs:int", "0"),
    ("/org.openoffice.Office.Java/VirtualMachine", "Enable", "xs:boolean", "false"),
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "xs:boolean", "false"),
    ("/org.openoffice.Office.Common/Misc", "ShowTipOfTheDay", "xs:boolean", "false"),
    ("/org.openoffice.Office.Common/Misc", "CrashReport", "xs:boolean", "false"),
    ("/org.openoffice.Office.Common/Load", "ShowOfficeUpdateDialog", "xs:boolean", "false"),
    ("/org.openoffice.Office.Common/Save/Document", "AutoSave", "xs:boolean", "false"),
    ("/org.openoffice.Office.Recovery/AutoSave", "Enabled", "xs:boolean", "false"),
    ("/org.openoffice.Office.Recovery/RecoveryInfo", "Enabled", "xs:boolean", "false"),
)


def registry(settings: tuple[tuple[str, str, str, str], ...]) -> str:
    """The text of a registrymodifications.xcu that holds ``settings``."""
    items = []
    for path, name, kind, value in settings:
        shown = f"<value>{escape(value)}</value>" if value else "<value/>"
        items.append(
            f'<item oor:path="{escape(path)}"><prop oor:name="{escape(name)}" oor:op="fuse" '
            f'oor:type="{kind}">{shown}</prop></item>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' + "\n".join(items) + "\n</oor:items>\n"
    )


def office_environment(home: Path) -> dict[str, str]:
    """LibreOffice's environment: built from nothing, so no secret of Lector's (keys, store
    credentials) and no proxy reaches it; its home and temporary files in ``home``."""
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
        # The headless backend that needs no display; one worker thread in its pools.
        "SAL_USE_VCLPLUGIN": "svp",
        "MAX_CONCURRENCY": "1",
        "OMP_THREAD_LIMIT": "1",
    }


def profile_of(home: Path) -> Path:
    """The LibreOffice profile the bridge keeps in ``home``."""
    return home / "profile"


def start_office(
    soffice: str, home: Path, pipe: str, log: Any, settings: tuple[tuple[str, str, str, str], ...] = SETTINGS
) -> subprocess.Popen[bytes]:
    """Write the private profile (with ``settings``) and start LibreOffice on it, listening on
    ``pipe``."""
    profile = profile_of(home)
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (home / "tmp").mkdir(exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(registry(settings), encoding="utf-8")
    command = [
        soffice,
        "--headless",
        "--invisible",
        "--nologo",
        "--norestore",
        "--nodefault",
        "--nolockcheck",
        "--nofirststartwizard",
        f"-env:UserInstallation={profile.as_uri()}",
        f"--accept=pipe,name={pipe};urp;",
    ]
    # In the bridge's own process group (no new session), so that one kill of the group ends
    # the bridge and every LibreOffice process.
    return subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=office_environment(home), cwd=home
    )


def connect(pipe: str, office: subprocess.Popen[bytes], deadline: float) -> Any:
    """The component context of the LibreOffice listening on ``pipe``, once it answers."""
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    while True:
        try:
            context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            break
        except NoConnectException:
            if office.poll() is not None:
                raise RuntimeError(f"LibreOffice exited with status {office.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError("LibreOffice did not answer in time") from None
            time.sleep(0.05)
    return context


def _properties(**values: Any) -> tuple[Any, ...]:
    return tuple(PropertyValue(Name=name, Value=value) for name, value in values.items())


def detect(detection: Any, url: str) -> str:
    """The import filter LibreOffice's deep type detection picks for ``url`` ('' if none)."""
    descriptor = _properties(URL=url)
    kind, descriptor = detection.queryTypeByDescriptor(descriptor, True)
    for prop in descriptor:
        if prop.Name == "FilterName" and prop.Value:
            return str(prop.Value)
    if not kind:
        return ""
    for prop in detection.getByName(kind):
        if prop.Name == "PreferredFilter":
            return str(prop.Value)
    return ""


class Office:
    """The UNO services of one running LibreOffice that a conversion uses."""

    def __init__(self, context: Any) -> None:
        manager = context.ServiceManager
        self.desktop = manager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        self.detection = manager.createInstanceWithContext("com.sun.star.document.TypeDetection", context)

    def alive(self) -> bool:
        """Whether LibreOffice still answers (after a failure: was it the document, or a crash?)."""
        try:
            self.desktop.getFrames().getCount()
        except Exception:  # DisposedException, or any other end of the connection
            return False
        return True


def convert(office: Office, source: str, target: str, format: str) -> dict[str, Any]:
    """Load ``source`` as a ``format`` document and export it to ``target`` as PDF."""
    url = uno.systemPathToFileUrl(source)
    try:
        found = detect(office.detection, url)
    except Exception as exc:  # UNO raises its own exception types
        return {"ok": False, "reason": "unreadable", "detail": f"type detection: {exc}"}
    if found not in IMPORT_FILTERS.get(format, ()):
        return {"ok": False, "reason": "mismatch", "detail": f"detected {found or 'nothing'!r}"}
    load = _properties(
        Hidden=True,
        ReadOnly=True,
        FilterName=found,
        MacroExecutionMode=NEVER_EXECUTE,
        UpdateDocMode=NO_UPDATE,
        Silent=True,
    )
    try:
        document = office.desktop.loadComponentFromURL(url, "_blank", 0, load)
    except Exception as exc:
        return {"ok": False, "reason": "unreadable", "detail": str(exc)}
    if document is None:
        return {"ok": False, "reason": "unreadable", "detail": "no document"}
    try:
        export = next((name for service, name in EXPORT_FILTERS if document.supportsService(service)), None)
        if export is None:
            return {"ok": False, "reason": "mismatch", "detail": "not a text, spreadsheet or presentation"}
        try:
            document.storeToURL(
                uno.systemPathToFileUrl(target), _properties(FilterName=export, Overwrite=True)
            )
        except Exception as exc:
            return {"ok": False, "reason": "export", "detail": str(exc)}
        return {"ok": True}
    finally:
        try:
            document.close(True)
        except Exception:  # a document that will not close is disposed
            document.dispose()


def leftovers(home: Path, pipe: str) -> list[Path]:
    """What a LibreOffice on ``home``'s profile leaves behind when killed, besides ``home``: the
    sockets of its UNO pipe and of its single-instance pipe (named for an MD5 of the profile's
    URL), which it always makes in /tmp."""
    digest = hashlib.md5(profile_of(home).as_uri().encode("utf-16-le"), usedforsecurity=False).digest()
    single = "SingleOfficeIPC_" + "".join(f"{byte:x}" for byte in digest)
    return [Path(f"/tmp/OSL_PIPE_{os.getuid()}_{name}") for name in (pipe, single)]


def end_group(home: Path | None = None, pipe: str = "") -> NoReturn:
    """Kill the bridge's process group: every LibreOffice process, then the bridge itself.
    ``home`` (the profile and LibreOffice's temporary files) and the pipes' sockets, when given,
    are removed between: when the bridge ends on its own, nobody else will."""
    me, group = os.getpid(), os.getpgrp()
    if home is not None:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                pid = int(stat.parent.name)
                if pid != me and int(fields[2]) == group:
                    os.kill(pid, signal.SIGKILL)
            except (OSError, IndexError, ValueError):  # gone meanwhile, or not readable
                continue
        shutil.rmtree(home, ignore_errors=True)
        for path in leftovers(home, pipe):
            path.unlink(missing_ok=True)
    os.killpg(group, signal.SIGKILL)
    os._exit(1)  # not reached: the bridge is in its group


def watch_parent(parent: int, home: Path, pipe: str) -> NoReturn:
    """End everything once the process that started the bridge is gone (a SIGKILL, a crash, a
    forked child that ended without cleaning up)."""
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    end_group(home, pipe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soffice", required=True)
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--pipe", required=True)
    parser.add_argument("--start-timeout", type=float, default=60.0)
    parser.add_argument("--memory-mb", type=int, default=4096)
    args = parser.parse_args()
    if os.getpgrp() != os.getpid():  # end_group must never reach whoever ran the bridge
        os.setpgid(0, 0)
    # LibreOffice inherits the limit: a document that needs more memory fails alone.
    limit = args.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # The protocol has stdout to itself: whatever else writes to fd 1 (UNO, a warning) goes to
    # stderr, which the caller sends to a log file.
    answers = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    threading.Thread(target=watch_parent, args=(os.getppid(), args.home, args.pipe), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: end_group(args.home, args.pipe))

    def say(message: dict[str, Any]) -> None:
        answers.write(json.dumps(message) + "\n")

    try:
        office = start_office(args.soffice, args.home, args.pipe, sys.stderr)
        running = Office(connect(args.pipe, office, time.monotonic() + args.start_timeout))
    except Exception as exc:
        say({"ready": False, "detail": str(exc)})
        end_group()
    # The caller removes these when it kills the bridge; the bridge, when it ends on its own.
    say({"ready": True, "leftovers": [str(path) for path in leftovers(args.home, args.pipe)]})
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = convert(running, request["input"], request["output"], request["format"])
        except Exception as exc:
            answer = {"ok": False, "reason": "unreadable", "detail": str(exc)}
        if not answer["ok"] and (office.poll() is not None or not running.alive()):
            # A failure because LibreOffice crashed (on this document, or for reasons of its own):
            # this bridge is of no more use.
            say({"ok": False, "reason": "crashed", "detail": answer.get("detail", "")})
            end_group()
        say(answer)
    end_group(args.home, args.pipe)  # the caller closed its end: it is done with this bridge


if __name__ == "__main__":
    main()
