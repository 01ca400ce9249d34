"""Engine registry: a name maps to the module and class that reads pages.

Adding an engine means adding one module beside ``tesseract.py`` with a class that follows
``service.engines.base.Engine`` (built as ``Class(settings)``), and one line in
``_REGISTRY``. An ``Engines`` registry is made once per process at start-up from the
settings; each engine is imported and built on first use, so a process that never OCRs
never loads one.
"""

from __future__ import annotations

import importlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, get_args

from service.doctypes import auto_engine_of, document_types
from service.engines.base import Engine, FieldEngine, Reading, ReadOptions
from service.errors import InvalidOption, SettingsError
from service.options import AUTO_LANGUAGE, EngineName
from service.settings import Settings

__all__ = ["Engine", "Engines", "FieldEngine", "ReadOptions", "Reading"]

_REGISTRY: dict[str, str] = {
    "tesseract": "service.engines.tesseract:TesseractEngine",
    "ppocr": "service.engines.ppocr:PpocrEngine",
    "llm": "service.engines.llm:LlmEngine",
    "hybrid": "service.engines.llm:HybridEngine",
    "llm-text": "service.engines.llm_text:LlmTextEngine",
}
#: The engines that call the model (and spend a key's token budget).
_MODEL_ENGINES = frozenset({"llm", "hybrid", "llm-text"})
#: The model engines that send the model page pictures (refused when LECTOR_LLM_VISION=no).
_VISION_ENGINES = frozenset({"llm", "hybrid"})
# Each registered engine is a choice of the options' `engine`, and `auto` is the only other one.
assert set(get_args(EngineName)) == {"auto", *_REGISTRY}, "EngineName and _REGISTRY disagree"


class Engines:
    """This process's engines, built from ``settings`` on first use, and their page pools.

    One pool per engine is shared by every request in the process, so concurrent requests
    together never run more pages than the engine's concurrency.
    """

    def __init__(self, settings: Settings) -> None:
        unknown = {kind.auto_engine for kind in document_types().values()} - set(_REGISTRY)
        if unknown:
            raise SettingsError(f"prompts/engines.json names unknown engines: {', '.join(sorted(unknown))}.")
        self.settings = settings
        self._instances: dict[str, Engine] = {}
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._lock = threading.Lock()

    @staticmethod
    def available() -> list[str]:
        """The names of every registered engine."""
        return sorted(_REGISTRY)

    def resolve(self, name: str, document_type_code: str = "text", lang: str = "eng") -> str:
        """Map a requested engine name to a registered one. ``auto`` is the vision model when
        LECTOR_LLM_MODEL is set; when that model cannot see images (LECTOR_LLM_VISION=no), it
        is ``llm-text`` for a typed document and the OCR engine (``ocr_engine``) for plain
        text; without a model, the OCR engine. ``llm`` and ``hybrid`` need a model that sees."""
        if name == "auto":
            if self.settings.llm_model and self.settings.llm_vision:
                return "llm"
            if self.settings.llm_model and document_type_code != "text":
                return "llm-text"
            return self.ocr_engine(document_type_code, lang)
        if name not in _REGISTRY:
            raise InvalidOption(
                f"Unknown engine {name!r}; choose one of: auto, {', '.join(self.available())}."
            )
        if name in _MODEL_ENGINES and not self.settings.llm_model:  # the client can choose another
            local = ", ".join(sorted(set(_REGISTRY) - _MODEL_ENGINES))
            raise InvalidOption(
                f"The engine {name} needs a {'' if name == 'llm-text' else 'vision '}model, and this server "
                "has none (LECTOR_LLM_MODEL); "
                f"choose auto, {local}."
            )
        if name in _VISION_ENGINES and not self.settings.llm_vision:
            raise InvalidOption(
                f"The configured model ({self.settings.llm_model}) cannot see images "
                "(LECTOR_LLM_VISION=no): use engine llm-text, or an OCR engine."
            )
        return name

    @staticmethod
    def ocr_engine(document_type_code: str = "text", lang: str = "eng") -> str:
        """The OCR engine that reads a document of that type and language without a model: the
        type's engine in prompts/engines.json for English, and Tesseract for the other
        languages (ppocr's bundled model reads English and Chinese, and ignores ``lang``).
        For ``auto``, the English one: it reads each page first, and Tesseract again the pages
        in another language (``in_page_language``). ``llm-text`` reads its pages with it too."""
        return auto_engine_of(document_type_code) if lang in ("eng", AUTO_LANGUAGE) else "tesseract"

    def in_page_language(self, engine: Engine) -> Engine:
        """``engine`` reading each page in the language detected on it (``lang=auto``), with
        Tesseract reading again the pages in another language than English."""
        from service.engines.detected import DetectedLanguage
        from service.engines.tesseract import TesseractEngine

        tesseract = self.get("tesseract")
        assert isinstance(tesseract, TesseractEngine)
        return DetectedLanguage(engine, tesseract)

    def local_auto_engines(self) -> set[str]:
        """The engines ``auto`` picks without a vision model (prompts/engines.json)."""
        if self.settings.llm_model and self.settings.llm_vision:
            return set()
        return {kind.auto_engine for kind in document_types().values()}

    def uses_model(self, name: str, document_type_code: str = "text") -> bool:
        """Whether engine ``name`` (``auto`` allowed) calls the model for a document of that
        type (``auto``: it may be typed). ``llm-text`` reads plain text with its OCR engine
        alone: the model has no fields to find."""
        resolved = self.resolve(name, document_type_code)
        return resolved in _MODEL_ENGINES and not (resolved == "llm-text" and document_type_code == "text")

    def check(self, name: str, document_type_code: str, options: ReadOptions) -> None:
        """Refuse (InvalidOption) what engine ``name`` (``auto`` allowed, for a document of that
        type) would refuse about ``options`` before reading, without building the engine."""
        resolved = self.resolve(name, document_type_code, options.lang)
        if resolved == "llm-text":  # its OCR engine reads the pages
            _class_of(self.ocr_engine(document_type_code, options.lang)).check(options)
        if AUTO_LANGUAGE in options.lang.split("+"):
            _class_of("tesseract").check(options)  # it detects, and reads pages in other languages
        _class_of(resolved).check(options)

    def get(self, name: str, document_type_code: str = "text", lang: str = "eng") -> Engine:
        """The process-wide instance of engine ``name`` (``auto`` allowed, for a document of
        that type and language)."""
        name = self.resolve(name, document_type_code, lang)
        with self._lock:
            if name not in self._instances:
                # Built as ``Class(settings)`` (the module docstring), which the Protocol cannot say.
                engine_class: Any = _class_of(name)
                self._instances[name] = engine_class(self.settings)
            return self._instances[name]

    def pool(self, engine: Engine) -> ThreadPoolExecutor:
        """The thread pool that runs ``engine``'s pages in this process."""
        with self._lock:
            if engine.name not in self._pools:
                self._pools[engine.name] = ThreadPoolExecutor(
                    engine.concurrency, thread_name_prefix=f"lector-{engine.name}"
                )
            return self._pools[engine.name]

    def after_fork(self) -> None:
        """In a forked child (an RQ work horse): the pools' threads did not come along."""
        self._pools = {}
        self._lock = threading.Lock()


def _class_of(name: str) -> type[Engine]:
    """The class of registered engine ``name``, imported (importing one builds nothing)."""
    module_name, class_name = _REGISTRY[name].split(":")
    engine_class: type[Engine] = getattr(importlib.import_module(module_name), class_name)
    return engine_class
