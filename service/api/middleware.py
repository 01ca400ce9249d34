"""Request logging and counting: one line and one metric sample per request, and an
``X-Request-ID`` on every answer."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

import structlog
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from service.errors import RequestTimeout
from service.logging import get_logger
from service.metrics import metrics
from service.settings import Settings

log = get_logger("lector.request")

# A client's id is echoed only when it is harmless in a header and a log line.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Methods counted by name; a client may send any token, and a label must not grow with them.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_from(scope: Scope) -> str:
    """The client's ``X-Request-ID`` when it is safe to echo, else a fresh one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SAFE_ID.match(candidate):
                return candidate
    return uuid.uuid4().hex


class RequestLogMiddleware(ASGIMiddleware):
    """Logs method, path, status, duration and request id, never bodies or headers; counts the
    request by route template (never the path itself, which may hold ids)."""

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
            seconds = time.perf_counter() - started
            method = scope.get("method", "")
            log.info(
                "request",
                method=method,
                path=scope["path"],
                status=status,
                duration_ms=round(seconds * 1000, 1),
            )
            route = scope.get("path_template") or "unmatched"
            method = method if method in _METHODS else "other"
            counted = metrics()
            counted.requests.labels(route=route, method=method, status=str(status)).inc()
            counted.request_seconds.labels(route=route, method=method).observe(seconds)
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


def one_charset(content_type: bytes) -> bytes:
    """``content_type`` with every parameter after its first occurrence dropped."""
    media, *parameters = content_type.split(b";")
    seen: set[bytes] = set()
    kept = [media]
    for parameter in parameters:
        name = parameter.split(b"=", 1)[0].strip().lower()
        if name not in seen:
            seen.add(name)
            kept.append(parameter)
    return b";".join(kept)


class ContentTypeMiddleware(ASGIMiddleware):
    """Keeps one charset in a text answer's Content-Type.

    Litestar appends ``; charset=utf-8`` to every ``text/*`` media type, also to one that
    names its charset already (a converted text file's, a CSV's, Prometheus's), which made
    ``text/plain; charset=utf-8; charset=utf-8``. Rewriting the header where every answer
    passes covers each route, a dialect's and a streamed answer too.
    """

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Pass the request on; drop a repeated parameter from the answer's Content-Type."""

        async def send_with_one_charset(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    (name, one_charset(value) if name.lower() == b"content-type" else value)
                    for name, value in message.get("headers", [])
                ]
            await send(message)

        await next_app(scope, receive, send_with_one_charset)


class BodyDeadlineMiddleware(ASGIMiddleware):
    """Bounds how long a request body may take to arrive: 408 past its deadline.

    uvicorn has no timeout for a body (nor does h11), so a client sending one byte a second
    could hold its request open indefinitely. The deadline is Apache's mod_reqtimeout rule:
    ``body_timeout_s`` from the first read, plus a second for every ``body_min_kb_per_s``
    kilobytes received, so a large upload on a slow link gets the time its size earns and a
    dribble does not. Once the body is complete, ``receive`` is left as it is (a streamed
    answer waits on it for the client's disconnect).
    """

    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings) -> None:
        self.timeout_s = settings.body_timeout_s
        self.bytes_per_s = settings.body_min_kb_per_s * 1024

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Pass the request on with a ``receive`` that raises RequestTimeout past the deadline."""
        loop = asyncio.get_running_loop()
        started: float | None = None
        received = 0
        done = False

        async def receive_in_time() -> ReceiveMessage:
            nonlocal started, received, done
            if done:
                return await receive()
            started = loop.time() if started is None else started
            left = started + self.timeout_s + received / self.bytes_per_s - loop.time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0))
            except TimeoutError:
                seconds = loop.time() - started
                raise RequestTimeout(
                    f"The request body arrived too slowly: {received} bytes in {seconds:.0f} seconds."
                ) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                done = not message.get("more_body", False)
            else:  # the client is gone
                done = True
            return message

        await next_app(scope, receive_in_time, send)
