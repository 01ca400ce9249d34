"""A finished extraction's result as each Textract operation's answer, whole (the
synchronous operations) or a page at a time (the Get operations)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

import msgspec

from service.api.dialects.textract.blocks import document_blocks
from service.api.dialects.textract.expense import expense_document
from service.api.dialects.textract.queries import answer
from service.api.dialects.textract.wire import (
    MODEL_VERSION,
    AnalyzeDocumentAnswer,
    AnalyzeExpenseAnswer,
    Block,
    DetectDocumentTextAnswer,
    DocumentMetadata,
    ExpenseDocument,
    FeatureType,
    GetAnalysisAnswer,
    GetExpenseAnswer,
    GetTextDetectionAnswer,
    JobStatus,
    Query,
)
from service.models import PageResult
from service.structure import structure_of

Api = Literal["text", "analysis", "expense"]


def _parts(
    result: dict[str, Any], namespace: uuid.UUID, features: Sequence[str], queries: Sequence[Query], api: Api
) -> tuple[int, list[Block], ExpenseDocument | None]:
    """The document's page count, its blocks, and for an expense its expense document."""
    pages = msgspec.convert(result.get("pages") or [], list[PageResult])
    structure = structure_of(pages)
    answers = [
        answer(query, structure.key_values, result.get("fields"), result.get("field_evidence"))
        for query in queries
    ]
    asked: list[FeatureType] = [
        feature for feature in ("FORMS", "TABLES", "QUERIES", "LAYOUT") if feature in features
    ]
    blocks = document_blocks(pages, structure, namespace, asked, queries, answers)
    expense = expense_document(result, pages, structure, blocks) if api == "expense" else None
    return max(len(pages), 1), blocks, expense


def whole(
    api: Api, result: dict[str, Any], namespace: uuid.UUID, features: Sequence[str], queries: Sequence[Query]
) -> msgspec.Struct:
    """A synchronous operation's answer."""
    count, blocks, expense = _parts(result, namespace, features, queries, api)
    metadata = DocumentMetadata(pages=count)
    if api == "text":
        return DetectDocumentTextAnswer(
            document_metadata=metadata, blocks=blocks, detect_document_text_model_version=MODEL_VERSION
        )
    if api == "analysis":
        return AnalyzeDocumentAnswer(
            document_metadata=metadata, blocks=blocks, analyze_document_model_version=MODEL_VERSION
        )
    assert expense is not None
    return AnalyzeExpenseAnswer(document_metadata=metadata, expense_documents=[expense])


def unfinished(api: Api, status: JobStatus, failure: str | None) -> msgspec.Struct:
    """A Get's answer for a job still running, or failed."""
    message = failure if status == "FAILED" else None
    if api == "text":
        return GetTextDetectionAnswer(
            job_status=status, status_message=message, detect_document_text_model_version=MODEL_VERSION
        )
    if api == "analysis":
        return GetAnalysisAnswer(
            job_status=status, status_message=message, analyze_document_model_version=MODEL_VERSION
        )
    return GetExpenseAnswer(
        job_status=status, status_message=message, analyze_expense_model_version=MODEL_VERSION
    )


def paged(
    api: Api,
    result: dict[str, Any],
    namespace: uuid.UUID,
    features: Sequence[str],
    queries: Sequence[Query],
    start: int,
    size: int,
    token: Callable[[int], str],
) -> msgspec.Struct:
    """A Get's answer for a finished job: its blocks (or expense documents) from ``start``,
    at most ``size``, and a NextToken when more follow."""
    count, blocks, expense = _parts(result, namespace, features, queries, api)
    metadata = DocumentMetadata(pages=count)
    if api == "expense":
        assert expense is not None
        documents = [expense][start : start + size]
        more = token(start + size) if start + size < 1 else None
        return GetExpenseAnswer(
            job_status="SUCCEEDED",
            document_metadata=metadata,
            expense_documents=documents,
            next_token=more,
            analyze_expense_model_version=MODEL_VERSION,
        )
    shown = blocks[start : start + size]
    more = token(start + size) if start + size < len(blocks) else None
    if api == "text":
        return GetTextDetectionAnswer(
            job_status="SUCCEEDED",
            document_metadata=metadata,
            blocks=shown,
            next_token=more,
            detect_document_text_model_version=MODEL_VERSION,
        )
    return GetAnalysisAnswer(
        job_status="SUCCEEDED",
        document_metadata=metadata,
        blocks=shown,
        next_token=more,
        analyze_document_model_version=MODEL_VERSION,
    )
