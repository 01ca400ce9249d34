"""The hosted APIs' wire formats, one package each: their routes and their wire types.

A dialect only translates: it maps its requests onto the lifecycle (``service.lifecycle``) and
maps the result, the statuses and the errors back onto its wire. Its words (status names,
error names, field names) live in it. It imports the lifecycle, the job layer, tenants and
the API's shared modules (auth, bodies, payloads, submissions, responses, gate, queued,
downloads); never another dialect, nor Lector's own controllers. ``tests/unit/test_layering.py``
holds these rules.

- ``image_to_text``: ImageToTextConverter's synchronous OCR (``/api/ocr``);
- ``docutray``: Docutray's conversions, identification and document types (``/api``);
- ``convertorio``: Convertorio's upload URL, confirm, jobs and account (``/v1``);
- ``converter_app``: Converter App's pairs, conversions, progress and downloads (root paths);
- ``convertr``: Convertr's conversion, anonymous use, registrations and pair stats (``/convertr``);
- ``textract``: AWS Textract's JSON 1.1 operations, sync and asynchronous (``/textract``);
- ``document_intelligence``: Azure AI Document Intelligence's analyze, results and models
  (``/documentintelligence``).
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from service.api.dialects import (
    converter_app,
    convertorio,
    convertr,
    document_intelligence,
    docutray,
    image_to_text,
    textract,
)

#: Every dialect's controllers, as the application mounts them.
CONTROLLERS: list[ControllerRouterHandler] = [
    *image_to_text.CONTROLLERS,
    *docutray.CONTROLLERS,
    *convertorio.CONTROLLERS,
    *converter_app.CONTROLLERS,
    *convertr.CONTROLLERS,
    *textract.CONTROLLERS,
    *document_intelligence.CONTROLLERS,
]
