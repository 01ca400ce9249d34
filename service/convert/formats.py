"""The conversion catalogue: what Lector reads, what it writes, and every pair between them.

Each fact is here once; ``GET /api/formats``, the key scopes' pair names, the OpenAPI,
``lector convert``, the unsupported-format sentence (``service.pages``) and the README's
input-formats table derive from these tables.
"""

from __future__ import annotations

from typing import Literal, get_args

ImageTarget = Literal["jpg", "png", "webp", "gif", "bmp", "tiff", "ico", "pdf", "avif", "heic"]
TextTarget = Literal["txt", "json", "md", "hocr"]
TargetFormat = Literal[ImageTarget, TextTarget]

IMAGE_TARGETS: tuple[str, ...] = get_args(ImageTarget)
TEXT_TARGETS: tuple[str, ...] = get_args(TextTarget)
TARGETS: tuple[str, ...] = (*IMAGE_TARGETS, *TEXT_TARGETS)

#: Input formats by the name ``service.pages.sniff`` gives them, and their catalogue names.
INPUTS: dict[str, str] = {
    "PNG": "png",
    "JPEG": "jpg",
    "GIF": "gif",
    "BMP": "bmp",
    "WEBP": "webp",
    "TIFF": "tiff",
    "PDF": "pdf",
    "HEIF": "heic",
    "AVIF": "avif",
    "ICO": "ico",
}

#: Other spellings clients use for the catalogue's names.
SPELLINGS: dict[str, str] = {"jpeg": "jpg", "tif": "tiff", "heif": "heic"}

#: The catalogue's input names, in the order of INPUTS.
INPUT_NAMES: tuple[str, ...] = tuple(INPUTS.values())

#: Pillow's writer for each image target.
PIL_WRITERS: dict[str, str] = {
    "jpg": "JPEG",
    "png": "PNG",
    "webp": "WEBP",
    "gif": "GIF",
    "bmp": "BMP",
    "tiff": "TIFF",
    "ico": "ICO",
    "pdf": "PDF",
    "avif": "AVIF",
    "heic": "HEIF",
}
#: Targets that hold several pages in one file; the others give one file per page.
MULTI_PAGE = frozenset({"tiff", "pdf", "txt", "json", "md", "hocr"})
#: Targets that keep transparency (padding is transparent there, white elsewhere).
WITH_ALPHA = frozenset({"png", "webp", "gif", "tiff", "ico", "avif", "heic"})
#: Targets a quality setting applies to.
WITH_QUALITY = frozenset({"jpg", "webp", "avif", "heic"})
#: The most megapixels one page may have in the targets whose encoders hold many times the
#: page's pixels. Measured on one greyscale page, the encoder's peak memory grows by about
#: 10 MB (WebP), 20 MB (AVIF) and 12 MB (HEIC) per megapixel, and HEIC spends seconds of CPU
#: on each; an 80-megapixel page took 0.8 to 1.6 GB. The caps keep one encode near 300 MB,
#: and still take a 16-megapixel photo.
ENCODER_MEGAPIXELS: dict[str, int] = {"webp": 25, "avif": 16, "heic": 16}

MEDIA_TYPES: dict[str, str] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "ico": "image/vnd.microsoft.icon",
    "pdf": "application/pdf",
    "avif": "image/avif",
    "heic": "image/heic",
    "txt": "text/plain; charset=utf-8",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
    "hocr": "text/html; charset=utf-8",
    "zip": "application/zip",
}
#: The file name extension of each target (hOCR is HTML).
EXTENSIONS: dict[str, str] = {**{name: name for name in MEDIA_TYPES}, "hocr": "hocr.html"}


def input_name(sniffed: str) -> str:
    """The catalogue name of a sniffed input format."""
    return INPUTS[sniffed]


def pair(source: str, target: str) -> str:
    """A conversion pair's name, as key scopes write it: ``png-jpg``."""
    return f"{source}-{target}"


def pairs() -> list[str]:
    """Every pair Lector converts: any input to any target."""
    return [pair(source, target) for source in INPUT_NAMES for target in TARGETS]
