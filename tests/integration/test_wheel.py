"""The package as a user installs it: a wheel, in a fresh environment outside the checkout."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers import ROOT, clean_env
from tests.installs import UV


def run(*command: str, cwd=ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    # Without PYTHONPATH: a checkout on it would be imported instead of the installed copy.
    env = {name: value for name, value in clean_env().items() if name != "PYTHONPATH"}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
    return result


def test_a_wheel_installed_elsewhere_extracts_a_receipt(tmp_path, docs, wheel):
    # The versions the tests run with (uv.lock), so the install needs nothing new from an index.
    constraints = tmp_path / "constraints.txt"
    run(UV, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "-o", str(constraints))
    venv = tmp_path / "venv"
    run(UV, "venv", "--python", sys.executable, str(venv))
    run(UV, "pip", "install", "--python", str(venv / "bin" / "python"), "-c", str(constraints), str(wheel))

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run(
        str(venv / "bin" / "lector"), "ocr", str(docs["receipt.png"]), "--type", "receipt", cwd=elsewhere
    )
    data = json.loads(result.stdout)
    assert data["fields"]["total"] is not None
    assert set(data["fields"]) >= {"merchant_name", "date", "total"}
    # It ran the installed copy, with the document types the wheel carries.
    probe = "import service.doctypes as d; print(d.data_folders()[0])"
    where = run(str(venv / "bin" / "python"), "-c", probe, cwd=elsewhere).stdout
    assert str(venv) in where and str(ROOT) not in where
