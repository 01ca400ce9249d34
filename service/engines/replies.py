"""Making a vision model's JSON reply fit its document type's schema.

Models and the servers in front of them bend the schema in a few common ways: they add keys
of their own, leave out the ones they found nothing for (a server with only ``json_object``
cannot be told otherwise), and write numbers and dates as printed ("1,234.56", "RM 9.00",
"14/03/2024"). ``normalize`` undoes these before the reply is validated, with the same
amount and date parsers the rules use. ``salvage`` is the last resort for a reply that still
breaks the schema after the repair call: the fields that break it become null, and the
answer says which.

Both walk the schema's own ``properties``, ``items`` and ``type`` keywords, so a document
type added as data gets the same treatment.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator

from service.fields.amounts import parse_amount
from service.fields.dates import parse_date

#: The pattern a schema gives its dates (YYYY-MM-DD), as the built-in schemas write it.
DATE_PATTERN = "^\\d{4}-\\d{2}-\\d{2}$"
#: The pattern of a currency code (ISO 4217).
CODE_PATTERN = "^[A-Z]{3}$"


def normalize(value: Any, schema: dict[str, Any]) -> Any:
    """``value`` made to fit ``schema`` where the meaning is plain: unknown keys of a closed
    object dropped, missing nullable keys set to null, numbers and YYYY-MM-DD dates parsed
    from strings, a number where a string is wanted written as one. Anything else is left
    as it is, for the validator to name."""
    types = _types(schema)
    if isinstance(value, dict) and "object" in types:
        return _object(value, schema)
    if isinstance(value, list) and "array" in types and isinstance(schema.get("items"), dict):
        return [normalize(item, schema["items"]) for item in value]
    if isinstance(value, str):
        return _from_string(value, schema, types)
    wants_text = "string" in types and not types & {"number", "integer"} and "pattern" not in schema
    if wants_text and _is_number(value):  # an invoice number written as 12345
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def salvage(value: dict[str, Any], schema: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``value`` with every top-level field that breaks ``schema`` set to null, and the JSON
    paths of the violations (no values: they are document content). A field that cannot be
    null is left as it was; the caller checks the result again."""
    errors = list(Draft202012Validator(schema).iter_errors(value))
    properties = schema.get("properties", {})
    fields = dict(value)
    paths = []
    for error in sorted(errors, key=lambda error: error.json_path):
        paths.append(f"{error.json_path} ({error.validator})")
        if error.path and error.path[0] in properties and "null" in _types(properties[error.path[0]]):
            fields[error.path[0]] = None
    return fields, paths


def has_values(fields: dict[str, Any]) -> bool:
    """Whether any field holds something other than null or an empty list."""
    return any(value not in (None, []) for value in fields.values())


def _object(value: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The object's fields in the schema's order, then (for an open object) the others."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    result: dict[str, Any] = {}
    for name, part in properties.items():
        if name in value:
            result[name] = normalize(value[name], part)
        elif name in required and "null" in _types(part):
            result[name] = None
    if schema.get("additionalProperties") is not False:
        result.update((name, item) for name, item in value.items() if name not in properties)
    return result


def _from_string(value: str, schema: dict[str, Any], types: set[str]) -> Any:
    text = value.strip()
    if "string" not in types and ("number" in types or "integer" in types):
        if not text and "null" in types:
            return None
        amount = parse_amount(text)
        if amount is None:
            return value
        if "integer" in types and "number" not in types:
            return int(amount) if amount == amount.to_integral_value() else value
        return float(amount)
    pattern = schema.get("pattern")
    if pattern is None or re.fullmatch(pattern, text):
        return value
    if not text and "null" in types:
        return None
    if pattern == DATE_PATTERN:
        found = parse_date(text)
        return found.isoformat() if found is not None else value
    if pattern == CODE_PATTERN and re.fullmatch(pattern, text.upper()):
        return text.upper()  # "eur", "Usd"
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _types(schema: dict[str, Any]) -> set[str]:
    kind = schema.get("type", [])
    return {kind} if isinstance(kind, str) else set(kind)
