"""Request logging: one line per request, and an ``X-Request-ID`` on every answer."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.logging import get_logger

log = get_logger("lector.request")

# A client's id is echoed only when it is harmless in a header and a log line.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def request_id_from(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is safe to echo, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestLogMiddleware(ASGIMiddleware):
    """Logs method, path, status, duration and request id; never bodies or headers."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Tag the request, pass it on, and log how it ended."""
        request_id = request_id_from(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await next_app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope.get("method", ""),
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")


class AllowHeaderMiddleware(ASGIMiddleware):
    """Lists every method of a path in an OPTIONS answer's ``Allow``.

    Litestar 2 builds a path's OPTIONS handler with the first handler added there, so a
    path with GET and POST answered ``Allow: OPTIONS, POST`` (litestar#4169, fixed only in
    Litestar 3). The header is rewritten from the route table.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Pass the request on; for OPTIONS, set ``Allow`` from the matched route."""
        if scope.get("method") != "OPTIONS":
            await next_app(scope, receive, send)
            return
        template = scope.get("path_template")
        methods = next(
            (sorted(route.methods) for route in scope["app"].routes if route.path_format == template), None
        )

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and methods:
                kept = [
                    (name, value) for name, value in message.get("headers", []) if name.lower() != b"allow"
                ]
                message["headers"] = [*kept, (b"allow", ", ".join(methods).encode())]
            await send(message)

        await next_app(scope, receive, send_with_allow)
