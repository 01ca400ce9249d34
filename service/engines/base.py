"""The engine contract: an object with a name, a concurrency and two methods.

``check(options)`` refuses options the engine cannot honour before any page is read;
``read(page, options)`` turns one normalized raster page into a ``Reading`` (the page's
result and what it cost). An engine may run its work in another process or on another
machine; ``concurrency`` says how many pages it can usefully take at once in one Lector
process (the core never runs more than that in parallel). An engine that also finds a typed
document's fields itself (the vision model) is a ``FieldEngine``.
"""

from __future__ import annotations

import os
from typing import Any, Protocol, runtime_checkable

import msgspec

from service.models import PageResult, Tokens
from service.options import Lang, Psm
from service.pages import Page


def cores() -> int:
    """The cores this process may run on: how many pages a CPU engine reads at once."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class ReadOptions(msgspec.Struct, frozen=True):
    """What an engine needs to know about the request, besides the page."""

    lang: Lang = "eng"
    psm: Psm | None = None
    include_words: bool = False
    #: Words the engine is less sure of (0 to 100) are left out of the text, not out of the words.
    min_confidence: float = 0.0
    #: The document type's instructions (prompts/<code>.md), for engines that take a prompt.
    prompt: str = ""
    instructions: str | None = None
    metadata: dict[str, Any] | None = None


class Reading(msgspec.Struct):
    """What reading one page produced, and what it cost."""

    result: PageResult
    tokens: Tokens = msgspec.field(default_factory=Tokens)
    calls: int = 0
    #: Sentences for the answer about how the page was read (its language could not be told).
    warnings: list[str] = msgspec.field(default_factory=list)


class FieldsReading(msgspec.Struct):
    """The fields an engine found on some pages of a typed document, and what it cost."""

    fields: dict[str, Any]
    tokens: Tokens = msgspec.field(default_factory=Tokens)
    calls: int = 0
    #: Sentences about fields the engine had to give up on (never their values).
    warnings: list[str] = msgspec.field(default_factory=list)


class Engine(Protocol):
    """Reads the text of raster pages."""

    name: str
    concurrency: int

    @classmethod
    def check(cls, options: ReadOptions) -> None:
        """Raise InvalidOption (before any page is read) if the options cannot work here.

        A class method: the check needs no built engine, so a process that only queues work
        refuses bad options without loading a model (``Engines.check``).
        """

    def read(self, page: Page, options: ReadOptions) -> Reading:
        """Read ``page`` (which has an image): its text, confidence and words, and the cost."""
        ...


@runtime_checkable
class FieldEngine(Engine, Protocol):
    """An engine that also finds a typed document's fields (the vision model does)."""

    pages_per_call: int

    def read_fields(
        self, pages: list[Page], code: str, schema: dict[str, Any], options: ReadOptions
    ) -> FieldsReading:
        """The fields of ``schema`` on ``pages``, which belong together (one call's worth)."""
        ...

    def read_object(self, pages: list[Page], options: ReadOptions) -> FieldsReading:
        """One JSON object about ``pages`` (one call's worth), shaped as the client's
        instructions ask, with no schema: ``fields`` holds it."""
        ...


@runtime_checkable
class TextFieldEngine(Engine, Protocol):
    """An engine that finds a typed document's fields in the text another engine read from its
    pages (``llm-text``: a model that gets no picture). ``service.extract`` reads the pages
    with ``Engines.ocr_engine`` and hands their results, words included, to it."""

    model: str
    pages_per_call: int

    def read_text_fields(
        self, pages: list[PageResult], code: str, schema: dict[str, Any], options: ReadOptions
    ) -> FieldsReading:
        """The fields of ``schema`` in the text of ``pages`` (one call's worth)."""
        ...
