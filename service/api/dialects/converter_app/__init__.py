"""The Converter App dialect, at the root paths: ``/public/pairs``, ``/pairs``,
``/convert/sync``, ``/convert``, ``/progress/{jobid}`` and ``/download/{jobid}``.

Pairs are named as Converter App names them (``png2jpg``, ``ocr`` for Lector's ``txt``);
errors are ``{"detail"}``.
"""

from service.api.dialects.converter_app.routes import ConverterAppController, PublicPairsController

#: Every controller of the dialect, for the app.
CONTROLLERS = (PublicPairsController, ConverterAppController)
