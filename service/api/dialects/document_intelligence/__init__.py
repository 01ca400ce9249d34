"""The Azure AI Document Intelligence dialect (REST 2024-11-30, v4.0), under
``/documentintelligence``: ``documentModels/{modelId}:analyze``, its ``analyzeResults``, and
the models (``prebuilt-read``, ``prebuilt-layout``, ``prebuilt-receipt``, ``prebuilt-invoice``
and a key's own document types as custom models).

A translation layer only: the analyze request is submitted through the one lifecycle, and a
finished extraction is answered as Azure's ``analyzeResult`` (``result``), its content and
spans written from ``service.structure``. Azure's SDK (``azure-ai-documentintelligence``) works
against Lector with only the endpoint changed, the key in ``Ocp-Apim-Subscription-Key``.
"""

from service.api.dialects.document_intelligence.routes import DocumentIntelligenceController

#: Every controller of the dialect, for the app.
CONTROLLERS = (DocumentIntelligenceController,)
