"""The caller's webhooks: its signing secret (shown once, rotatable) and default callback URL."""

from __future__ import annotations

from typing import Annotated

import anyio
import msgspec
from litestar import get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from msgspec import Meta

from service.api.auth import KeyController
from service.api.responses import AUTH_ERRORS, error_spec
from service.api.services import Lector
from service.jobs.intake import storage_errors
from service.jobs.webhooks import MAX_URL_LENGTH, check_url
from service.tenants.store import Caller

WEBHOOK_ERRORS = {
    **AUTH_ERRORS,
    400: error_spec("The body is empty or not JSON"),
    422: error_spec("A default_url that is not an http(s) URL, or does not resolve to public addresses"),
    503: error_spec("The store is unavailable; try again after Retry-After seconds"),
}


class WebhookSettings(msgspec.Struct, omit_defaults=True):
    """Answer of ``GET /api/webhooks``: never the secret itself."""

    default_url: Annotated[str | None, Meta(description="where jobs without a callback_url call back")] = None
    secret_created_at: Annotated[str | None, Meta(description="null: no secret yet")] = None


class DefaultUrl(msgspec.Struct, forbid_unknown_fields=True):
    """Body of ``PUT /api/webhooks``."""

    default_url: Annotated[
        Annotated[str, Meta(max_length=MAX_URL_LENGTH)] | None, Meta(description="null removes it")
    ]


class WebhookSecret(msgspec.Struct):
    """Answer of ``POST /api/webhooks/secret``: the only time the secret is shown."""

    secret: Annotated[str, Meta(description="whsec_ + base64 key, for any Standard Webhooks library")]


class WebhooksController(KeyController):
    """Signed callbacks when a conversion or a batch ends (Standard Webhooks)."""

    path = "/api/webhooks"
    tags = ("Webhooks",)

    @get("/", responses=WEBHOOK_ERRORS)
    async def show(self, lector: NamedDependency[Lector], caller: NamedDependency[Caller]) -> WebhookSettings:
        """The key's default callback URL and when its secret was made."""
        with storage_errors():
            found = await anyio.to_thread.run_sync(lector.intake.webhooks.settings_of, caller.owner)
        return msgspec.convert(found, WebhookSettings)

    @put("/", responses=WEBHOOK_ERRORS)
    async def set_default(
        self, lector: NamedDependency[Lector], data: JSONBody[DefaultUrl], caller: NamedDependency[Caller]
    ) -> WebhookSettings:
        """Set the callback URL used when a submission gives none (null removes it)."""
        url = data.default_url
        if url is not None:
            url = await anyio.to_thread.run_sync(check_url, url, lector.settings)
        with storage_errors():
            await anyio.to_thread.run_sync(lector.intake.webhooks.set_default_url, caller.owner, url)
            found = await anyio.to_thread.run_sync(lector.intake.webhooks.settings_of, caller.owner)
        return msgspec.convert(found, WebhookSettings)

    @post("/secret", status_code=201, responses=WEBHOOK_ERRORS)
    async def rotate(self, lector: NamedDependency[Lector], caller: NamedDependency[Caller]) -> WebhookSecret:
        """Make the key's signing secret, or replace it: deliveries from now on are signed with
        the new one. Shown in this answer only."""
        with storage_errors():
            secret = await anyio.to_thread.run_sync(lector.intake.webhooks.rotate, caller.owner)
        return WebhookSecret(secret=secret)
