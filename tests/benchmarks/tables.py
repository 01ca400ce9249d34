"""The benchmarks' tables: printed as Markdown, and written into docs/benchmarks.md.

Every benchmark prints its section (the machine, the date, its tables) and, unless it runs in
its smoke form, puts the same text into docs/benchmarks.md between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``, replacing only its own section, as ``make reference`` rewrites the
reference tables. A benchmark without a section yet gets one at the end of the file.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from service.engines.tesseract import version as tesseract_version

BENCHMARKS_MD = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"

Row = tuple[str, ...]


def add_smoke_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--smoke`` flag every benchmark takes: one repetition of tiny inputs, written nowhere."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one repetition on tiny inputs, to check the benchmark runs; docs/benchmarks.md is not written",
    )


def title(name: str, *facts: str) -> str:
    """A table's title line: its name, the cores, what it ran against, and today's date."""
    return " — ".join([name, ", ".join([f"{os.cpu_count()} cores", *facts, time.strftime("%Y-%m-%d")])])


def tesseract() -> str:
    """The Tesseract version, for a title line."""
    return f"Tesseract {tesseract_version()}"


def table(heading: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A title line and a Markdown table."""
    lines = [heading, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def machine() -> str:
    """The machine the benchmark runs on: processor, cores, memory, system, Python."""
    model = "unknown processor"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    return f"{model}, {os.cpu_count()} cores, {memory:.0f} GiB memory, {system}"


def section(name: str, tables: Sequence[str], *, smoke: bool = False) -> str:
    """A benchmark's section: the command that made it, the machine and the date, its tables."""
    command = f"python -m tests.benchmarks.{name}" + (" --smoke" if smoke else "")
    head = f"`{command}` on {time.strftime('%Y-%m-%d')}: {machine()}."
    return "\n\n".join([head, *tables])


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with the section of benchmark ``name`` replaced by ``body`` (added at the end
    when it has none)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    pattern = re.compile(rf"{re.escape(start)}\n.*?{re.escape(end)}", re.S)
    block = f"{start}\n{body}\n{end}"
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip("\n") + f"\n\n## {name}\n\n{block}\n"


def publish(name: str, tables: Sequence[str], *, smoke: bool) -> str:
    """Print benchmark ``name``'s section and, unless ``smoke``, write it into docs/benchmarks.md."""
    body = section(name, tables, smoke=smoke)
    print(f"\n{body}\n", flush=True)
    if not smoke:
        BENCHMARKS_MD.write_text(replace_section(BENCHMARKS_MD.read_text(), name, body))
        print(f"(written into {BENCHMARKS_MD.relative_to(BENCHMARKS_MD.parents[1])})", file=sys.stderr)
    return body
