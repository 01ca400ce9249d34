"""What deploy/ ships: systemd units that ``systemd-analyze verify`` accepts without a word,
whose command lines lector takes, an env file example lector reads; and ``make install-prod``,
which installs the runtime without the test tools."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from service.cli import command_line
from service.cli.envfile import read_env_file
from service.errors import SettingsError
from service.settings import load_settings
from tests.helpers import ROOT, clean_env

DEPLOY = ROOT / "deploy"
UNITS = ("lector-api.service", "lector-worker@.service")
ENV_FILE = "/etc/lector/lector.env"
#: What every unit must say, each line as written.
REQUIRED = (
    "User=lector",
    "Restart=on-failure",
    "KillMode=mixed",
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "StateDirectory=lector",
    "PrivateTmp=yes",
)


def unit_root(tmp_path: Path, units: dict[str, str]) -> Path:
    """A root directory for ``systemd-analyze --root``: systemd's own units, ``units`` installed
    in /etc/systemd/system, and an executable where the units expect lector."""
    root = tmp_path / "root"
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    (root / "etc/systemd/system").mkdir(parents=True)
    for name, text in units.items():
        (root / "etc/systemd/system" / name).write_text(text)
    binary = root / "opt/lector/bin/lector"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    return root


def verify(root: Path) -> str:
    """What ``systemd-analyze verify`` says about Lector's units (nothing when they are right),
    with its status."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is not installed: `make test` installs it (make test-tools)"
    result = subprocess.run(
        [
            analyze,
            "verify",
            f"--root={root}",
            "--man=no",
            "--generators=no",
            "lector-api.service",
            "lector-worker@1.service",
            "lector-worker@2.service",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # A unit it cannot use fails it; a key or a value it ignores is only a warning, yet a mistake.
    said = [line for line in (result.stdout + result.stderr).splitlines() if "lector" in line]
    return "\n".join([*said, *([f"status {result.returncode}"] if result.returncode else [])])


def shipped() -> dict[str, str]:
    return {name: (DEPLOY / name).read_text() for name in UNITS}


def test_the_units_verify_without_a_warning(tmp_path):
    assert verify(unit_root(tmp_path, shipped())) == ""


@pytest.mark.parametrize(
    ("line", "broken"),
    [
        ("NoNewPrivileges=yes", "NoNewPrivilege=yes"),
        ("Restart=on-failure", "Restart=on-failur"),
        ("ProtectSystem=strict", "ProtectSystem=strictly"),
        ("[Service]", "[Servce]"),
        ("ExecStart=/opt/lector/bin/lector", "ExecStart=/opt/lector/bin/lectr"),
    ],
)
def test_a_broken_unit_fails_the_check(tmp_path, line, broken):
    units = shipped()
    assert line in units["lector-worker@.service"]
    units["lector-worker@.service"] = units["lector-worker@.service"].replace(line, broken, 1)
    assert "lector-worker@" in verify(unit_root(tmp_path, units))


@pytest.mark.parametrize("name", UNITS)
def test_each_unit_runs_lector_with_the_env_file_as_a_dedicated_user_hardened(name):
    text = (DEPLOY / name).read_text()
    lines = text.splitlines()
    for required in REQUIRED:
        assert required in lines, f"{name}: no {required}"
    (exec_start,) = [line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start.replace("%i", "3"))
    assert argv[0] == "/opt/lector/bin/lector"
    # lector's own parser takes the command line as written.
    args = command_line().parse_args(argv[1:])
    assert args.command == ("serve" if name == "lector-api.service" else "worker")
    assert str(args.env_file) == ENV_FILE
    if args.command == "worker":
        assert args.metrics_port == 9103  # instance 3's own port


def test_the_env_file_example_names_what_every_host_shares_and_refuses_empty_secrets():
    example = DEPLOY / "lector.env.example"
    values = read_env_file(example)  # lector reads it: every line well-formed, every name a setting
    shared = {
        "LECTOR_REDIS_URL",
        "LECTOR_SECRET",
        "LECTOR_ADMIN_KEY",
        "LECTOR_PUBLIC_URL",
        "LECTOR_STORAGE_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    assert shared <= set(values)
    assert ENV_FILE in " ".join(shipped().values())
    # Left empty, a secret stops lector with its name ...
    with pytest.raises(SettingsError, match=r"^Invalid LECTOR_SECRET=<hidden>"):
        load_settings(values)
    # ... and once filled in, the example is a configuration lector accepts.
    filled = {name: value or f"filled-in-{name}-0123456789abcdef0123456789" for name, value in values.items()}
    settings = load_settings(filled)
    assert settings.public_url == "https://ocr.example.com"
    assert settings.storage_url == "s3://lector-documents/prod"


#: The dev extra's packages that the runtime needs as well (rich, which litestar's CLI uses,
#: renders Markdown with it).
ALSO_RUNTIME = {"markdown-it-py"}


def test_install_prod_installs_the_runtime_from_the_lock_without_the_test_tools(tmp_path):
    result = subprocess.run(
        ["make", "--no-print-directory", "install-prod", f"PREFIX={tmp_path / 'lector'}", "DRY_RUN=1"],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    installed = set(re.findall(r"^ \+ ([A-Za-z0-9_.-]+)", result.stdout + result.stderr, re.M))
    assert {"lector", "litestar", "redis", "rq", "uvicorn", "pymupdf"} <= installed, installed
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    dev = {
        re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0].lower()
        for spec in project["optional-dependencies"]["dev"]
    }
    assert {"mypy", "ruff", "pytest", "playwright", "schemathesis"} <= dev
    assert installed & (dev - ALSO_RUNTIME) == set()
    assert not (tmp_path / "lector").exists()  # a dry run installs nothing
