"""``make bench``: office documents to PDF through Lector's warm LibreOffice, against the
LibreOffice command a user would otherwise call.

A DOCX of three pages (text and a table) to PDF with ``service.office.to_pdf``, the call the
conversion pipeline makes, on an instance started beforehand; against ``soffice --headless
--convert-to pdf`` on the same file, each run with a fresh profile of its own (a one-off
conversion pays LibreOffice's start). Interleaved, median of 5. A second row times Lector's
first document in a process, which starts its LibreOffice, against the same reference.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from service.office import shutdown, to_pdf
from tests import office_fixtures as make
from tests.benchmarks.sync import COLUMNS
from tests.benchmarks.tables import add_smoke_flag, publish, table, title

RUNS = 5
#: Paragraphs of the full run's document (three pages, with a 30-row table), and of the smoke form's.
PARAGRAPHS, SMOKE_PARAGRAPHS = 120, 3
TIMEOUT_S = 120


def document(work: Path, paragraphs: int) -> Path:
    """A DOCX of ``paragraphs`` paragraphs and a table, made by LibreOffice from flat ODT."""
    text = [
        f"Paragraph {n}: the quarterly figures for the northern region, as reported."
        for n in range(paragraphs)
    ]
    rows = "".join(
        f"<table:table-row><table:table-cell><text:p>Item {n}</text:p></table:table-cell>"
        f"<table:table-cell><text:p>{n * 17.5:.2f}</text:p></table:table-cell></table:table-row>"
        for n in range(paragraphs // 4)
    )
    body = make.paragraphs(*text) + (
        '<table:table table:name="Figures"><table:table-column table:number-columns-repeated="2"/>'
        f"{rows}</table:table>"
    )
    source = make.flat(work / "report.fodt", "text", body)
    docx = work / "report.docx"
    make.convert([(source, docx, "MS Word 2007 XML")])
    return docx


def lector(docx: Path, out: Path) -> float:
    started = time.perf_counter()
    to_pdf(docx, out, format="docx", timeout_s=TIMEOUT_S)
    return time.perf_counter() - started


def soffice(docx: Path, work: Path, run: int) -> float:
    """One ``soffice --convert-to pdf`` on a fresh profile; seconds."""
    profile, out = work / f"profile-{run}", work / f"soffice-{run}"
    command = [
        "soffice",
        "--headless",
        f"-env:UserInstallation={profile.as_uri()}",
        "--convert-to",
        "pdf",
        "--outdir",
        str(out),
        str(docx),
    ]
    started = time.perf_counter()
    subprocess.run(
        command, check=True, timeout=TIMEOUT_S, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    elapsed = time.perf_counter() - started
    assert (out / "report.pdf").stat().st_size > 0
    return elapsed


def version() -> str:
    """LibreOffice's version, for the title line."""
    said = subprocess.run(["soffice", "--version"], capture_output=True, text=True, timeout=60).stdout
    return " ".join(said.split()[:2]) or "LibreOffice"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_flag(parser)
    smoke = parser.parse_args(argv).smoke
    runs, paragraphs = (1, SMOKE_PARAGRAPHS) if smoke else (RUNS, PARAGRAPHS)
    work = Path(tempfile.mkdtemp(prefix="lector-bench-office-"))
    out = work / "lector"
    out.mkdir()
    docx = document(work, paragraphs)

    warm, cold, reference = [], [], []
    try:
        for run in range(runs):  # interleaved, so that noise hits both sides alike
            shutdown()
            cold.append(lector(docx, out))  # starts this process's LibreOffice
            warm.append(lector(docx, out))
            reference.append(soffice(docx, work, run))
    finally:
        shutdown()
        shutil.rmtree(work, ignore_errors=True)

    warm_s, cold_s, reference_s = (statistics.median(times) for times in (warm, cold, reference))
    measure = f"{'small' if smoke else f'{paragraphs}-paragraph (3-page)'} DOCX to PDF"
    what = "soffice --convert-to pdf, fresh profile"
    rows = [
        (
            f"{measure}, warm LibreOffice (`service.office.to_pdf`): median",
            f"{warm_s:.3f} s",
            f"{reference_s:.2f} s ({what})",
            f"{warm_s / reference_s:.2f}",
            "≤ 0.5",
        ),
        (
            f"{measure}, a process's first document (starts LibreOffice): median",
            f"{cold_s:.2f} s",
            f"{reference_s:.2f} s (the same)",
            f"{cold_s / reference_s:.2f}",
            "—",
        ),
    ]
    heading = title("Lector office benchmark", version())
    publish("office", [table(heading, COLUMNS, rows)], smoke=smoke)


if __name__ == "__main__":
    main()
