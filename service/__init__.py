"""Lector: a self-hosted OCR and document-extraction service.

The core (``pages``, ``engines``, ``extract``) imports no web framework and no Redis;
the HTTP API lives in ``service.api`` and the queue workers in ``service.worker``.
"""

__version__ = "0.1.0"
