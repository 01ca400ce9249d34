"""The Docutray dialect, at Lector's root: ``/api/convert-async`` and its status,
``/api/convert``, ``/api/identify`` (and ``-async``), ``/api/document-types``.

A translation layer only: each route reads Docutray's bodies and answers Docutray's shapes
over the one job, tenant and conversion model below it. Docutray's SDK (``docutray`` on
PyPI) works against Lector with ``base_url`` set to Lector's address.
"""

from service.api.dialects.docutray.convert import ConversionsController
from service.api.dialects.docutray.identify import IdentifyController
from service.api.dialects.docutray.types import DocumentTypesController

#: Every controller of the dialect, for the app.
CONTROLLERS = (ConversionsController, IdentifyController, DocumentTypesController)
