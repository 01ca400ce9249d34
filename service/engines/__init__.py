"""Engine registry: a name maps to the module and class that reads pages.

Adding an engine means adding one module beside ``tesseract.py`` with a class that follows
``service.engines.base.Engine``, and one line in ``_REGISTRY``. Engines are imported and
built on first use, once per process, so a process that never OCRs never loads one.
"""

from __future__ import annotations

import importlib
import threading

from service.engines.base import Engine, Reading, ReadOptions
from service.errors import InvalidOption
from service.settings import get_settings

__all__ = ["Engine", "ReadOptions", "Reading", "available", "get_engine", "resolve"]

_REGISTRY: dict[str, str] = {
    "tesseract": "service.engines.tesseract:TesseractEngine",
    "llm": "service.engines.llm:LlmEngine",
    "hybrid": "service.engines.llm:HybridEngine",
}

_instances: dict[str, Engine] = {}
_lock = threading.Lock()


def available() -> list[str]:
    """The names of every registered engine."""
    return sorted(_REGISTRY)


def resolve(name: str) -> str:
    """Map a requested engine name to a registered one: ``auto`` is the vision model when
    LECTOR_LLM_MODEL is set, Tesseract otherwise."""
    if name == "auto":
        return "llm" if get_settings().llm_model else "tesseract"
    if name not in _REGISTRY:
        raise InvalidOption(f"Unknown engine {name!r}; choose one of: auto, {', '.join(available())}.")
    return name


def get_engine(name: str) -> Engine:
    """The process-wide instance of engine ``name`` (``auto`` allowed)."""
    name = resolve(name)
    with _lock:
        if name not in _instances:
            module_name, class_name = _REGISTRY[name].split(":")
            engine_class = getattr(importlib.import_module(module_name), class_name)
            _instances[name] = engine_class()
        return _instances[name]
