"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Reference, SecurityRequirement, SecurityScheme

from service.errors import Unauthorized
from service.settings import Settings

SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "BearerAuth": SecurityScheme(type="http", scheme="bearer", description="An API key as a bearer token."),
    "ApiKeyHeader": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
}
#: Either scheme is enough.
SECURITY: list[SecurityRequirement] = [{"BearerAuth": []}, {"ApiKeyHeader": []}]


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The key the client sent, from either header, or None."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return connection.headers.get("x-api-key", "").strip() or None


def key_matches(presented: str, accepted: tuple[str, ...]) -> bool:
    """Compare against every accepted key in constant time, without stopping at a match."""
    found = False
    for key in accepted:
        found |= hmac.compare_digest(presented.encode(), key.encode())
    return found


def client_id(key: str) -> str:
    """A stable, non-secret name for the holder of ``key`` (what owns jobs; safe to log)."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: admit the request only with an accepted key (unless auth is off)."""
    settings: Settings = connection.app.state.settings
    if not settings.auth_enabled:
        connection.state.client_id = "anonymous"
        return
    key = presented_key(connection)
    if key is None:
        raise Unauthorized("Missing API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.")
    if not key_matches(key, settings.api_keys):
        raise Unauthorized("The API key is not valid.")
    connection.state.client_id = client_id(key)
