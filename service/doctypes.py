"""Document types as data: ``prompts/<code>.md`` and, for typed documents, ``schemas/<code>.json``.

Adding a type means adding files, not code. The first line of the prompt (a Markdown
heading) is the type's title. ``text`` is plain OCR and has no schema.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import msgspec

from service.errors import InvalidOption

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = ROOT / "prompts"
SCHEMAS = ROOT / "schemas"


class DocumentType(msgspec.Struct, frozen=True):
    """One document type: its code, title, instructions and (for typed documents) schema."""

    code: str
    title: str
    prompt: str
    schema: dict[str, Any] | None = None


@cache
def document_types() -> dict[str, DocumentType]:
    """Every document type found under prompts/ (read once per process)."""
    types = {}
    for prompt_path in sorted(PROMPTS.glob("*.md")):
        if prompt_path.name == "README.md":
            continue
        code = prompt_path.stem
        prompt = prompt_path.read_text()
        title = prompt.splitlines()[0].lstrip("# ").strip() if prompt.strip() else code
        schema_path = SCHEMAS / f"{code}.json"
        schema = json.loads(schema_path.read_text()) if schema_path.exists() else None
        types[code] = DocumentType(code=code, title=title, prompt=prompt, schema=schema)
    return types


def get_document_type(code: str) -> DocumentType:
    """The type named ``code``, or InvalidOption listing the valid codes."""
    types = document_types()
    if code not in types:
        raise InvalidOption(
            f"Unknown document_type_code {code!r}; valid codes: {', '.join(sorted(types))}.",
            details={"valid_codes": sorted(types)},
        )
    return types[code]
