"""The absolute URLs the API gives clients (status URLs, download and upload URLs, ``Location``).

They are built on ``LECTOR_PUBLIC_URL`` when it is set, so that an API behind a reverse proxy
answers the address clients reach rather than its own. Otherwise on the address the request
came to: its ``Host`` header, and its scheme, which uvicorn takes from ``X-Forwarded-Proto``
when the request comes from one of ``LECTOR_TRUSTED_PROXIES``.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from service.jobs.links import Links
from service.settings import Settings


def links(request: Request[Any, Any, Any]) -> Links:
    """The links of queued jobs, as this request's client reaches them."""
    settings: Settings = request.app.state.settings
    return Links.public(settings) or Links(str(request.base_url).rstrip("/"))


def url_for(request: Request[Any, Any, Any], name: str, **parameters: Any) -> str:
    """The absolute URL of the route named ``name``, as this request's client reaches it."""
    return links(request).base + request.app.route_reverse(name, **parameters)
