"""Liveness and readiness probes (no API key needed)."""

from __future__ import annotations

import shutil
import subprocess

import anyio
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from redis.exceptions import RedisError, ResponseError

from service.api.services import Lector
from service.engines.model_server import serving
from service.errors import EngineUnavailable
from service.models import Health

_PROBE_KEY = "lector:ready-probe"
#: How long the store's check may take before it counts as failed.
_STORE_CHECK_S = 10


def _ppocr_models_present() -> bool:
    from service.engines.ppocr import model_paths  # a file check; the models are not loaded here

    try:
        model_paths()
    except EngineUnavailable:
        return False
    return True


def _tesseract_runs() -> bool:
    binary = shutil.which("tesseract")
    if binary is None:
        return False
    try:
        return (
            subprocess.run([binary, "--version"], capture_output=True, timeout=5, check=False).returncode == 0
        )
    except (OSError, subprocess.SubprocessError):
        return False


class HealthController(Controller):
    """``/health``: the process answers. ``/ready``: it can do its work."""

    tags = ("Health",)

    @get("/health", summary="The process answers")
    async def health(self) -> Health:
        """Always 200 while the server runs."""
        return Health(status="ok")

    @get(
        "/ready",
        summary="Redis takes writes, the store writes, reads and deletes, and Tesseract runs",
        responses={503: ResponseSpec(data_container=Health, description="Not ready")},
    )
    async def ready(self, lector: NamedDependency[Lector]) -> Response[Health]:
        """200 when Redis takes a write, the document store writes, reads and deletes a small
        object, and Tesseract starts; 503 with the failing checks otherwise (the store's says
        which step failed).

        A Redis that answers PING but refuses writes (full, `maxmemory`, a read-only replica)
        cannot take jobs, so the check is a write. `llm` names the configured vision model;
        `llm_server` says whether its server lists it (GET /models, within 2 s): "ok" or what
        is wrong. A model server that is down does not fail the probe: the OCR engines serve."""
        checks: dict[str, str] = {}
        try:
            # The client's own timeouts bound it; the key expires by itself.
            await anyio.to_thread.run_sync(lambda: lector.redis.set(_PROBE_KEY, b"1", ex=10))
            checks["redis"] = "ok"
        except (RedisError, OSError) as exc:
            checks["redis"] = "refuses writes" if isinstance(exc, ResponseError) else "unreachable"
        checks["store"] = f"did not answer within {_STORE_CHECK_S} s"
        with anyio.move_on_after(_STORE_CHECK_S):
            failed = await anyio.to_thread.run_sync(lector.storage.check, abandon_on_cancel=True)
            checks["store"] = failed or "ok"
        checks["tesseract"] = "ok" if await anyio.to_thread.run_sync(_tesseract_runs) else "not runnable"
        checks["ppocr"] = "ok" if _ppocr_models_present() else "models missing"
        ready = all(value == "ok" for value in checks.values())
        settings = lector.settings
        llm = settings.llm_model or "not configured"
        llm_server = None
        if settings.llm_model:
            base_url = settings.openai_base_url or "https://api.openai.com/v1"
            model, key = settings.llm_model, settings.openai_api_key
            llm_server = await anyio.to_thread.run_sync(lambda: serving(base_url, model, key))
        health = Health(
            status="ok" if ready else "unavailable", checks=checks, llm=llm, llm_server=llm_server
        )
        return Response(health, status_code=200 if ready else 503)
