"""The HTTP API: Litestar controllers over the core. ``create_app`` builds the application."""

from service.api.app import create_app

__all__ = ["create_app"]
