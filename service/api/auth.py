"""API-key authentication: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``.

Three kinds of key: managed keys (``lec_...``, records in Redis with limits and scopes),
static keys (LECTOR_API_KEYS, no limits) and the admin key (LECTOR_ADMIN_KEY, the
``/admin`` routes only).
"""

from __future__ import annotations

import hmac
from typing import Any

import anyio
from litestar import Controller, Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Reference, SecurityRequirement, SecurityScheme

from service.errors import Forbidden, Unauthorized
from service.settings import Settings
from service.tenants.keys import is_managed
from service.tenants.store import NOT_VALID, Caller, KeyStore, static_caller, static_key_caller

SECURITY_SCHEMES: dict[str, SecurityScheme | Reference] = {
    "BearerAuth": SecurityScheme(type="http", scheme="bearer", description="An API key as a bearer token."),
    "ApiKeyHeader": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header"),
}
MISSING_KEY = "Missing API key: send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
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


def authenticate(
    connection: ASGIConnection[Any, Any, Any, Any], key: str | None, *, missing: str = MISSING_KEY
) -> Caller | str:
    """The caller presenting ``key`` (None: no key was sent, and ``missing`` says where to
    send one): a static key (LECTOR_API_KEYS, no limits), or anyone when auth is off; for a
    managed key, the key itself, to look up in Redis (in a thread). Raises Unauthorized."""
    settings: Settings = connection.app.state.settings
    if not settings.auth_enabled:
        return static_caller("anonymous")
    if key is None:
        raise Unauthorized(missing)
    if is_managed(key):
        return key
    if not key_matches(key, settings.api_keys):
        raise Unauthorized(NOT_VALID)
    return static_key_caller(key)


async def caller_for(
    connection: ASGIConnection[Any, Any, Any, Any], key: str | None, *, missing: str = MISSING_KEY
) -> Caller:
    """Who presents ``key``, however the request carried it (see ``authenticate``): a
    dialect reads its vendor's header and asks here."""
    found = authenticate(connection, key, missing=missing)
    if isinstance(found, str):
        store: KeyStore = connection.app.state.key_store
        return await anyio.to_thread.run_sync(store.authenticate, found)
    return found


async def caller_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Caller:
    """Who sent the request, by Lector's own headers (``presented_key``)."""
    return await caller_for(connection, presented_key(connection))


def caller_of_request(request: Request[Any, Any, Any]) -> Caller:
    """The ``caller`` dependency: who the guard admitted."""
    caller: Caller = request.state.caller
    return caller


async def require_api_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: admit the request only with an accepted key (unless auth is off); the
    caller is kept in ``connection.state.caller`` for the handler and the RateLimit headers."""
    connection.state.caller = await caller_of(connection)


async def require_admin_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard of the ``/admin`` routes: only LECTOR_ADMIN_KEY passes; another valid
    key gets 403, a wrong one 401."""
    settings: Settings = connection.app.state.settings
    key = presented_key(connection)
    if key is None:
        raise Unauthorized(MISSING_KEY)
    if settings.admin_key is not None and key_matches(key, (settings.admin_key,)):
        return
    await caller_of(connection)  # a wrong key is told so (401) before the route is refused
    if settings.admin_key is None:
        raise Forbidden("The admin API is off: set LECTOR_ADMIN_KEY to use it.")
    raise Forbidden("This route needs the admin key (LECTOR_ADMIN_KEY).")


async def require_metrics_key(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard of ``/metrics``: open unless LECTOR_METRICS_KEY is set, then that key only."""
    settings: Settings = connection.app.state.settings
    if settings.metrics_key is None:
        return
    key = presented_key(connection)
    if key is None:
        raise Unauthorized(MISSING_KEY)
    if not key_matches(key, (settings.metrics_key,)):
        raise Unauthorized("Invalid key for /metrics: send LECTOR_METRICS_KEY as a Bearer token.")


class KeyController(Controller):
    """A controller whose every route needs an accepted API key: the guard, and the security
    requirement that says so in the OpenAPI document."""

    guards = (require_api_key,)
    security = SECURITY
