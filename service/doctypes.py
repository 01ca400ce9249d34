"""Document types as data: ``prompts/<code>.md`` and, for typed documents, ``schemas/<code>.json``.

Adding a type means adding files, not code. The first line of the prompt (a Markdown
heading) is the type's title. ``text`` is plain OCR and has no schema.

The folders sit at the top of the source tree; a wheel carries them inside the package
(``service/prompts``, ``service/schemas``; see pyproject.toml), and they are read through
``importlib.resources`` wherever they are. ``prompts/engines.json`` names the OCR engine
``engine=auto`` reads each type with when no vision model is configured.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import msgspec
from jsonschema import Draft202012Validator

from service.errors import InvalidOption


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


#: The code that asks Lector to identify the type itself (service.identify).
AUTO = "auto"


def check_document_type(code: str, *, auto: bool = True) -> None:
    """InvalidOption unless ``code`` is a type (or, with ``auto``, the code ``auto``)."""
    if code == AUTO:
        if not auto:
            raise InvalidOption("document_type_code auto is not available here: choose the type.")
        return
    get_document_type(code)


def get_document_type(code: str) -> DocumentType:
    """The type named ``code``, or InvalidOption listing the valid codes."""
    types = document_types()
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
