"""Docutray's document types: list (paginated, searchable), one by id, and validation of a
JSON document against a type's schema.

A type's id is its code. Lector's types are files (``service.doctypes``), public to every key
that may use them; there are no drafts. Docutray's steps and knowledge bases are not here.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import Body, FromPath, Parameter
from msgspec import Meta

from service.api.auth import SECURITY, require_api_key
from service.api.responses import AUTH_ERRORS, error_spec
from service.doctypes import DocumentType, check_document, document_types
from service.errors import NotFound
from service.tenants.store import Caller

TYPE_ERRORS = {**AUTH_ERRORS, 404: error_spec("No such document type for this API key")}
VALIDATE_ERRORS = {**TYPE_ERRORS, 400: error_spec("The body is not JSON")}
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


class DocumentTypesController(Controller):
    """The document types this key may use."""

    path = "/api/document-types"
    tags = ("Document types (Docutray)",)
    guards = (require_api_key,)
    security = SECURITY

    @get("/", responses={**AUTH_ERRORS, 422: error_spec("An invalid query parameter")})
    async def list_types(
        self,
        caller: NamedDependency[Caller],
        page: Annotated[int, Parameter(ge=1, le=100_000, description="From 1")] = 1,
        limit: Annotated[int, Parameter(ge=1, le=100, description="Types per page")] = DEFAULT_LIMIT,
        search: Annotated[
            str | None, Parameter(max_length=200, description="Part of a name, code or description")
        ] = None,
    ) -> DocumentTypePage:
        """The document types this key may use, a page at a time, with their JSON Schemas."""
        kinds = _usable(caller)
        if search:
            needle = search.casefold()
            kinds = [
                kind
                for kind in kinds
                if any(needle in text.casefold() for text in (kind.code, kind.title, kind.description))
            ]
        shown = kinds[(page - 1) * limit : page * limit]
        return DocumentTypePage(
            data=[_entry(kind) for kind in shown],
            pagination=Pagination(total=len(kinds), page=page, limit=limit),
        )

    @get("/{type_id:str}", responses=TYPE_ERRORS)
    async def get_type(self, caller: NamedDependency[Caller], type_id: FromPath[str]) -> DocumentTypeEntry:
        """One document type, by its id (its code)."""
        return _entry(_find(caller, type_id))

    @post("/{type_id:str}/validate", status_code=200, responses=VALIDATE_ERRORS, sync_to_thread=True)
    def validate(
        self,
        caller: NamedDependency[Caller],
        type_id: FromPath[str],
        data: Annotated[Any, Body(description="A JSON document, e.g. a conversion's `data`")],
    ) -> ValidationReport:
        """Check a JSON document against the type's schema: errors, and the fields left empty."""
        errors, warnings = check_document(_find(caller, type_id), data)
        return ValidationReport(
            errors=Messages(count=len(errors), messages=errors),
            warnings=Messages(count=len(warnings), messages=warnings),
        )


def _usable(caller: Caller) -> list[DocumentType]:
    allowed = caller.document_types
    return [kind for code, kind in document_types().items() if allowed is None or code in allowed]


def _find(caller: Caller, type_id: str) -> DocumentType:
    for kind in _usable(caller):
        if kind.code == type_id:
            return kind
    raise NotFound(f"No document type {type_id[:64]!r} for this API key.")


def _entry(kind: DocumentType) -> DocumentTypeEntry:
    return DocumentTypeEntry(
        id=kind.code,
        name=kind.title,
        code_type=kind.code,
        description=kind.description or None,
        is_public=True,
        is_draft=False,
        status="active",
        created_at=None,
        updated_at=None,
        json_schema=kind.schema,
    )
