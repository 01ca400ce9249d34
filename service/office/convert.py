"""Office documents to PDF through one warm LibreOffice per process.

LibreOffice takes about a second to start and a few tens of milliseconds to convert a small
document once started, so each process keeps one running, started on its first document:
``service/office/bridge.py``, run by Debian's ``/usr/bin/python3`` (which has ``uno``; the
project's Python has not), starts ``soffice --headless`` on a private profile in this
process's temporary directory (the private one ``service.startup`` makes) and converts on
request, one JSON line each way.

- **One document at a time.** A lock serialises conversions; LibreOffice is not safe to drive
  from several threads, and each process has its own anyway.
- **A time limit per document.** Past ``timeout_s`` the bridge and LibreOffice are killed (one
  process group) and TooLarge is raised; the next document starts a fresh instance. A crash
  mid-document also ends the instance; a warm instance that crashes is retried once on a fresh
  one, since a long-lived LibreOffice may have failed for a reason of its own.
- **Owned by the process that started it.** A forked child (an RQ work horse) drops the copy of
  its parent's instance it inherits, without stopping it, and starts its own on first use.
- **Never left behind.** The instance stops when this process exits (atexit), its profile and
  the sockets LibreOffice leaves in /tmp removed; if this process is killed outright (or is a
  forked child that ends without atexit), the bridge sees it gone within half a second, kills
  LibreOffice and removes the same. Every ``RECYCLE_AFTER`` documents the instance is replaced,
  so whatever LibreOffice leaks goes back.
- **Nothing a document may do.** Macros never run, links are never followed or updated,
  formulas are not recalculated on load, no proxy and no secret is in LibreOffice's
  environment, one thread per pool (bridge.py says how).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.convert.formats import INPUTS, OFFICE_INPUTS
from service.errors import CorruptDocument, EngineUnavailable, ServerBusy, TooLarge
from service.logging import get_logger

#: The Python that runs the bridge: Debian's, with ``python3-uno``.
BRIDGE_PYTHON = "/usr/bin/python3"
BRIDGE = Path(__file__).with_name("bridge.py")
#: How long LibreOffice may take to start and answer (about a second when warm on disk).
START_TIMEOUT_S = 60.0
#: Documents one instance converts before it is replaced by a fresh one.
RECYCLE_AFTER = 200
#: The address space LibreOffice may use, in MiB: a document that needs more fails alone,
#: instead of drawing the OOM killer onto the worker. An idle instance maps about 800 MiB.
MEMORY_MB = 4096

log = get_logger("lector.office")

#: The sniffed names (``service.pages.sniff``) of the formats LibreOffice reads.
SNIFFED: dict[str, str] = {name: format for name, format in INPUTS.items() if format in OFFICE_INPUTS}


class _Died(Exception):
    """The bridge ended (LibreOffice crashed, or was killed)."""


class _TimedOut(Exception):
    """The bridge did not answer in time."""


@dataclass
class _Instance:
    """One running bridge and its LibreOffice, owned by the process that started it."""

    process: subprocess.Popen[bytes]
    home: Path
    #: The sockets LibreOffice leaves in /tmp when killed (the bridge names them).
    leftovers: list[str] = field(default_factory=list)
    owner: int = field(default_factory=os.getpid)
    converted: int = 0
    buffer: bytes = b""

    def send(self, message: dict[str, str]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise _Died from None

    def receive(self, deadline: float) -> dict[str, Any]:
        """The bridge's next answer; _TimedOut past ``deadline``, _Died when it ends."""
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _TimedOut
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise _Died
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self) -> None:
        """Kill the bridge and LibreOffice (one process group) and remove their files."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        self.abandon()
        shutil.rmtree(self.home, ignore_errors=True)
        for path in self.leftovers:
            with contextlib.suppress(OSError):
                os.unlink(path)

    def abandon(self) -> None:
        """Close this process's ends of the pipes, leaving the processes alone (after a fork,
        the parent still uses them)."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def log_tail(self) -> str:
        """The end of LibreOffice's own output, for the operator's log."""
        try:
            return (self.home / "office.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


_lock = threading.Lock()
_instance: _Instance | None = None


def soffice() -> str:
    """The path of ``soffice``; raises EngineUnavailable when LibreOffice is not installed."""
    found = shutil.which("soffice")
    if found is None:
        raise EngineUnavailable(
            "LibreOffice is not installed on this server, so office documents cannot be read."
        )
    if not os.access(BRIDGE_PYTHON, os.X_OK):
        raise EngineUnavailable(
            f"LibreOffice's Python bridge ({BRIDGE_PYTHON} with python3-uno) is not installed on this server."
        )
    return found


def available() -> bool:
    """Whether this server can convert office documents (``soffice`` and the bridge's Python)."""
    try:
        soffice()
    except EngineUnavailable:
        return False
    return True


def _start() -> _Instance:
    """Start a bridge and its LibreOffice, and wait until it answers."""
    binary = soffice()
    # In this process's temporary directory: the private one service.startup makes (0700).
    home = Path(tempfile.mkdtemp(prefix="office-"))
    pipe = f"lector-{os.getpid()}-{home.name}"
    command = [BRIDGE_PYTHON, "-I", str(BRIDGE), "--soffice", binary, "--home", str(home), "--pipe", pipe]
    command += ["--start-timeout", str(START_TIMEOUT_S), "--memory-mb", str(MEMORY_MB)]
    started = time.monotonic()
    with (home / "office.log").open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=output,
            start_new_session=True,  # its own process group, killed as one
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd=home,
        )
    instance = _Instance(process, home)
    try:
        answer = instance.receive(started + START_TIMEOUT_S + 5)
    except (_Died, _TimedOut):
        answer = {"ready": False, "detail": "no answer"}
    if not answer.get("ready"):
        log.error("office.start_failed", detail=answer.get("detail"), output=instance.log_tail())
        instance.stop()
        raise EngineUnavailable("LibreOffice could not be started on this server.")
    instance.leftovers = [str(path) for path in answer.get("leftovers", [])]
    log.info("office.started", seconds=round(time.monotonic() - started, 2))
    return instance


