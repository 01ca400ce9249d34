"""The documentation's generated parts, made from the code so they cannot drift.

``python -m service.reference`` (``make reference``) rewrites the blocks between
``<!-- reference:NAME -->`` and ``<!-- /reference:NAME -->`` in README.md and docs/: the
request options, the settings, the error statuses, the input formats and the module map. A
test fails when a document and the code disagree.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec

from service import errors
from service.convert.formats import INPUTS, SPELLINGS
from service.options import Options
from service.settings import Settings, env_name
from service.typeinfo import FieldInfo, fields_of

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
SERVICE = ROOT / "service"


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None or value == () or value is msgspec.NODEFAULT:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple):  # as the variable is written: comma-separated
        return f"`{','.join(str(item) for item in value)}`"
    return f"`{value}`"


def options_table() -> str:
    """The request options: name, default, meaning."""
    rows = ["| field | default | meaning |", "|---|---|---|"]
    for field in fields_of(Options):
        meaning = field.description
        if field.choices:
            meaning += f"; one of {', '.join(f'`{value}`' for value in field.choices)}"
        default = "`false`" if field.default is False else _default(field)
        rows.append(f"| `{field.name}` | {default} | {meaning} |")
    return "\n".join(rows)


def settings_table() -> str:
    """Every setting: variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field in fields_of(Settings):
        rows.append(f"| `{env_name(field.name)}` | {_default(field)} | {field.description} |")
    return "\n".join(rows)


#: Errors that never become an answer: a bad setting stops the process at start-up.
_NOT_ANSWERS: tuple[type[errors.LectorError], ...] = (errors.SettingsError,)


def _error_classes(root: type[errors.LectorError]) -> list[type[errors.LectorError]]:
    """``root`` and every error below it, depth first, in the order they are defined."""
    found = [root]
    for child in root.__subclasses__():
        found.extend(_error_classes(child))
    return found


def statuses_table() -> str:
    """Every error Lector answers with: its status, its class and when it happens (the class's
    docstring), by status."""
    rows = ["| status | error | when |", "|---|---|---|"]
    below = _error_classes(errors.LectorError)[1:]  # the root is only their common base
    # Lector's own errors only: a dialect's subclasses (named for its vendor's errors) answer
    # in its own shape, and would appear here only in a process that happened to import it.
    answered = [
        kind for kind in below if kind.__module__ == errors.__name__ and not issubclass(kind, _NOT_ANSWERS)
    ]
    for kind in sorted(answered, key=lambda kind: kind.status_code):
        when = _first_paragraph(kind.__doc__)
        rows.append(f"| {kind.status_code} | `{kind.__name__}` | {when} |")
    return "\n".join(rows)


def input_formats() -> str:
    """The formats Lector reads, from the conversion catalogue: each as sniffed, and the name
    conversion pairs and scopes give it (with the other spellings clients may use)."""
    others: dict[str, list[str]] = {}
    for spelling, name in SPELLINGS.items():
        others.setdefault(name, []).append(spelling)
    rows = ["| format | name in pairs | also written |", "|---|---|---|"]
    for sniffed, name in INPUTS.items():
        also = ", ".join(f"`{spelling}`" for spelling in others.get(name, [])) or "—"
        rows.append(f"| {sniffed} | `{name}` | {also} |")
    return "\n".join(rows)


def _first_paragraph(docstring: str | None) -> str:
    """A docstring's first paragraph on one line, its reST literals (````x````) as Markdown's."""
    return " ".join((docstring or "").split("\n\n")[0].split()).replace("``", "`")


def _summary(path: Path) -> str:
    """The first paragraph of a module's docstring, on one line."""
    summary = _first_paragraph(ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))))
    # A docstring whose first paragraph introduces a literal block ends with "::".
    return summary[:-2] + "." if summary.endswith("::") else summary


def modules_table() -> str:
    """Every module and package of ``service``, with the first paragraph of its docstring."""
    rows = ["| module | what it holds |", "|---|---|"]
    for path in sorted(SERVICE.rglob("*.py")):
        relative = path.relative_to(ROOT)
        name = str(relative.parent if path.name == "__init__.py" else relative)
        summary = _summary(path).replace("|", "\\|")
        rows.append(f"| `{name}` | {summary} |")
    return "\n".join(rows)


#: README's generated blocks.
BLOCKS: dict[str, Callable[[], str]] = {
    "options": options_table,
    "settings": settings_table,
    "statuses": statuses_table,
    "inputs": input_formats,
}
#: Each document with generated blocks, and its blocks.
DOCUMENTS: dict[Path, dict[str, Callable[[], str]]] = {
    README: BLOCKS,
    ARCHITECTURE: {"modules": modules_table},
}


def _escaped(replacement: str) -> str:
    """``replacement`` taken literally by ``re.sub`` (backslashes doubled)."""
    return replacement.replace("\\", "\\\\")


def render(text: str, blocks: dict[str, Callable[[], str]] = BLOCKS) -> str:
    """``text`` with every reference block regenerated."""
    for name, make in blocks.items():
        pattern = re.compile(rf"(<!-- reference:{name} -->\n)(?:.*?\n)?(<!-- /reference:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no reference block {name!r}")
        text = pattern.sub(rf"\g<1>{_escaped(make())}\n\g<2>", text)
    return text


def main() -> int:
    """Rewrite every document's reference blocks; returns the exit status."""
    for path, blocks in DOCUMENTS.items():
        path.write_text(render(path.read_text(), blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
