"""Command-line flags derived from a msgspec Struct: ``lector ocr``'s, ``lector convert``'s and
``lector batch``'s from ``service.options.Options``, ``lector keys``'s from
``service.tenants.records.KeySpec``.

Each field becomes ``--name-with-dashes`` (plus a short alias for a few), with its choices
and help text taken from the type; the values are then checked by the type itself, so the
command line refuses exactly what the API refuses.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TypeVar

import msgspec
from msgspec import inspect

from service.options import Options, problem
from service.typeinfo import fields_of

#: Older or shorter spellings kept for the flags that have them.
ALIASES = {"document_type_code": ["--type"], "include_words": ["--words"]}


S = TypeVar("S", bound=msgspec.Struct)


def add_option_flags(parser: argparse.ArgumentParser, *, required: tuple[str, ...] = ()) -> None:
    """One flag per option, with the type's choices and help; only the ``required`` ones must be given."""
    add_struct_flags(parser, Options, ALIASES, required=required)


def options_from(args: argparse.Namespace) -> Options:
    """The options given on the command line; ValueError with a sentence when one is refused."""
    return struct_from(args, Options)


def _comma_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_struct_flags(
    parser: argparse.ArgumentParser,
    struct: type[msgspec.Struct],
    aliases: dict[str, list[str]] | None = None,
    *,
    required: tuple[str, ...] = (),
) -> None:
    """One flag per field of ``struct``, with the type's choices and help; lists are
    comma-separated. Only the ``required`` fields must be given."""
    for field in fields_of(struct):
        flags = [*(aliases or {}).get(field.name, []), "--" + field.name.replace("_", "-")]
        common: dict[str, Any] = {"dest": field.name, "help": field.description, "default": argparse.SUPPRESS}
        if field.name in required:
            common["required"] = True
        kind = field.kind
        if isinstance(kind, inspect.BoolType):
            parser.add_argument(*flags, action="store_true", **common)
        elif field.choices:
            value_type = int if isinstance(field.choices[0], int) else str
            parser.add_argument(*flags, type=value_type, choices=list(field.choices), **common)
        elif isinstance(kind, inspect.DictType):
            parser.add_argument(*flags, type=json.loads, metavar="JSON", **common)
        elif isinstance(kind, inspect.IntType):
            parser.add_argument(*flags, type=int, metavar="N", **common)
        elif isinstance(kind, inspect.FloatType):
            parser.add_argument(*flags, type=float, metavar="X", **common)
        elif isinstance(kind, (inspect.VarTupleType, inspect.ListType)):
            parser.add_argument(*flags, type=_comma_list, metavar="A,B", **common)
        else:
            parser.add_argument(*flags, **common)


def given_fields(args: argparse.Namespace, struct: type[msgspec.Struct]) -> dict[str, Any]:
    """The fields of ``struct`` that were given on the command line."""
    return {name: getattr(args, name) for name in struct.__struct_fields__ if hasattr(args, name)}


def struct_from(args: argparse.Namespace, struct: type[S]) -> S:
    """``struct`` from the flags given; ValueError with a sentence when one is refused. A list's
    items arrive as text (``--icon-sizes 16,32``) and are read as the type says."""
    try:
        return msgspec.convert(given_fields(args, struct), struct, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(flag_problem(str(exc), struct)) from None


def flag_problem(message: str, struct: type[msgspec.Struct]) -> str:
    """A msgspec validation message as a sentence that names the flag."""
    field, reason = problem(message, struct)
    flag = "--" + field.replace("_", "-") if field else "an option"
    return f"{flag}: {reason}"
