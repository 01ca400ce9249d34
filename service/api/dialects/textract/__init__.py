"""The AWS Textract dialect, under ``/textract``: the JSON 1.1 protocol boto3's ``textract``
client speaks, so ``boto3.client("textract", endpoint_url=".../textract")`` works unchanged.

A translation layer only: ``wire`` for Textract's shapes, ``errors`` for its error types,
``documents`` for ``Document.Bytes`` and ``S3Object``, ``blocks``, ``queries`` and
``expense`` for its answers (from ``service.structure`` and the typed fields), ``answers``
for each operation's answer, and ``routes`` for the one route and its operations.
"""

from service.api.dialects.textract.routes import TextractController

#: Every controller of the dialect, for the app.
CONTROLLERS = (TextractController,)
