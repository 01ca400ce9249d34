"""The HTTP/1.1 connection ``lector serve`` speaks: uvicorn's h11 protocol with the limits uvicorn
lacks, and Lector's error shape on the answers uvicorn writes itself.

uvicorn bounds a request's headers in size (h11's buffer) but not in time: no timer runs
until a first answer is sent, so a client sending one byte a second could hold a connection for as
long as it liked. Here a client has ``header_timeout_s`` to send its request line and headers,
from connecting or from the first byte of a later request on the connection; then it is
answered 408 (or, when nothing of a request arrived, just disconnected). A request body's
pace is bounded by ``service.api.middleware.BodyDeadlineMiddleware``.

uvicorn answers malformed HTTP (and headers over the h11 limit) with a plain-text 400 and a
request over ``limit_concurrency`` with a plain-text 503, before any route is known. This
protocol writes both in Lector's one error shape instead, and counts connections itself so
that its 503 carries a Retry-After.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import msgspec
from uvicorn._types import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from service.models import ErrorBody
from service.settings import Settings


def error_bytes(status: int, reason: bytes, message: str, headers: tuple[bytes, ...] = ()) -> bytes:
    """A whole HTTP/1.1 error answer in Lector's shape that closes the connection."""
    body = msgspec.json.encode(ErrorBody(success=False, message=message))
    lines = [
        b"HTTP/1.1 %d %s" % (status, reason),
        b"content-type: application/json",
        b"content-length: %d" % len(body),
        b"connection: close",
        *headers,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class LectorProtocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers, a connection limit
    answered in Lector's shape, and Lector's shape for malformed requests.

    ``protocol_for(settings)`` makes the subclass with the settings' limits; uvicorn makes one
    instance per connection.
    """

    header_timeout_s: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1000
    max_header_kb: ClassVar[int] = 16

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.headers_deadline: asyncio.TimerHandle | None = None
        self.app = self._limited(self.app)

    def _limited(self, app: ASGI3Application) -> ASGI3Application:
        """``app`` behind the connection limit: over it, 503 in Lector's shape."""

        async def limited(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
            # This request's own connection and task are already counted.
            if len(self.connections) > self.max_connections or len(self.tasks) > self.max_connections:
                message = (
                    f"The server holds its most connections ({self.max_connections}); try again shortly."
                )
                body = msgspec.json.encode(ErrorBody(success=False, message=message))
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", b"1"),
                            (b"connection", b"close"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await app(scope, receive, send)

        return limited

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the connection with the deadline for its first request's headers."""
        super().connection_made(transport)
        self._arm_headers_deadline()

    def handle_events(self) -> None:
        """Parse what arrived; a request whose headers are complete stops the deadline."""
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:
            self._disarm_headers_deadline()

    def data_received(self, data: bytes) -> None:
        """Take bytes in; the first of a later request on the connection starts its deadline
        (until then, uvicorn's keep-alive timeout bounds the wait)."""
        if self.headers_deadline is None and self._waiting_for_headers():
            self._arm_headers_deadline()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the deadline of a connection that is gone."""
        self._disarm_headers_deadline()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        """Malformed HTTP, or a request line and headers over the h11 limit: 400 in Lector's shape."""
        message = (
            "The request is not valid HTTP/1.1, or its request line and headers are over "
            f"{self.max_header_kb} KB."
        )
        self._close_with(error_bytes(400, b"Bad Request", message))

    def _arm_headers_deadline(self) -> None:
        self._disarm_headers_deadline()
        self.headers_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm_headers_deadline(self) -> None:
        if self.headers_deadline is not None:
            self.headers_deadline.cancel()
            self.headers_deadline = None

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _headers_too_slow(self) -> None:
        self.headers_deadline = None
        if not self._waiting_for_headers() or self.transport.is_closing():
            return
        if not self.conn.trailing_data[0]:  # nothing of a request arrived: just close, as nginx does
            self.transport.close()
            return
        message = f"The request's headers took over {self.header_timeout_s:g} seconds to arrive."
        self._close_with(error_bytes(408, b"Request Timeout", message))

    def _close_with(self, answer: bytes) -> None:
        """Write ``answer`` as it stands and close: h11 has no request it could answer (none
        arrived whole), so the bytes go to the transport directly."""
        self.transport.write(answer)
        self.transport.close()


def protocol_for(settings: Settings) -> type[LectorProtocol]:
    """The protocol class with ``settings``' limits, for ``uvicorn.Config(http=...)``."""

    class Limited(LectorProtocol):
        header_timeout_s = float(settings.header_timeout_s)
        max_connections = settings.max_connections
        max_header_kb = settings.max_header_kb

    return Limited
