"""The request every route receives: Litestar's, with body decoding that treats bytes a client
got wrong as the client's mistake (a 400), never as a server error.

Litestar decodes a JSON body with msgspec, which raises ``UnicodeDecodeError`` (not a decode
error) for invalid UTF-8 inside a string, which would otherwise answer as an internal error.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from service.api.payloads import NOT_UTF8
from service.errors import MalformedBody


class LectorRequest(Request[Any, Any, Any]):
    """Litestar's request, whose ``json()`` refuses undecodable bytes with a 400."""

    async def json(self) -> Any:
        """The JSON body; MalformedBody (400) when a string in it is not UTF-8."""
        try:
            return await super().json()
        except UnicodeDecodeError:
            raise MalformedBody(NOT_UTF8) from None
