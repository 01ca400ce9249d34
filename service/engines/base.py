"""The engine contract: one object, one method.

An engine turns one normalized raster page into a PageResult. It may run its work in another
process or on another machine; `concurrency` says how many pages it can usefully take at
once in one Lector process (the core never runs more than that in parallel).
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from service.models import PageResult
from service.pages import Page


class ReadOptions(msgspec.Struct, frozen=True):
    """What an engine needs to know about the request, besides the page."""

    lang: str = "eng"
    psm: int | None = None
    include_words: bool = False


class Engine(Protocol):
    """Reads the text of raster pages."""

    name: str
    concurrency: int

    def check(self, options: ReadOptions) -> None:
        """Raise InvalidOption (before any page is read) if the options cannot work here."""

    def read(self, page: Page, options: ReadOptions) -> PageResult:
        """Return the text, mean confidence and words of ``page`` (which has an image)."""
        ...
