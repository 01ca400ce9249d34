"""Document types as data: ``prompts/<code>.md`` and, for typed documents, ``schemas/<code>.json``.

Adding a type means adding files, not code. A key may also define types of its own
(``define_type``, kept by ``service.tenants.types``): the functions that look a type up take
``kinds``, the registry to look in (default: the built-in types). The first line of the prompt (a Markdown
heading) is the type's title. ``text`` is plain OCR and has no schema.

The folders sit at the top of the source tree; a wheel carries them inside the package
(``service/prompts``, ``service/schemas``; see pyproject.toml), and they are read through
``importlib.resources`` wherever they are. ``prompts/engines.json`` names the OCR engine
``engine=auto`` reads each type with when no vision model is configured.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import msgspec
from jsonschema import Draft202012Validator

from service.errors import Conflict, InvalidOption, ValidationFailed


def data_folders() -> tuple[Traversable, Traversable]:
    """(prompts, schemas): inside the installed package when it carries them, else the checkout's."""
    package = resources.files("service")
    if (package / "prompts").is_dir():
        return package / "prompts", package / "schemas"
    root = Path(__file__).resolve().parents[1]
    return root / "prompts", root / "schemas"


class DocumentType(msgspec.Struct, frozen=True):
    """One document type: its code, title, instructions, (for typed documents) schema, and
    the OCR engine ``engine=auto`` reads it with when no vision model is configured."""

    code: str
    title: str
    prompt: str
    schema: dict[str, Any] | None = None
    auto_engine: str = "tesseract"

    @property
    def description(self) -> str:
        """The first sentence of the prompt after its heading."""
        body = " ".join(line.strip() for line in self.prompt.splitlines()[1:] if line.strip())
        return body.split(". ")[0].rstrip(".") + "." if body else ""


@cache
def document_types() -> dict[str, DocumentType]:
    """Every document type found under prompts/ (read once per process)."""
    prompts, schemas = data_folders()
    # The engine `auto` means per type, when no vision model is configured (prompts/README.md).
    engines: dict[str, str] = json.loads((prompts / "engines.json").read_text(encoding="utf-8"))
    types = {}
    for prompt_path in sorted(prompts.iterdir(), key=lambda path: path.name):
        if not prompt_path.name.endswith(".md") or prompt_path.name == "README.md":
            continue
        code = prompt_path.name.removesuffix(".md")
        prompt = prompt_path.read_text(encoding="utf-8")
        title = prompt.splitlines()[0].lstrip("# ").strip() if prompt.strip() else code
        schema_path = schemas / f"{code}.json"
        schema = json.loads(schema_path.read_text(encoding="utf-8")) if schema_path.is_file() else None
        types[code] = DocumentType(
            code=code, title=title, prompt=prompt, schema=schema, auto_engine=engines.get(code, engines["*"])
        )
    return types


#: A registry of document types by code: the built-in ones, and a key's own.
Kinds = Mapping[str, DocumentType]

#: The code that asks Lector to identify the type itself (service.identify).
AUTO = "auto"


def auto_engine_of(code: str) -> str:
    """The engine ``auto`` reads a type with (without a vision model): the built-in type's
    own, else the default of prompts/engines.json (a key's own type has no entry)."""
    built_in = document_types()
    if code in built_in:
        return built_in[code].auto_engine
    return _default_engine()


@cache
def _default_engine() -> str:
    prompts, _ = data_folders()
    return str(json.loads((prompts / "engines.json").read_text(encoding="utf-8"))["*"])


def check_document_type(code: str, *, auto: bool = True, kinds: Kinds | None = None) -> None:
    """InvalidOption unless ``code`` is a type of ``kinds`` (or, with ``auto``, the code ``auto``)."""
    if code == AUTO:
        if not auto:
            raise InvalidOption("document_type_code auto is not available here: choose the type.")
        return
    get_document_type(code, kinds)


def get_document_type(code: str, kinds: Kinds | None = None) -> DocumentType:
    """The type named ``code`` in ``kinds`` (default: the built-in types), or InvalidOption
    listing the valid codes."""
    types = document_types() if kinds is None else kinds
    if code not in types:
        raise InvalidOption(
            f"Unknown document_type_code {code!r}; valid codes: {', '.join(sorted(types))} (or auto).",
            details={"valid_codes": sorted(types)},
        )
    return types[code]


def check_document(kind: DocumentType, document: Any) -> tuple[list[str], list[str]]:
    """(errors, warnings) of ``document`` against the type's schema: each error a JSON path and
    what is wrong there; a warning for each field the schema defines that is absent or null
    (not found in the document). A type without a schema takes any object."""
    if kind.schema is None:
        return ([] if isinstance(document, dict) else ["$: the document must be a JSON object"]), []
    validator = Draft202012Validator(kind.schema)
    errors = [
        f"{error.json_path}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda error: error.json_path)
    ]
    warnings = (
        [f"$.{name}: no value" for name in kind.schema.get("properties", {}) if document.get(name) is None]
        if isinstance(document, dict)
        else []
    )
    return errors[:MAX_MESSAGES], warnings[:MAX_MESSAGES]


