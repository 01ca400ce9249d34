"""What a client may choose for one document, defined once.

``Options`` is the single definition of the request options: the sync request bodies extend
it, the asynchronous job record stores it, the CLI builds its flags from it, and the OpenAPI
descriptions of hand-parsed bodies are generated from it (``service.api.bodies``). Each
constraint lives in the type (``Annotated[..., Meta(...)]`` or a ``Literal``), so the same
check runs wherever options arrive, and an option that fails it is refused before any work.

A field's ``Meta(extra={"hint": ...})`` is the sentence a client reads when its value is
refused, instead of msgspec's regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

import msgspec
from msgspec import Meta

from service.typeinfo import field_of

EngineName = Literal["auto", "tesseract", "ppocr", "llm", "hybrid", "llm-text"]
#: Tesseract page segmentation modes that produce text (0 is OSD only, 2 is not implemented).
Psm = Literal[1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
PSM_CHOICES: tuple[int, ...] = get_args(Psm)

#: The language that stands for each page's own, detected (``service.engines.detected``).
AUTO_LANGUAGE = "auto"
#: At most this many Tesseract languages in one request (each costs a model load per page).
MAX_LANGUAGES = 8
#: A page selection longer than this is refused before it is parsed.
MAX_SELECTION_CHARS = 1000

Lang = Annotated[
    str,
    Meta(
        max_length=100,
        pattern=rf"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+){{0,{MAX_LANGUAGES - 1}}}$",
        description="Tesseract language(s), e.g. `eng` or `eng+deu` (at most 8, installed ones only); "
        "`auto`: each page is read in the language detected on it, among the installed ones (`eng` "
        "when it cannot be told; each page's `language` says which)",
        extra={"hint": f"use up to {MAX_LANGUAGES} language codes joined by +, such as eng or eng+deu"},
    ),
]
PageSelection = Annotated[
    str,
    Meta(
        max_length=MAX_SELECTION_CHARS,
        # The grammar select_pages reads (service.pages._RANGE, spaces for blanks), parts joined
        # by commas; blank selects every page. Which pages exist is known only with the document.
        pattern=r"^ *$|^ *[0-9]{1,9} *(- *[0-9]{0,9} *)?(, *[0-9]{1,9} *(- *[0-9]{0,9} *)?)*$",
        description="Page selection such as `1-3,5` or `2-` (at most 200 parts)",
        extra={"hint": "use page numbers and ranges such as 1-3,5 or 2-"},
    ),
]
DocumentTypeCode = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="A code from GET /api/document-types, e.g. `text`, `receipt`, `invoice`, or `auto`",
        extra={"hint": "use a code from GET /api/document-types, such as text, receipt or invoice"},
    ),
]

#: A C library reads the password up to its first NUL, so "secret\x00junk" would open a PDF
#: locked with "secret": control characters are refused, not cut.
PdfPassword = Annotated[
    str,
    Meta(
        max_length=1024,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        extra={"hint": "a password may not contain control characters such as NUL"},
    ),
]


class Base(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of request bodies: a misspelt field is an error, not silently ignored."""


class Options(Base, kw_only=True):
    """The options of one document, whichever endpoint or command it arrives through."""

    document_type_code: DocumentTypeCode = "text"
    engine: Annotated[
        EngineName,
        Meta(
            description="Who reads the pages (`auto`: the model if configured, else the type's engine; "
            "`llm-text`: the type's OCR engine reads, and the model finds the fields in its text)"
        ),
    ] = "auto"
    lang: Lang = AUTO_LANGUAGE
    pages: PageSelection | None = None
    force_ocr: Annotated[bool, Meta(description="OCR PDF pages even when they have a text layer")] = False
    include_words: Annotated[bool, Meta(description="Return each word with its box and confidence")] = False
    psm: (
        Annotated[Psm, Meta(description="Tesseract page segmentation mode (default 3; 6 for receipts)")]
        | None
    ) = None
    password: Annotated[PdfPassword, Meta(description="Password of an encrypted PDF")] | None = None
    ocr_instructions: (
        Annotated[str, Meta(max_length=4000, description="Free-text guidance for the model")] | None
    ) = None
    document_metadata: Annotated[
        dict[str, Any] | None, Meta(description="Free JSON given to the model as context")
    ] = None


#: The option names, in declaration order (the CLI's and the OpenAPI's order too).
OPTION_NAMES: tuple[str, ...] = Options.__struct_fields__


UNKNOWN = "unknown field; see /schema for the accepted fields"
REQUIRED = "this field is required"

# msgspec says "Expected `int`, got `str` - at `$.psm`"; the client wants the field first.
_AT_FIELD = re.compile(r"^(?P<reason>.*?) - at `\$\.?(?P<field>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`")
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]+)`")


def problem(message: str, struct: type[msgspec.Struct] = Options) -> tuple[str | None, str]:
    """A msgspec validation message about ``struct`` as (field, reason for a person).

    A refused choice lists the field's choices and a refused pattern or length gives the
    field's hint, both from its type. The reason never quotes the value the client sent,
    which may be long or secret.
    """
    if unknown := _UNKNOWN.match(message):
        return unknown.group("field"), UNKNOWN
    if missing := _MISSING.match(message):
        return missing.group("field"), REQUIRED
    match = _AT_FIELD.match(message)
    if not match or not match.group("field"):
        return None, message.rstrip(".")
    field = match.group("field").split("[")[0].split(".")[0]
    reason = match.group("reason")
    described = field_of(struct, field)
    choices = described.choices if described else None
    if described and isinstance(described.kind, msgspec.inspect.ListType):  # a list of choices
        item_type = described.kind.item_type
        choices = item_type.values if isinstance(item_type, msgspec.inspect.LiteralType) else None
    if choices and reason.startswith("Invalid enum value"):
        reason = f"choose one of {', '.join(map(str, choices))}"
    elif described and described.hint and ("matching regex" in reason or "of length" in reason):
        reason = described.hint
    else:
        reason = reason[0].lower() + reason[1:]
    return field, reason


def sentence(message: str, struct: type[msgspec.Struct] = Options) -> str:
    """A msgspec validation message about ``struct`` as the one sentence of a 422 answer."""
    field, reason = problem(message, struct)
    if field is None:
        return f"Invalid request: {reason}."
    if reason == UNKNOWN:
        return f"Unknown field `{field}`; see /schema for the accepted fields."
    if reason == REQUIRED:
        return f"The field `{field}` is required."
    return f"Invalid field `{field}`: {reason}."


def item(message: str, struct: type[msgspec.Struct] = Options) -> str:
    """A msgspec validation message about ``struct`` as one entry of a 422 answer's list."""
    field, reason = problem(message, struct)
    if field is None:
        return reason
    if reason == UNKNOWN:
        return f"unknown field `{field}`"
    return f"{field}: {reason}"


def every_problem(fields: Mapping[str, Any]) -> list[str]:
    """One entry (``item``) for each field of ``fields`` that ``Options`` refuses, in the order
    given: msgspec stops at the first, and a client fixing its request wants them all. Each
    field is checked alone, which every field of ``Options`` allows (all have defaults)."""
    problems = []
    for name, value in fields.items():
        try:
            msgspec.convert({name: value}, Options, strict=False)
        except msgspec.ValidationError as exc:
            problems.append(item(str(exc)))
    return problems
