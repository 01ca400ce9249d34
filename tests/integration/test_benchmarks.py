"""Every benchmark runs in its smoke form (one repetition of tiny inputs), so none can break
unseen between two full runs of ``make bench``."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

from tests.benchmarks.__main__ import ALL
from tests.benchmarks.async_ocrmypdf import NO_OCRMYPDF, ocrmypdf_binary
from tests.benchmarks.tables import BENCHMARKS_MD
from tests.helpers import ROOT, clean_env

#: The rows whose reference is OCRmyPDF: the async row and the two searchable-PDF rows.
OCRMYPDF_ROWS = 3


def test_every_benchmark_runs_in_its_smoke_form(tmp_path: Path) -> None:
    before = BENCHMARKS_MD.read_bytes()
    run = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks", "--smoke", *ALL],
        cwd=ROOT,
        env=clean_env(TMPDIR=str(tmp_path)),  # the benchmarks' working folders go where pytest cleans
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, f"{run.stdout[-3000:]}\n{run.stderr[-6000:]}"
    for name in ALL:
        assert f"`python -m tests.benchmarks.{name} --smoke`" in run.stdout, f"{name} printed no section"
    assert run.stdout.count("|---|") >= len(ALL) + 5  # the accuracy benchmark prints six tables
    assert BENCHMARKS_MD.read_bytes() == before, "a smoke run wrote into docs/benchmarks.md"

    # OCRmyPDF needs `make bench-tools` (Ghostscript and a venv from PyPI), which a test may not
    # download: without it the Lector side of its rows still runs, and the rows say so.
    if ocrmypdf_binary(smoke=True) is None:
        assert run.stdout.count(NO_OCRMYPDF) == OCRMYPDF_ROWS, run.stdout
        warnings.warn(
            "OCRmyPDF is not installed (make bench-tools): the benchmarks' smoke runs measured "
            "Lector's side of the OCRmyPDF rows only",
            stacklevel=1,
        )
    else:
        assert NO_OCRMYPDF not in run.stdout
