"""The README's reference tables, generated from the types so they cannot drift.

``python -m service.reference`` rewrites the blocks between ``<!-- reference:NAME -->`` and
``<!-- /reference:NAME -->`` in README.md (``make reference``); a test fails when the README
and the types disagree.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import msgspec

from service.options import Options
from service.settings import Settings, env_name
from service.typeinfo import FieldInfo, fields_of

README = Path(__file__).resolve().parents[1] / "README.md"


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None or value == () or value is msgspec.NODEFAULT:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
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


BLOCKS: dict[str, Callable[[], str]] = {"options": options_table, "settings": settings_table}


def _escaped(replacement: str) -> str:
    """``replacement`` taken literally by ``re.sub`` (backslashes doubled)."""
    return replacement.replace("\\", "\\\\")


def render(text: str, blocks: dict[str, Callable[[], str]] = BLOCKS) -> str:
    """``text`` with every reference block regenerated."""
    for name, make in blocks.items():
        pattern = re.compile(rf"(<!-- reference:{name} -->\n)(?:.*?\n)?(<!-- /reference:{name} -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no reference block {name!r}")
        text = pattern.sub(rf"\g<1>{_escaped(make())}\n\g<2>", text)
    return text


def main() -> int:
    """Rewrite README.md's reference blocks; returns the exit status."""
    README.write_text(render(README.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
