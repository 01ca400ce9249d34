"""``--env-file PATH``: settings from a file of ``NAME=value`` lines, as systemd's
``EnvironmentFile=`` reads them.

The format is the part of systemd's that every reader agrees on: one ``NAME=value`` a line;
blank lines and lines starting with ``#`` or ``;`` are ignored; whitespace around the name
and the value is dropped; a value may be quoted, ``'verbatim'`` or ``"with \\" \\\\ \\$ and
\\` escaped"``, and an unquoted one keeps a character after a backslash. What readers
disagree on is refused with the line's number rather than read one way: a line with no
``=``, a name that is no variable name, a quote that is not closed on its line or is followed
by more text, a line continued by a final backslash. A ``LECTOR_*`` name that is no setting is
refused too: a misspelt setting would otherwise be silently ignored. No message quotes a
value: the file holds secrets.

Every variable of the file enters this process's environment (and so its children's, as
``lector up`` starts them), except one the environment already has: a variable set
explicitly, in the shell or with systemd's ``Environment=``, wins over the file.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import MutableMapping
from pathlib import Path

from service.errors import SettingsError
from service.settings import PREFIX, is_setting

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: What a backslash escapes inside double quotes (any other backslash is kept, as systemd does).
_DOUBLE_ESCAPES = frozenset('"\\$`')


def add_env_file_flag(parser: argparse.ArgumentParser) -> None:
    """The ``--env-file PATH`` flag of the commands that run Lector's processes."""
    parser.add_argument(
        "--env-file",
        type=Path,
        metavar="PATH",
        help="read settings from this file of NAME=value lines (systemd's EnvironmentFile format); "
        "variables already in the environment win",
    )


def read_env_file(path: Path) -> dict[str, str]:
    """The variables ``path`` assigns, in order (a later line wins). SettingsError with one
    sentence, naming the file and the line, when it cannot be read or a line is malformed."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise SettingsError(f"Cannot read the env file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise SettingsError(f"The env file {path} is not UTF-8 text.") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        try:
            name, value = _assignment(stripped)
        except ValueError as exc:
            raise SettingsError(f"{path} line {number}: {exc}.") from None
        if name.startswith(PREFIX) and not is_setting(name):
            raise SettingsError(
                f"{path} line {number}: {name} is not a setting of Lector (the README's configuration "
                "table lists them)."
            )
        values[name] = value
    return values


def load_env_file(path: Path, environ: MutableMapping[str, str] | None = None) -> None:
    """Put the variables of ``path`` into ``environ`` (default: this process's environment),
    leaving those it already has as they are."""
    environ = os.environ if environ is None else environ
    for name, value in read_env_file(path).items():
        environ.setdefault(name, value)


def _assignment(line: str) -> tuple[str, str]:
    """``NAME=value`` read; ValueError with a reason that never quotes the value."""
    name, equals, raw = line.partition("=")
    name = name.strip()
    if not equals:
        raise ValueError("no '=' (each line is NAME=value, a comment starting with #, or blank)")
    if not _NAME.fullmatch(name):
        # Not shown: it may be part of a value (``LECTOR_SECRET: abc=def``).
        raise ValueError(
            "what comes before '=' is not a variable name (letters, digits and _, not first a digit, "
            "and no 'export')"
        )
    raw = raw.strip()
    if raw[:1] in ("'", '"'):
        return name, _quoted(raw)
    if (len(raw) - len(raw.rstrip("\\"))) % 2:
        raise ValueError("a final backslash (a continued line, which --env-file refuses); quote the value")
    return name, re.sub(r"\\(.)", r"\1", raw)


def _quoted(raw: str) -> str:
    """The value of a single- or double-quoted ``raw``, which must end with its closing quote."""
    quote, index = raw[0], 1
    chars: list[str] = []
    while index < len(raw):
        char = raw[index]
        if char == quote:
            if raw[index + 1 :].strip():
                raise ValueError("text after the closing quote")
            return "".join(chars)
        if quote == '"' and char == "\\" and index + 1 < len(raw) and raw[index + 1] in _DOUBLE_ESCAPES:
            index += 1
            char = raw[index]
        chars.append(char)
        index += 1
    raise ValueError("a quoted value with no closing quote on its line")
