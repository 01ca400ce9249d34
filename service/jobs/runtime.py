"""What a worker process runs its jobs with: its engines (and, through them, its settings).

The worker hands them over once, at start-up (``configure``); a forked child that runs the
jobs inherits them. A plain `rq worker` (rather than `lector worker`) gets them from the
environment on first use.
"""

from __future__ import annotations

from service.engines import Engines
from service.settings import Settings, load_settings

_engines: Engines | None = None


def configure(engines: Engines) -> None:
    """Give the jobs of this process their engines (and, through them, the settings)."""
    global _engines
    _engines = engines


def engines() -> Engines:
    """This worker process's engines, loaded from the environment when nobody configured them."""
    global _engines
    if _engines is None:
        from service.startup import prepare_process

        _engines = prepare_process(load_settings())
    return _engines


def settings() -> Settings:
    """This worker process's settings."""
    return engines().settings
