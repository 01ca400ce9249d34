"""How a Lector process reaches its Redis (LECTOR_REDIS_URL): where the URL points, said
without its user or password, and which failures to reach it are the URL's fault.

A password (``redis://:PASSWORD@host:6379/0``, or ``USER:PASSWORD@`` for an ACL user) and TLS
(``rediss://``, with ``?ssl_ca_certs=/path/ca.pem`` for a private authority) are the Redis
client's own URL syntax; every process builds its client from the URL alone. A refused
password, an ACL user without the rights Lector needs or a certificate this host does not
trust will not mend by waiting, so a process says so in one sentence and stops; a Redis
that does not answer yet may come.
"""

from __future__ import annotations

import ssl

from redis import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, RedisError

from service.errors import SettingsError


def location(url: str) -> str:
    """Which Redis ``url`` names, as the Redis client reads it: ``host:port db N``, with
    ``(TLS)`` for rediss://; never its user or password. SettingsError when it cannot be read."""
    from redis.connection import SSLConnection

    parts = _given(url)
    # The client's defaults, for what the URL leaves out.
    host = str(parts.get("host", "localhost"))
    shown = f"[{host}]" if ":" in host else host
    tls = " (TLS)" if parts.get("connection_class") is SSLConnection else ""
    return f"{shown}:{parts.get('port', 6379)} db {parts.get('db', 0)}{tls}"


def _given(url: str) -> dict[str, object]:
    """What ``url`` gives the client (host, port, db, password, ssl_* options, ...), as the
    client itself reads it; SettingsError when it cannot be read."""
    from redis.connection import parse_url

    try:
        return parse_url(url)  # type: ignore[no-untyped-call,no-any-return]
    except ValueError as exc:
        raise SettingsError(f"Invalid LECTOR_REDIS_URL: {str(exc).rstrip('.')}.") from None


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from or while handling (the client wraps socket errors)."""
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def misconfigured(exc: RedisError, url: str) -> str | None:
    """The sentence for a failure that only a change to LECTOR_REDIS_URL (or to Redis's users)
    mends, or None when Redis may simply be down or slow. Never holds the password."""
    where = location(url)
    if isinstance(exc, AuthenticationError):
        if _given(url).get("password"):
            return f"Redis at {where} refused the user or password in LECTOR_REDIS_URL."
        return (
            f"Redis at {where} needs a password: give it in LECTOR_REDIS_URL "
            "(redis://:PASSWORD@host:port/db, or rediss:// for TLS)."
        )
    if isinstance(exc, NoPermissionError):
        return f"Redis at {where} refused a command to the user in LECTOR_REDIS_URL: {exc}."
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return (
                f"Redis at {where} presented a TLS certificate this host does not trust "
                f"({cause.verify_message}): name its authority in LECTOR_REDIS_URL with "
                "?ssl_ca_certs=/path/to/ca.pem."
            )
        if isinstance(cause, FileNotFoundError) and any(name.startswith("ssl_") for name in _given(url)):
            return (
                "A TLS file that LECTOR_REDIS_URL names (ssl_ca_certs, ssl_certfile or ssl_keyfile) "
                "does not exist."
            )
    return None


def failure(exc: RedisError, url: str) -> str:
    """One sentence for any failure to use the Redis at ``url``."""
    return misconfigured(exc, url) or f"Redis at {location(url)} did not answer ({type(exc).__name__})."


def probe(url: str) -> bool:
    """Whether the Redis at ``url`` answers PING now; SettingsError (with the sentence) when it
    answers but refuses what the URL gives it, which waiting will not change."""
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        return bool(client.ping())
    except RedisError as exc:
        sentence = misconfigured(exc, url)
        if sentence is not None:
            raise SettingsError(sentence) from None
        return False
    except OSError:
        return False
    finally:
        client.close()
