"""``lector serve``: the API under uvicorn, logging through Lector's own set-up."""

from __future__ import annotations

import sys

import uvicorn

from service.api.app import create_app
from service.api.protocol import protocol_for
from service.errors import SettingsError
from service.logging import configure_logging, get_logger
from service.redis_access import location, probe
from service.settings import Settings
from service.startup import prepare_process


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    """Run the API until interrupted; returns the exit status."""
    configure_logging(settings.log_format, settings.log_level)
    log = get_logger("lector.api")
    try:
        # A Redis that is down may come back (/ready says so meanwhile); one that refuses the
        # URL's password or certificate will not, so that stops the start.
        if not probe(settings.redis_url):
            log.warning("redis does not answer", at=location(settings.redis_url))
        app = create_app(settings, prepare_process(settings))
    except SettingsError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 2
    host, port = host or settings.host, port or settings.port
    log.info("starting api", host=host, port=port, auth=settings.auth_enabled)
    # On SIGTERM uvicorn stops accepting, lets running requests finish for up to the timeout,
    # and exits.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_timeout_s,
        # Lector's protocol (h11) adds a deadline for headers and counts connections itself,
        # answering over the limit in its own shape, so uvicorn's limit_concurrency stays off.
        http=protocol_for(settings),
        timeout_keep_alive=settings.keep_alive_s,
        h11_max_incomplete_event_size=settings.max_header_kb * 1024,
        # X-Forwarded-Proto and X-Forwarded-For are believed from these addresses only; said
        # here so that uvicorn's own FORWARDED_ALLOW_IPS variable plays no part.
        proxy_headers=True,
        forwarded_allow_ips=list(settings.trusted_proxies),
    )
    server = uvicorn.Server(config)
    server.run()
    # uvicorn leaves `started` False when it could not bind or start the app.
    return 0 if server.started else 1
