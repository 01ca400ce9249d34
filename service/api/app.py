"""The application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from redis import Redis

import service
from service.api import dialects
from service.api.account import AccountController
from service.api.admin import AdminController
from service.api.auth import SECURITY_SCHEMES, caller_of_request
from service.api.batches import BatchesController
from service.api.bodies import StrictStructSchemas
from service.api.console import CONSOLE, SWAGGER_PATH, ConsoleController, asset_routers
from service.api.files import FilesController, SignedDownloadsController
from service.api.health import HealthController
from service.api.jobs import JobsController
from service.api.middleware import (
    AllowHeaderMiddleware,
    BodyDeadlineMiddleware,
    ContentTypeMiddleware,
    RequestLogMiddleware,
)
from service.api.monitoring import MetricsController
from service.api.ratelimit import RateLimitHeadersMiddleware
from service.api.request import LectorRequest
from service.api.responses import EXCEPTION_HANDLERS
from service.api.services import Lector
from service.api.status import StatusController
from service.api.webhooks import WebhooksController
from service.engines import Engines
from service.errors import SettingsError
from service.settings import Settings, env_name

#: Room in a request body beyond the document itself: base64 adds a third, form fields a little.
_BODY_OVERHEAD = 1024 * 1024
#: A batch body may hold this many maximum-size documents' worth (files spool to disk).
BATCH_BODY_FACTOR = 10


def create_app(settings: Settings, engines: Engines | None = None) -> Litestar:
    """Build the Litestar application from ``settings`` (and the process's engine registry,
    made from them when not given); refuses to build without API keys unless auth is off.

    Handlers receive one service object (``service.api.services.Lector``: the settings,
    Redis, the job intake, the key store, the sync gate and the lifecycle) and the request's
    caller through dependency injection; nothing below reads the environment.
    """
    if settings.auth_enabled and not settings.api_keys and not settings.admin_key:
        raise SettingsError(
            "No API key configured: set LECTOR_API_KEYS (comma-separated), or LECTOR_ADMIN_KEY to "
            "manage keys, or LECTOR_AUTH=off to run without auth."
        )
    for name in ("anonymous", "registration"):
        if getattr(settings, name) and settings.secret is None:
            raise SettingsError(
                f"{env_name(name)}=on needs LECTOR_SECRET: client labels are hashed with it (`make run` "
                "generates one into ./var/secret)."
            )
    engines = engines or Engines(settings)
    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=5)
    lector = Lector.build(settings, engines, redis)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            redis.close()

    # The batch body limit depends on the settings, so the controller is specialised here.
    batches = type(
        "BatchesController",
        (BatchesController,),
        {"request_max_body_size": settings.max_upload_bytes * BATCH_BODY_FACTOR + _BODY_OVERHEAD},
    )
    return Litestar(
        route_handlers=[
            HealthController,
            *dialects.CONTROLLERS,
            StatusController,
            batches,
            FilesController,
            SignedDownloadsController,
            AccountController,
            AdminController,
            MetricsController,
            WebhooksController,
            JobsController,
            ConsoleController,
            *asset_routers(),
        ],
        state=State({"settings": settings, "key_store": lector.keys}),
        # One service object for every handler, and the request's caller for those that serve a key.
        dependencies={
            "lector": Provide(lambda: lector, sync_to_thread=False),
            "caller": Provide(caller_of_request, sync_to_thread=False),
        },
        middleware=[
            RequestLogMiddleware(),
            RateLimitHeadersMiddleware(),
            AllowHeaderMiddleware(),
            ContentTypeMiddleware(),
            BodyDeadlineMiddleware(settings),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        request_class=LectorRequest,
        plugins=[StrictStructSchemas()],
        request_max_body_size=settings.max_upload_bytes * 4 // 3 + _BODY_OVERHEAD,
        multipart_form_part_limit=settings.max_batch_items + 50,
        lifespan=[lifespan],
        template_config=TemplateConfig(directory=CONSOLE / "templates", engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="Lector",
            version=service.__version__,
            description="Self-hosted OCR and document extraction.",
            path="/schema",
            # Swagger UI from Lector's own assets (service.api.console), not from a CDN.
            render_plugins=[
                SwaggerRenderPlugin(
                    js_url=f"{SWAGGER_PATH}/swagger-ui-bundle.js",
                    css_url=f"{SWAGGER_PATH}/swagger-ui.css",
                    standalone_preset_js_url=f"{SWAGGER_PATH}/swagger-ui-standalone-preset.js",
                    path=["/", "/swagger"],
                    favicon=f"<link rel='icon' type='image/png' href='{SWAGGER_PATH}/favicon-32x32.png'>",
                )
            ],
            components=Components(security_schemes=SECURITY_SCHEMES),
        ),
        # Lector configures logging itself (service.logging); Litestar must not replace it.
        logging_config=None,
        debug=False,
    )
