"""What every Lector process does once when it starts: the API, a worker, ``lector ocr``.

Process-wide behaviour is set here, not when a module is imported: the decoders' warnings
and messages (``service.pages``), a private temporary directory (``service.workspace``), the metrics
(``service.metrics``), and the engine registry built from the settings.
"""

from __future__ import annotations

from service.engines import Engines
from service.metrics import configure_metrics
from service.pages import configure_decoders
from service.settings import Settings
from service.workspace import use_private_tempdir


def prepare_process(settings: Settings) -> Engines:
    """Configure this process for Lector and return its engine registry."""
    configure_decoders()
    use_private_tempdir()
    configure_metrics(settings)
    return Engines(settings)