def _current() -> tuple[_Instance, bool]:
    """This process's instance, started when there is none; and whether it was already warm."""
    global _instance
    if _instance is not None and _instance.owner != os.getpid():
        _instance.abandon()
        _instance = None
    if _instance is not None and (
        _instance.process.poll() is not None or _instance.converted >= RECYCLE_AFTER
    ):
        _instance.stop()
        _instance = None
    if _instance is None:
        _instance = _start()
        return _instance, False
    return _instance, True


def _end_current() -> None:
    global _instance
    if _instance is not None:
        _instance.stop()
        _instance = None


def to_pdf(source: Path, out_dir: Path, *, format: str, timeout_s: float) -> Path:
    """Convert the office document ``source`` to PDF in ``out_dir``; returns the PDF's path
    (``out_dir/<source's stem>.pdf``).

    ``format`` is its catalogue name as sniffed from its bytes (``docx``, ``doc``, ``odt``,
    ``rtf``, ``xlsx``, ``ods``, ``pptx``, ``odp``; ``SNIFFED`` maps the sniffer's names): the
    document is read only by the LibreOffice filters of that format. ``timeout_s`` bounds the
    conversion (not the start of LibreOffice, bounded by START_TIMEOUT_S).

    Raises CorruptDocument when LibreOffice cannot read the document as that format, TooLarge
    when it takes longer than ``timeout_s``, EngineUnavailable when LibreOffice is missing or
    does not start, and ServerBusy when other documents hold this process's LibreOffice for
    longer than this one's time limit.
    """
    if format not in OFFICE_INPUTS:
        raise ValueError(f"{format!r} is not an office format")
    source, out_dir = source.resolve(), out_dir.resolve()
    target = out_dir / f"{source.stem}.pdf"
    if target == source or not out_dir.is_dir():
        raise ValueError(f"cannot write {target}")
    if not _lock.acquire(timeout=timeout_s + START_TIMEOUT_S):
        raise ServerBusy("The office converter is busy with other documents; try again shortly.")
    try:
        return _convert(source, target, format, timeout_s)
    finally:
        _lock.release()


def _convert(source: Path, target: Path, format: str, timeout_s: float) -> Path:
    deadline: float | None = None
    while True:
        instance, warm = _current()
        if deadline is None:  # from when LibreOffice is ready: its start has a limit of its own
            deadline = time.monotonic() + timeout_s
        with contextlib.suppress(FileNotFoundError):
            target.unlink()  # a PDF of an earlier try is no answer
        try:
            instance.send({"input": str(source), "output": str(target), "format": format})
            answer = instance.receive(deadline)
        except _TimedOut:
            log.warning("office.timeout", seconds=timeout_s, format=format)
            _end_current()
            raise TooLarge(f"The office document took longer than {timeout_s:g} s to convert.") from None
        except _Died:
            answer = {"ok": False, "reason": "crashed"}
        if answer.get("reason") == "crashed":
            log.warning("office.crashed", format=format, warm=warm, output=instance.log_tail())
            _end_current()
            if warm and time.monotonic() < deadline:
                continue  # once more on a fresh instance
            raise CorruptDocument(
                f"LibreOffice failed on the {format.upper()} document; "
                "it may be damaged or too large to convert."
            )
        instance.converted += 1
        if answer.get("ok") and _is_pdf(target):
            return target
        log.info("office.refused", format=format, reason=answer.get("reason"), detail=answer.get("detail"))
        if answer.get("reason") == "export" or answer.get("ok"):
            raise CorruptDocument(f"LibreOffice could not turn the {format.upper()} document into a PDF.")
        raise CorruptDocument(
            f"The document could not be read as {format.upper()}; "
            "it may be damaged, truncated or password-protected."
        )


def _is_pdf(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(5) == b"%PDF-"
    except OSError:
        return False


def shutdown() -> None:
    """Stop this process's LibreOffice, if it runs (the next document starts another)."""
    with _lock:
        if _instance is not None and _instance.owner == os.getpid():
            _end_current()


def _after_fork_in_child() -> None:
    # The child must neither use nor stop the parent's instance: it drops its copies of the
    # pipes (so the bridge still sees its input close when the parent ends) and its lock,
    # which another thread of the parent may have held at the fork.
    global _instance, _lock
    _lock = threading.Lock()
    if _instance is not None:
        _instance.abandon()
        _instance = None


def _stop_at_exit() -> None:
    if _instance is not None and _instance.owner == os.getpid():
        _instance.stop()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_at_exit)
