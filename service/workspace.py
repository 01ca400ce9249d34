"""A private temporary directory per process, for page images and Tesseract's output.

Page rasters handed to Tesseract (~9 MB each) and Tesseract's own output files hold document
content. They go to ``<tmp>/lector-<pid>-<random>`` (mode 0700, made by ``mkdtemp``), which
is this process's ``tempfile.tempdir`` and its children's ``TMPDIR``. The directory is removed
when the process exits; a process killed outright leaves it behind, and the next Lector
process to start removes every such directory whose process is gone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

PREFIX = "lector-"

_current: Path | None = None


def use_private_tempdir() -> Path:
    """Make a private temporary directory this process's default (once); returns it."""
    global _current
    if _current is not None and _current.is_dir():
        return _current
    base = Path(tempfile.gettempdir())  # TMPDIR, as for any program
    remove_stale(base)
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))
    tempfile.tempdir = str(path)
    os.environ["TMPDIR"] = str(path)  # Tesseract and any other child process
    atexit.register(_remove, path, os.getpid())
    _current = path
    return path


def remove_stale(base: Path) -> int:
    """Remove the private directories of Lector processes that no longer run; returns how many."""
    removed = 0
    for path in base.glob(f"{PREFIX}*-*"):
        pid = path.name[len(PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not path.is_dir() or path.stat().st_uid != os.getuid():
            continue
        if _alive(int(pid)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _remove(path: Path, owner_pid: int) -> None:
    # A forked child (an RQ work horse) inherits atexit handlers; only the owner removes it.
    if os.getpid() == owner_pid:
        shutil.rmtree(path, ignore_errors=True)
