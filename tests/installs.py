"""Lector as it is installed where there is no checkout: its wheel, in an environment of its own."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT, clean_env

#: `make` installs uv into .tools/; a uv on the PATH does as well.
UV = (
    str(ROOT / ".tools" / "bin" / "uv")
    if (ROOT / ".tools" / "bin" / "uv").exists()
    else shutil.which("uv") or "uv"
)


def uv(*args: str, **env: str) -> None:
    """Run ``uv ARGS`` in the checkout; a failure says what uv said."""
    run = subprocess.run(
        [UV, *args], cwd=ROOT, capture_output=True, text=True, timeout=300, env=clean_env(**env)
    )
    assert run.returncode == 0, f"uv {' '.join(args)}:\n{run.stdout}\n{run.stderr}"


def build_wheel(out: Path) -> Path:
    """Lector's wheel, built from the checkout into ``out``."""
    uv("build", "--wheel", "--out-dir", str(out), str(ROOT))
    return next(out.glob("lector-*.whl"))


def install(wheel: Path, venv: Path) -> Path:
    """A new virtual environment at ``venv`` holding the lock's runtime packages and ``wheel``
    (no test tools); returns its ``bin`` folder. Offline, in about a second: the packages come
    from uv's cache, where ``make install`` put them."""
    uv("venv", "--quiet", "--python", sys.executable, str(venv))
    uv("sync", "--quiet", "--frozen", "--no-dev", "--no-install-project", "--offline",
       UV_PROJECT_ENVIRONMENT=str(venv))  # fmt: skip
    python = str(venv / "bin" / "python")
    uv("pip", "install", "--quiet", "--offline", "--no-deps", "--python", python, str(wheel))
    return venv / "bin"
