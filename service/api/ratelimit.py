"""The RateLimit and RateLimit-Policy headers (draft-ietf-httpapi-ratelimit-headers-11) on
every answer to a key with a per-minute or per-day limit::

    RateLimit-Policy: "minute";q=60;w=60, "day";q=100;w=86400
    RateLimit: "minute";r=12;t=41, "day";r=88;t=5000

The caller (``connection.state.caller``, set by the auth guard and updated by a charge)
says where the key stands; the middleware writes it when the answer starts, so refusals
(401 aside) and successes carry the same headers.
"""

from __future__ import annotations

import time

from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from service.tenants.limits import Reading


def headers_for(reading: Reading, now: float | None = None) -> list[tuple[bytes, bytes]]:
    """The two header fields for ``reading`` (none when the key has no time window)."""
    now = time.time() if now is None else now
    limits, win = reading.limits, reading.windows
    windows = [
        ("minute", limits.per_minute, 60, reading.minute_used, win.minute_reset),
        ("day", limits.per_day, 86400, reading.day_used, win.day_reset),
    ]
    policies, states = [], []
    for name, quota, seconds, used, reset in windows:
        if quota < 0:
            continue
        policies.append(f'"{name}";q={quota};w={seconds}')
        states.append(f'"{name}";r={max(quota - used, 0)};t={max(int(reset - now), 0)}')
    if not policies:
        return []
    return [(b"ratelimit-policy", ", ".join(policies).encode()), (b"ratelimit", ", ".join(states).encode())]


class RateLimitHeadersMiddleware(ASGIMiddleware):
    """Adds the RateLimit headers of the request's caller, when it has limits."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        """Pass the request on; add the headers as the answer starts."""

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                caller = scope.get("state", {}).get("caller")
                if caller is not None:
                    message["headers"] = [*message.get("headers", []), *headers_for(caller.reading)]
            await send(message)

        await next_app(scope, receive, send_with_limits)
