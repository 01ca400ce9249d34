"""Barcodes and 2D codes on a page, read by zxing-cpp.

``read_barcodes(image, scale)`` finds the codes in a page's raster and answers at most
MAX_BARCODES of them, each boxed in the page's pixels (the words' pixels). The raster is read
at no more than READ_PIXELS: a 300 dpi A4 page is halved first, which keeps a code's modules
two pixels wide or more at printed sizes and cuts zxing's time on the page about fourfold.
zxing has no bound of its own on the codes it decodes, so the work on a page of hundreds of
codes is bounded by those pixels, and the answer by MAX_BARCODES.
"""

from __future__ import annotations

import math

import zxingcpp
from PIL import Image

from service.models import MAX_BARCODES, Barcode

#: The resolution a PDF page that gave its own text is drawn at to look for codes on it: what a
#: 300 dpi raster is read at (READ_PIXELS).
CODE_DPI = 150
#: The most pixels a raster is read at: an A4 page at about 215 dpi (a 300 dpi one is read at 150).
READ_PIXELS = 4_500_000


def read_barcodes(image: Image.Image, scale: float = 1.0) -> list[Barcode]:
    """The codes in ``image``, top to bottom, at most MAX_BARCODES; ``scale`` turns the image's
    pixels into the page's (a page drawn at another resolution than its words')."""
    factor = max(1, math.ceil(math.sqrt(image.width * image.height / READ_PIXELS)))
    small = image.reduce(factor) if factor > 1 else image
    # Light-on-dark codes are rare on paper, and looking for them costs a third more.
    found = zxingcpp.read_barcodes(small.convert("L"), try_invert=False)
    codes = []
    for code in found:
        position = code.position
        corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
        xs, ys = [corner.x for corner in corners], [corner.y for corner in corners]
        box = [
            _within(min(xs) * factor * scale, image.width * scale),
            _within(min(ys) * factor * scale, image.height * scale),
            _within((max(xs) + 1) * factor * scale, image.width * scale),
            _within((max(ys) + 1) * factor * scale, image.height * scale),
        ]
        codes.append(Barcode(format=code.format.name, text=code.text, box=box))
    codes.sort(key=lambda code: (code.box[1], code.box[0]))
    return codes[:MAX_BARCODES]


def _within(value: float, limit: float) -> int:
    return max(0, min(round(value), round(limit)))
