"""The ImageToTextConverter dialect, under ``/api/ocr``: a document's text answered at once,
from a base64 image (``extract-text``) or an uploaded file (``extract-text-from-file``)."""

from service.api.dialects.image_to_text.routes import OcrController

#: Every controller of the dialect, for the app.
CONTROLLERS = (OcrController,)
