"""``lector ocr``'s flags, derived from ``service.options.Options``.

Each option becomes ``--name-with-dashes`` (plus a short alias for a few), with its choices
and help text taken from the type; the values are then checked by the type itself, so the
command line refuses exactly what the API refuses.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import msgspec
from msgspec import inspect

from service.options import Options, problem
from service.typeinfo import fields_of

#: Older or shorter spellings kept for the flags that have them.
ALIASES = {"document_type_code": ["--type"], "include_words": ["--words"]}


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per option, with the type's choices and help."""
    for field in fields_of(Options):
        flags = [*ALIASES.get(field.name, []), "--" + field.name.replace("_", "-")]
        common: dict[str, Any] = {"dest": field.name, "help": field.description, "default": argparse.SUPPRESS}
        kind = field.kind
        if isinstance(kind, inspect.BoolType):
            parser.add_argument(*flags, action="store_true", **common)
        elif field.choices:
            value_type = int if isinstance(field.choices[0], int) else str
            parser.add_argument(*flags, type=value_type, choices=list(field.choices), **common)
        elif isinstance(kind, inspect.DictType):
            parser.add_argument(*flags, type=json.loads, metavar="JSON", **common)
        else:
            parser.add_argument(*flags, **common)


def options_from(args: argparse.Namespace) -> Options:
    """The options given on the command line; ValueError with a sentence when one is refused."""
    given = {name: getattr(args, name) for name in Options.__struct_fields__ if hasattr(args, name)}
    try:
        return msgspec.convert(given, Options)
    except msgspec.ValidationError as exc:
        field, reason = problem(str(exc))
        flag = "--" + field.replace("_", "-") if field else "an option"
        raise ValueError(f"{flag}: {reason}") from None
