"""The Docutray dialect, at Lector's root: ``/api/convert-async``, ``/api/convert``,
``/api/identify`` (and ``-async`` with its status), ``/api/document-types``.

A translation layer only: each route reads Docutray's bodies and answers Docutray's shapes
over the lifecycle, the job layer and the tenants. A queued conversion's status is Lector's
own route (``service.api.status``), whose document Docutray's clients read as theirs.
Docutray's SDK (``docutray`` on PyPI) works against Lector with ``base_url`` set to Lector's
address.
"""

from service.api.dialects.docutray.convert import ConversionsController
from service.api.dialects.docutray.identify import IdentifyController
from service.api.dialects.docutray.types import DocumentTypesController

#: Every controller of the dialect, for the app.
CONTROLLERS = (ConversionsController, IdentifyController, DocumentTypesController)
