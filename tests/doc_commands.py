"""The commands the documentation shows: read from the shell blocks of README.md and docs/.

Shared by the test that checks every command names real targets, flags and routes
(tests/unit/test_readme.py) and the test that runs the ones that can run here
(tests/integration/test_doc_examples.py).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import ROOT

#: Every document of the project's documentation.
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
#: The address the examples are written for (what `make run` serves on).
EXAMPLE_URL = "http://127.0.0.1:8000"

_BLOCK = re.compile(r"^```(sh|bash|shell)\n(.*?)^```", re.S | re.M)
_COMMENT = re.compile(r"(^|\s)#(\s.*)?$")
#: A value the reader fills in: ``<id>`` (written ``@@id@@`` once split into words).
PLACEHOLDER = re.compile(r"<([A-Za-z][\w-]*)>")


@dataclass(frozen=True)
class Command:
    """One command line of a shell block (continuations joined, comments dropped)."""

    document: Path
    text: str

    def __str__(self) -> str:
        return f"{self.document.relative_to(ROOT)}: {self.text}"


def _logical_lines(block: str) -> list[str]:
    """The block's lines with comments dropped and continuations (``\\``, a trailing ``|``) joined."""
    lines: list[str] = []
    pending = ""
    for raw in block.splitlines():
        line = _COMMENT.sub("", raw).rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        pending += line.strip()
        if pending.endswith("|"):
            pending += " "
            continue
        lines.append(pending)
        pending = ""
    if pending:
        lines.append(pending.strip())
    return lines


def commands(documents: list[Path] = DOCUMENTS) -> list[Command]:
    """Every command line of every shell block of ``documents``."""
    found = []
    for document in documents:
        for block in _BLOCK.finditer(document.read_text()):
            found.extend(Command(document, line) for line in _logical_lines(block.group(2)))
    return found


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of a line, split at ``|``, ``;``, ``&&``, ``&`` and braces, each
    without its redirections and with ``$(...)`` substitutions taken out as commands of their own."""
    line = PLACEHOLDER.sub(r"@@\1@@", line)  # `<id>` is a placeholder, not a redirection
    substitutions = re.findall(r"\$\(([^()]*)\)", line)
    line = re.sub(r"\$\([^()]*\)", "SUBSTITUTED", line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars="|;&<>{}")
    lexer.whitespace_split = True
    parts: list[list[str]] = [[]]
    redirect = False
    for token in lexer:
        if token in {"|", ";", "&", "&&", "||", "{", "}"}:
            parts.append([])
        elif token in {">", ">>", "<", "2>"}:
            redirect = True
        elif redirect:
            redirect = False
        else:
            parts[-1].append(token)
    nested = [part for inner in substitutions for part in simple_commands(inner)]
    return [part for part in parts if part] + nested


def without_env(words: list[str]) -> tuple[dict[str, str], list[str]]:
    """The ``NAME=value`` assignments before a command, and the command."""
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        name, _, value = words[0].partition("=")
        env[name] = value
        words = words[1:]
    return env, words


def json_block(document: Path, name: str) -> object:
    """The JSON of the ``<!-- example:NAME -->`` block of ``document``."""
    found = re.search(rf"<!-- example:{name} -->\n```json\n(.*?)\n```", document.read_text(), re.S)
    assert found, f"{document.name} lost its {name} example"
    return json.loads(found.group(1))
