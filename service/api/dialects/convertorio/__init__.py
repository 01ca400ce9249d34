"""The Convertorio dialect, under ``/v1``: upload URL, upload, confirm, jobs and account.

A translation layer only (``wire`` for its shapes and errors, ``routes`` for its routes) over
the one job, tenant and conversion model. Convertorio's SDK (``convertorio-sdk`` on PyPI)
works against Lector with ``base_url`` set to Lector's address.
"""

from service.api.dialects.convertorio.routes import ConvertorioController

#: Every controller of the dialect, for the app.
CONTROLLERS = (ConvertorioController,)
