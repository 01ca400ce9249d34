"""Docutray's document types: list (paginated, searchable), one by id, validation of a JSON
document against a type's schema, and a key's own types.

A type's id is its code. Lector's built-in types are files (``service.doctypes``), public to
every key that may use them. A key's own types (``POST /api/document-types``) are kept in
Redis (``service.tenants.types``), usable at once by that key's conversions and
identifications, and by no other key. There are no drafts; Docutray's steps and knowledge
bases are not here.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, Parameter
from msgspec import Meta

from service.api.auth import KeyController
from service.api.responses import AUTH_ERRORS, error_spec
from service.api.services import Lector
from service.doctypes import DocumentType, Kinds, check_document, define_type, document_types
from service.errors import NotFound, ValidationFailed
from service.options import item
from service.tenants.store import Caller
from service.tenants.types import OwnType, OwnTypes

TYPE_ERRORS = {**AUTH_ERRORS, 404: error_spec("No such document type for this API key")}
VALIDATE_ERRORS = {**TYPE_ERRORS, 400: error_spec("The body is not JSON")}
CREATE_ERRORS = {
    **AUTH_ERRORS,
    400: error_spec("The body is not JSON"),
    409: error_spec("A type with that codeType exists already"),
    422: error_spec("Validation error: a missing field, a bad codeType, a schema that is not strict"),
}
#: A page of the list holds this many types unless `limit` says otherwise.
DEFAULT_LIMIT = 20


class DocumentTypeEntry(msgspec.Struct, rename="camel"):
    """One document type, as Docutray describes it (camelCase on the wire)."""

    id: str
    name: str
    code_type: str
    description: str | None
    is_public: bool
    is_draft: bool
    status: str
    created_at: str | None
    updated_at: str | None
    json_schema: Annotated[
        dict[str, Any] | None, Meta(description="The fields' JSON Schema (null for `text`)")
    ]


class Pagination(msgspec.Struct):
    """Where a page stands in the whole list."""

    total: int
    page: int
    limit: int


class DocumentTypePage(msgspec.Struct):
    """Answer of ``GET /api/document-types``."""

    data: list[DocumentTypeEntry]
    pagination: Pagination


class Messages(msgspec.Struct):
    """A count and its sentences."""

    count: int
    messages: list[str]


class ValidationReport(msgspec.Struct):
    """Answer of ``POST /api/document-types/{id}/validate``: errors break the schema; warnings
    name the fields the document leaves empty."""

    errors: Messages
    warnings: Messages


class NewDocumentType(msgspec.Struct, rename="camel"):
    """Body of ``POST /api/document-types``. Docutray's other fields (isDraft, isPublic,
    conversionMode, identifyPromptHints, keepPropertyOrdering) are accepted and not used."""

    name: str
    code_type: str
    json_schema: Any
    description: str = ""
    #: Instructions for a vision model reading the type (Docutray's name: promptHints).
    prompt: str | None = None
    prompt_hints: str | None = None


class DocumentTypesController(KeyController):
    """The document types this key may use."""

    path = "/api/document-types"
    tags = ("Document types (Docutray)",)

    @get("/", responses={**AUTH_ERRORS, 422: error_spec("An invalid query parameter")})
    async def list_types(
        self,
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        page: Annotated[int, Parameter(ge=1, le=100_000, description="From 1")] = 1,
        limit: Annotated[int, Parameter(ge=1, le=100, description="Types per page")] = DEFAULT_LIMIT,
        search: Annotated[
            str | None, Parameter(max_length=200, description="Part of a name, code or description")
        ] = None,
    ) -> DocumentTypePage:
        """The document types this key may use, a page at a time, with their JSON Schemas."""
        own = await anyio.to_thread.run_sync(lector.own_types.of, caller.owner)
        kinds = _usable(caller, own)
        if search:
            needle = search.casefold()
            kinds = [
                kind
                for kind in kinds
                if any(needle in text.casefold() for text in (kind.code, kind.title, kind.description))
            ]
        shown = kinds[(page - 1) * limit : page * limit]
        return DocumentTypePage(
            data=[_entry(kind, own.get(kind.code)) for kind in shown],
            pagination=Pagination(total=len(kinds), page=page, limit=limit),
        )

    @post("/", status_code=201, responses=CREATE_ERRORS, sync_to_thread=True)
    def create_type(
        self,
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        data: Annotated[Any, Body(description="name, codeType, description, jsonSchema, prompt")],
    ) -> DocumentTypeEntry:
        """Define a document type of this key's own: a strict JSON Schema (every object closed,
        every property required), usable at once in `document_type_code` by this key only."""
        try:
            asked = msgspec.convert(data, NewDocumentType)
        except msgspec.ValidationError as exc:
            raise ValidationFailed([item(str(exc), NewDocumentType)]) from None
        kind = define_type(
            asked.code_type,
            asked.name,
            asked.description,
            asked.json_schema,
            asked.prompt if asked.prompt is not None else asked.prompt_hints,
            taken=lector.own_types.registry(caller.owner),
        )
        return _entry(kind, lector.own_types.add(caller.owner, kind))

    @get("/{type_id:str}", responses=TYPE_ERRORS, sync_to_thread=True)
    def get_type(
        self, lector: NamedDependency[Lector], caller: NamedDependency[Caller], type_id: FromPath[str]
    ) -> DocumentTypeEntry:
        """One document type, by its id (its code)."""
        own = lector.own_types.of(caller.owner)
        return _entry(_find(caller, own, type_id), own.get(type_id))

    @post("/{type_id:str}/validate", status_code=200, responses=VALIDATE_ERRORS, sync_to_thread=True)
    def validate(
        self,
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        type_id: FromPath[str],
        data: Annotated[Any, Body(description="A JSON document, e.g. a conversion's `data`")],
    ) -> ValidationReport:
        """Check a JSON document against the type's schema: errors, and the fields left empty."""
        errors, warnings = check_document(_find(caller, lector.own_types.of(caller.owner), type_id), data)
        return ValidationReport(
            errors=Messages(count=len(errors), messages=errors),
            warnings=Messages(count=len(warnings), messages=warnings),
        )


async def kinds_of(own_types: OwnTypes, caller: Caller) -> Kinds:
    """Where the caller's documents look their type up: the built-in types and its own."""
    return await anyio.to_thread.run_sync(own_types.registry, caller.owner)


def _usable(caller: Caller, own: dict[str, OwnType]) -> list[DocumentType]:
    """The built-in types the key may use, then its own."""
    allowed = caller.document_types
    built_in = [kind for code, kind in document_types().items() if allowed is None or code in allowed]
    return built_in + [made.kind for made in own.values()]


def _find(caller: Caller, own: dict[str, OwnType], type_id: str) -> DocumentType:
    for kind in _usable(caller, own):
        if kind.code == type_id:
            return kind
    raise NotFound(f"No document type {type_id[:64]!r} for this API key.")


def _entry(kind: DocumentType, own: OwnType | None = None) -> DocumentTypeEntry:
    """A type as Docutray describes it; ``own``: how the key's own type was made."""
    made = own.created_at if own is not None else None
    return DocumentTypeEntry(
        id=kind.code,
        name=kind.title,
        code_type=kind.code,
        description=kind.description or None,
        is_public=own is None,
        is_draft=False,
        status="active",
        created_at=made,
        updated_at=made,
        json_schema=kind.schema,
    )
