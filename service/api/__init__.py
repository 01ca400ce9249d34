"""The HTTP API: Lector's own controllers and, in ``dialects``, the hosted APIs' wires, over
the lifecycle. ``create_app`` builds the application."""

from service.api.app import create_app

__all__ = ["create_app"]