#: At most this many messages of each kind in a validation answer.
MAX_MESSAGES = 100


#: A type's code: what `document_type_code` names it by.
_CODE = re.compile(r"^[a-z0-9_]{2,64}$")
#: The bounds of a key's own type: what keeps a definition (and the model prompts built from
#: it) small.
MAX_SCHEMA_BYTES = 64 * 1024
MAX_PROPERTIES = 200
MAX_PROMPT_CHARS = 8000


def define_type(
    code: str, name: str, description: str, schema: Any, prompt: str | None, *, taken: Kinds
) -> DocumentType:
    """A key's own document type, checked: a free code (not in ``taken``, not ``auto``: else
    Conflict), and a strict JSON Schema (an object whose every object closes its properties
    and requires them all, as a vision model's strict mode asks); ValidationFailed lists every
    problem."""
    problems: list[str] = []
    if not _CODE.match(code):
        problems.append("codeType: 2 to 64 lower-case letters, digits or underscores")
    if not 2 <= len(name.strip()) <= 100:
        problems.append("name: 2 to 100 characters")
    if len(description) > 1000:
        problems.append("description: at most 1000 characters")
    if len(prompt or "") > MAX_PROMPT_CHARS:
        problems.append(f"prompt: at most {MAX_PROMPT_CHARS} characters")
    problems.extend(strict_schema_problems(schema))
    if problems:
        raise ValidationFailed(problems)
    if code in taken or code == AUTO:
        raise Conflict(f"A document type with codeType {code!r} exists already.")
    text = f"# {name.strip()}\n\n{description.strip()}\n\n{(prompt or '').strip()}".rstrip() + "\n"
    return DocumentType(code=code, title=name.strip(), prompt=text, schema=schema)


def strict_schema_problems(schema: Any) -> list[str]:
    """What keeps ``schema`` from being a strict JSON Schema for a document's fields (empty: none)."""
    if not isinstance(schema, dict):
        return ["jsonSchema: must be a JSON Schema object"]
    if len(msgspec.json.encode(schema)) > MAX_SCHEMA_BYTES:
        return [f"jsonSchema: at most {MAX_SCHEMA_BYTES // 1024} KB"]
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as exc:  # jsonschema's SchemaError, or a recursion in a malformed $ref
        return [f"jsonSchema: not a valid JSON Schema ({str(getattr(exc, 'message', exc))[:200]})"]
    if schema.get("type") != "object" or not schema.get("properties"):
        return ['jsonSchema: the root must be {"type": "object"} with properties']
    if _bad_refs(schema):
        return ["jsonSchema: a $ref may only point to a part of the schema itself (#/...)"]
    problems: list[str] = []
    count = _check_objects(schema, "$", problems, depth=0)
    if count > MAX_PROPERTIES:
        problems.append(f"jsonSchema: at most {MAX_PROPERTIES} properties in all")
    return problems[:20]


def _bad_refs(schema: dict[str, Any]) -> bool:
    """Whether any ``$ref`` points outside the schema (Lector fetches no schema from anywhere)
    or to a part it does not have."""
    stack: list[Any] = [schema]
    while stack:  # a loop, not recursion: the nesting is the client's
        part = stack.pop()
        if isinstance(part, dict):
            ref = part.get("$ref")
            if ref is not None and not (isinstance(ref, str) and _points_inside(schema, ref)):
                return True
            stack.extend(part.values())
        elif isinstance(part, list):
            stack.extend(part)
    return False


def _points_inside(schema: dict[str, Any], ref: str) -> bool:
    """Whether ``ref`` is a JSON pointer (``#/$defs/item``) to a part of ``schema``."""
    if not ref.startswith("#"):
        return False
    target: Any = schema
    for token in ref[1:].split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and key in target:
            target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            target = target[int(key)]
        else:
            return False
    return True


def _check_objects(schema: dict[str, Any], path: str, problems: list[str], depth: int) -> int:
    """Check every object schema under ``schema`` is closed and requires all its properties;
    returns how many properties there are."""
    if depth > 10:
        problems.append(f"jsonSchema: {path} is nested more than 10 levels deep")
        return 0
    count = 0
    properties = schema.get("properties")
    if isinstance(properties, dict):
        if schema.get("additionalProperties") is not False:
            problems.append(f"jsonSchema: {path} must set additionalProperties to false")
        if sorted(schema.get("required", [])) != sorted(properties):
            problems.append(f"jsonSchema: {path} must list every property in required")
        for name, part in properties.items():
            count += 1
            if isinstance(part, dict):
                count += _check_objects(part, f"{path}.{name}", problems, depth + 1)
    items = schema.get("items")
    if isinstance(items, dict):
        count += _check_objects(items, f"{path}[]", problems, depth + 1)
    return count
