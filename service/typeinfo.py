"""What a Struct's fields say about themselves, for the code that derives things from types.

The options (``service.options``) and the settings (``service.settings``) carry each field's
constraints, description and hint in its type. The CLI's flags, the README's tables, the
boolean settings' spellings and the sentences of a refused value all read them here, through
one unwrapping of ``Annotated`` metadata and ``| None``.
"""

from __future__ import annotations

import types
from functools import cache
from typing import Annotated, Any, Literal, NamedTuple, Union, get_args, get_origin, get_type_hints

import msgspec
from msgspec import inspect


class FieldInfo(NamedTuple):
    """One field of a Struct, unwrapped."""

    name: str
    #: msgspec's description of the type under its metadata and ``| None``.
    kind: inspect.Type
    description: str
    #: How to write a value that was refused (``Meta(extra={"hint": ...})``), if the type says.
    hint: str | None
    #: The values of a ``Literal`` field, in the order they are declared; else None.
    choices: tuple[Any, ...] | None
    default: Any


@cache
def fields_of(struct: type[msgspec.Struct]) -> tuple[FieldInfo, ...]:
    """Every field of ``struct``, in declaration order (read once per type)."""
    described = inspect.type_info(struct)
    assert isinstance(described, inspect.StructType)
    annotations = get_type_hints(struct, include_extras=True)
    found = []
    for field in described.fields:
        kind, description, hint = _unwrap(field.type)
        choices = _literal_values(annotations[field.name])
        found.append(FieldInfo(field.name, kind, description, hint, choices, field.default))
    return tuple(found)


def field_of(struct: type[msgspec.Struct], name: str) -> FieldInfo | None:
    """The field ``name`` of ``struct``, or None."""
    return next((field for field in fields_of(struct) if field.name == name), None)


def _unwrap(info: inspect.Type) -> tuple[inspect.Type, str, str | None]:
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


def _literal_values(annotation: Any) -> tuple[Any, ...] | None:
    """A Literal's values as declared (msgspec's own description sorts them)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return get_args(annotation)
    if origin is Annotated:
        return _literal_values(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        return _literal_values(members[0]) if len(members) == 1 else None
    return None
