"""The ``llm-text`` engine: a model that gets no picture finds a typed document's fields in the
text an OCR engine read.

The document type's own OCR engine (``Engines.ocr_engine``: prompts/engines.json, Tesseract
for other languages than English) reads the pages, and a PDF page with its own text layer gives
that text; ``service.extract`` does this reading, in the OCR engine's pool. The model then gets
the text in reading order, one line per visual OCR line (``service.fields.layout``) under a
header per page, with the type's prompt, ``ocr_instructions``, ``document_metadata`` and the
schema, through the same Chat Completions calls, repair and fallbacks as the vision model
(``LlmEngine.fields_from``). It suits a model that cannot see images (``LECTOR_LLM_VISION=no``)
and costs far fewer tokens than a picture. Plain text (``text``) needs no model: its OCR
engine's reading is the answer.
"""

from __future__ import annotations

from typing import Any

from service.engines.base import FieldsReading, Reading, ReadOptions
from service.engines.llm import LlmEngine
from service.fields.layout import lines_of
from service.models import PageResult
from service.pages import Page
from service.settings import Settings


def document_text(pages: list[PageResult]) -> str:
    """The text of ``pages`` as the model gets it: a header per page, then one line per visual
    line of its words (its text, for a page read without words)."""
    parts = []
    for page in pages:
        lines = [line.text for line in lines_of([page])] if page.words else page.text.splitlines()
        body = "\n".join(line for line in lines if line.strip())
        parts.append(f"--- Page {page.page} ---\n{body}")
    return "\n".join(parts)


class LlmTextEngine:
    """A model behind the OpenAI Chat Completions API that reads OCR text, one call per
    ``pages_per_call`` pages."""

    name = "llm-text"

    def __init__(self, settings: Settings) -> None:
        self._model = LlmEngine(settings)  # EngineUnavailable without LECTOR_LLM_MODEL
        self.model = self._model.model
        self.concurrency = settings.llm_concurrency
        self.pages_per_call = settings.llm_pages_per_call

    @classmethod
    def check(cls, options: ReadOptions) -> None:
        """Nothing of its own: ``Engines.check`` checks its OCR engine's options."""

    def read(self, page: Page, options: ReadOptions) -> Reading:
        """Never called: ``service.extract`` reads the pages with the OCR engine, and a plain
        text document needs no model."""
        raise AssertionError("llm-text reads its pages through an OCR engine")

    def read_text_fields(
        self, pages: list[PageResult], code: str, schema: dict[str, Any], options: ReadOptions
    ) -> FieldsReading:
        """The fields of ``schema`` in the text of ``pages`` (one call, plus one repair if needed)."""
        text = (
            f"Pages {pages[0].page} to {pages[-1].page} of the document, as OCR read them (the text may "
            f"hold OCR errors), one line per printed line:\n{document_text(pages)}"
        )
        return self._model.fields_from([{"type": "text", "text": text}], pages[0].page, code, schema, options)
