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
from msgspec import inspect

from service.options import option_fields
from service.settings import Settings, _env_name

README = Path(__file__).resolve().parents[1] / "README.md"


def _parts(info: inspect.Type) -> tuple[inspect.Type, str, str | None]:
    """(the bare type, its description, its hint) under metadata and ``| None``."""
    description, hint = "", None
    while True:
        if isinstance(info, inspect.Metadata):
            description = description or (info.extra_json_schema or {}).get("description", "")
            hint = hint or (info.extra or {}).get("hint")
            info = info.type
        elif isinstance(info, inspect.UnionType):
            members = [member for member in info.types if not isinstance(member, inspect.NoneType)]
            if len(members) != 1:
                return info, description, hint
            info = members[0]
        else:
            return info, description, hint


def _default(field: inspect.Field) -> str:
    value = field.default
    if value is None or value == () or value is msgspec.NODEFAULT:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`"


def options_table() -> str:
    """The request options: name, default, meaning."""
    rows = ["| field | default | meaning |", "|---|---|---|"]
    for field in option_fields():
        kind, meaning, _ = _parts(field.type)
        if isinstance(kind, inspect.LiteralType):
            meaning += f"; one of {', '.join(f'`{value}`' for value in kind.values)}"
        default = "`false`" if field.default is False else _default(field)
        rows.append(f"| `{field.name}` | {default} | {meaning} |")
    return "\n".join(rows)


def settings_table() -> str:
    """Every setting: variable, default, meaning."""
    described = inspect.type_info(Settings)
    assert isinstance(described, inspect.StructType)
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for field in described.fields:
        _, description, _ = _parts(field.type)
        rows.append(f"| `{_env_name(field.name)}` | {_default(field)} | {description} |")
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
