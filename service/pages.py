"""Bytes in, normalized pages out.

The document type is sniffed from magic bytes (never from a filename or a declared content
type), then each selected page comes out one at a time, so a long document never sits in
memory as a whole:

- an image page is decoded by Pillow (restricted to the sniffed format, with a pixel cap
  checked from the header before any pixel is allocated), turned upright by its EXIF
  orientation, and flattened to grayscale or RGB;
- a PDF page either hands over its own text layer (no OCR needed) or is rendered by PyMuPDF
  at the OCR resolution, with the same pixel cap;
- an SVG or an EPS is drawn (``service.vector``), reaching nothing outside its own bytes.
"""

from __future__ import annotations

import io
import math
import os
import re
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import pymupdf
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from service.containers import container_format
from service.convert.formats import INPUTS, Family, family
from service.errors import (
    CorruptDocument,
    DecompressionBomb,
    EncryptedDocument,
    InvalidOption,
    TooLarge,
    TooManyPages,
    UnsupportedFormat,
)

#: Formats Lector reads, by the name Pillow gives them (PDF aside). HEIF comes from pillow-heif.
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "HEIF", "AVIF", "ICO", "PSD")
#: Drawings, which ``service.vector`` draws into pages.
VECTOR_FORMATS = ("SVG", "EPS")
FORMATS = (*IMAGE_FORMATS, *VECTOR_FORMATS, "PDF")

#: The largest page, in pixels, that is decoded or rendered (Pillow's own default limit).
MAX_PAGE_PIXELS = 89_478_485

#: Most frames an animation (GIF, WEBP, AVIF) may have; only its first is read, but counting
#: and seeking them is work a hostile file could make unbounded.
MAX_FRAMES = 500

#: Most comma-separated parts one page selection may have.
MAX_RANGES = 200

#: Most pages one request may select when the caller names no limit (LECTOR_MAX_PAGES's
#: ceiling): a TIFF's pages are counted up to one more than the limit.
MAX_PAGES = 100_000
#: How much of a document its format is told from.
HEAD_BYTES = 4096

#: A document: its bytes, or a file that holds them (a large upload, a job's download), which a
#: PDF is read from page by page; an image is read whole either way.
Source = bytes | Path


def configure_decoders() -> None:
    """Process start-up: make the decoders' process-wide behaviour Lector's.

    Pillow only *warns* between 1x and 2x its pixel limit and raises above 2x; Lector refuses
    everything above it, so the warning becomes an error (the pixel check after opening
    refuses such an image either way; this keeps the warning off stderr). MuPDF prints
    repair notices for damaged PDFs to stderr, which would break JSON log lines.
    """
    warnings.simplefilter("error", Image.DecompressionBombWarning)
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)


_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS\x00\x01", "PSD"),  # version 1; 2 is a large document (PSB), which Pillow does not read
    (b"\xc5\xd0\xd3\xc6", "EPS"),  # the DOS EPS binary header
)
#: An EPS's first line: ``%!PS-Adobe-3.0 EPSF-3.0``.
_EPS = re.compile(rb"^%!PS-Adobe-[0-9.]+[ \t]+EPSF-[0-9.]+")
#: An SVG: its root element first, or after an XML declaration, comments or a DOCTYPE.
_SVG = re.compile(rb"^(\xef\xbb\xbf)?\s*(<svg[\s>/]|<(\?xml|!--|!doctype)[\s\S]*?<svg[\s>/])", re.IGNORECASE)
#: ISO base media brands (bytes 8-12, after "ftyp") of the image formats Lector reads.
_FTYP_BRANDS = {b"heic": "HEIF", b"heix": "HEIF", b"mif1": "HEIF", b"msf1": "HEIF", b"avif": "AVIF"}

_OTHER_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (DOCX, XLSX and ODT files are ZIP archives)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0", "a legacy Microsoft Office file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xff\x4f\xff\x51", "a JPEG 2000 codestream"),
    (b"II+\x00", "a BigTIFF image"),
    (b"8BPS", "a Photoshop large document (PSB)"),
    (b"%!PS", "a PostScript file"),
)


def _supported() -> str:
    """The sentence that lists what Lector reads, by family."""
    names = {kind: [sniffed for sniffed, name in INPUTS.items() if family(name) is kind] for kind in Family}
    pages = [name for name in names[Family.PAGES] if name != "PDF"]
    return (
        f"Send an image or drawing ({', '.join(pages)}), a PDF, an office document "
        f"({', '.join(names[Family.OFFICE])}), audio ({', '.join(names[Family.AUDIO])}) "
        f"or video ({', '.join(names[Family.VIDEO])})."
    )


_SUPPORTED = _supported()


def head_of(source: Source) -> bytes:
    """The first HEAD_BYTES of a document."""
    if isinstance(source, Path):
        with source.open("rb") as file:
            return file.read(HEAD_BYTES)
    return source[:HEAD_BYTES]


def for_another_process(path: Path) -> Path:
    """``path`` as another process (ffmpeg, LibreOffice) opens the same file: a large upload is
    ``/proc/self/fd/N``, which names this process's descriptor, so it becomes ``/proc/<pid>/fd/N``."""
    if path.parts[:3] == ("/", "proc", "self"):
        return Path("/proc", str(os.getpid()), *path.parts[3:])
    return path


def as_file(source: Source, work: Path) -> Path:
    """``source`` as a file another process can open: a file is handed over as it is (see
    ``for_another_process``), bytes are written to ``work``/document."""
    if isinstance(source, Path):
        return for_another_process(source)
    path = work / "document"
    path.write_bytes(source)
    return path


def size_of(source: Source) -> int:
    """A document's size in bytes."""
    return source.stat().st_size if isinstance(source, Path) else len(source)


def sniff(source: Source) -> str:
    """Name the format of a document from its first bytes, or raise UnsupportedFormat."""
    data = head_of(source)
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[4:8] == b"ftyp" and data[8:12] in _FTYP_BRANDS:
        return _FTYP_BRANDS[data[8:12]]
    if _EPS.match(data):
        return "EPS"
    if _SVG.match(data):
        return "SVG"
    # PDF readers accept a header anywhere in the first kilobyte; so does Lector.
    if b"%PDF-" in data[:1024]:
        return "PDF"
    if container := container_format(data, source):
        return container
    raise UnsupportedFormat(f"Unsupported format: the document looks like {_describe(data)}. {_SUPPORTED}")


def _describe(data: bytes) -> str:
    """A short human name for bytes that are no supported format."""
    if not data:
        return "an empty file"
    for magic, name in _OTHER_SIGNATURES:
        if data.startswith(magic):
            return name
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in (b"hevc", b"avis"):
            return "an image sequence (HEIC or AVIF)"
        return "an MP4 or QuickTime file"
    head = data[:512]
    try:
        text = head.decode("utf-8").lstrip().lower()
    except UnicodeDecodeError:
        return "unrecognised binary data"
    if text.startswith("#extm3u"):
        return "a media playlist (M3U or HLS), which Lector does not follow"
    if text.startswith(("ffconcat", "file ")):
        return "an ffmpeg concat list, which Lector does not follow"
    if text.startswith("<?xml"):
        return "an XML document"
    if text.startswith(("<!doctype html", "<html")):
        return "an HTML page"
    return "plain text"


_RANGE = re.compile(r"^\s*(\d{1,9})\s*(?:(-)\s*(\d{0,9})\s*)?$")


def select_pages(spec: str | None, page_count: int, limit: int, *, uncounted: bool = False) -> list[int]:
    """Turn a selection such as ``"1-3,5"`` or ``"2-"`` into sorted 1-based page numbers.

    ``None`` or an empty string selects every page. The work is bounded by ``limit`` and
    ``MAX_RANGES``, never by what the selection asks for: the ranges are merged and counted
    before any page number is listed. ``uncounted`` says more pages follow the ``page_count``
    counted (``Document.uncounted``): a selection may not reach past them. Raises InvalidOption
    for malformed selections and for pages the document does not have, and TooManyPages when
    more than ``limit`` are selected.
    """
    if spec is None or not spec.strip():
        if uncounted:
            raise TooManyPages(page_count, limit, more=True)
        intervals = [(1, page_count)]
    else:
        parts = spec.split(",", MAX_RANGES)
        if len(parts) > MAX_RANGES:
            raise InvalidOption(
                f"Invalid page selection: at most {MAX_RANGES} pages or ranges, separated by commas."
            )
        intervals = [_interval(part, page_count, uncounted) for part in parts]
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    count = sum(end - start + 1 for start, end in merged)
    if count > limit:
        raise TooManyPages(count, limit)
    return [number for start, end in merged for number in range(start, end + 1)]


def _interval(part: str, page_count: int, uncounted: bool) -> tuple[int, int]:
    """One part of a selection as (first, last); the message quotes at most a few characters."""
    shown = part.strip()[:20]
    match = _RANGE.match(part)
    if not match:
        raise InvalidOption(
            f"Invalid page selection near {shown!r}: use page numbers and ranges such as 1-3,5 or 2-."
        )
    start = int(match.group(1))
    open_end = bool(match.group(2)) and not match.group(3)
    end = start if not match.group(2) else int(match.group(3) or page_count)
    if start < 1 or end < start:
        raise InvalidOption(f"Invalid page range {shown!r}: pages count from 1, start before end.")
    if uncounted and (open_end or end > page_count):
        raise InvalidOption(
            f"Invalid page selection near {shown!r}: the document has more than {page_count} pages, "
            f"and Lector counts only those; select pages among them, ending each range with a number."
        )
    if end > page_count:
        raise InvalidOption(f"Page {end} does not exist: the document has {page_count} pages.")
    return start, end


@dataclass(slots=True)
class Page:
    """One normalized page: a raster to OCR, or the words of its own text layer."""

    number: int
    width: int
    height: int
    image: Image.Image | None = None
    dpi: int | None = None
    text: str = ""
    words: list[tuple[str, list[int]]] = field(default_factory=list)
    #: The file as received, when ``image`` is exactly its pixels (decoded from it, untouched)
    #: and Tesseract reads its format: an engine may hand over the file rather than the pixels.
    original: bytes | None = None

    @property
    def has_text_layer(self) -> bool:
        """True when the page's text came from the document itself, not from a raster."""
        return self.image is None


class Document:
    """An opened document: its format, its page count, and a lazy stream of pages."""

    format: str
    page_count: int
    #: True when more pages follow ``page_count`` that were not counted (a TIFF longer than
    #: the page limit: counting its pages is walking a chain, so Lector stops past the limit).
    uncounted: bool = False

    def select(self, spec: str | None, limit: int) -> list[int]:
        """The page numbers ``spec`` selects, as ``select_pages`` says, for this document."""
        return select_pages(spec, self.page_count, limit, uncounted=self.uncounted)

    def pages(
        self, numbers: list[int], *, dpi: int, force_ocr: bool = False, colour: bool = False
    ) -> Iterator[Page]:
        """Yield the selected pages, normalized, one at a time: for OCR (grayscale or RGB on
        white), or with ``colour`` for conversion (RGB, or RGBA where there is transparency;
        PDF pages always rendered)."""
        raise NotImplementedError

    def code_raster(self, number: int, dpi: int) -> Image.Image | None:
        """Page ``number``, which gave its own text layer, drawn at ``dpi`` only to look for
        barcodes on it; None when it draws nothing a code could be. Only a PDF has such pages."""
        return None

    def close(self) -> None:
        """Release the decoder's resources."""

    def __enter__(self) -> Document:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_document(
    source: Source, *, password: str | None = None, sniffed: str | None = None, max_pages: int = MAX_PAGES
) -> Document:
    """Open ``source`` as a document of the format ``sniffed`` from it (sniffed now when not
    given), or raise a clear InputError. ``max_pages`` is the most pages any request may
    select (LECTOR_MAX_PAGES): a TIFF's pages are counted up to one more, and the document
    says when more follow (``Document.uncounted``)."""
    kind = sniffed or sniff(source)
    if kind == "PDF":
        return PdfDocument(source, password=password)
    if family(INPUTS[kind]) is not Family.PAGES:  # read through ffmpeg or LibreOffice instead
        raise UnsupportedFormat(f"A {INPUTS[kind]} document has no pages of its own to open.")
    data = source.read_bytes() if isinstance(source, Path) else source
    if kind in VECTOR_FORMATS:
        from service.vector import open_vector  # it builds on this module's documents

        return open_vector(data, kind)
    return ImageDocument(data, kind, max_pages=max_pages)


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_PAGE_PIXELS:
        raise DecompressionBomb(
            f"The image declares {width}x{height} pixels, over the limit of "
            f"{MAX_PAGE_PIXELS // 1_000_000} megapixels per page; it may be a decompression bomb."
        )


#: Formats a page may keep as received (``Page.original``): those Leptonica, and so Tesseract,
#: decodes as Pillow does.
AS_STORED = frozenset({"JPEG", "PNG"})


class ImageDocument(Document):
    """A raster image; a TIFF may hold several pages."""

    def __init__(self, data: bytes, kind: str, *, max_pages: int = MAX_PAGES) -> None:
        self.format = kind
        self._data = data
        self._image = open_image(data, kind)
        _check_pixels(*self._image.size)
        # Animated GIF and WEBP frames are not pages; only TIFF pages count.
        if kind == "TIFF":
            self.page_count, self.uncounted = _tiff_pages(data, max_pages + 1)
        else:
            self.page_count = 1
        self._handed_over = False

    def pages(
        self, numbers: list[int], *, dpi: int, force_ocr: bool = False, colour: bool = False
    ) -> Iterator[Page]:
        """Yield each selected frame, upright, flattened to grayscale or RGB (or in colour)."""
        for number in numbers:
            try:
                if self.page_count > 1:  # one page is the frame it opened at (a PSD's has no 0)
                    self._image.seek(number - 1)
                _check_pixels(*self._image.size)
                self._image.load()
                if self.page_count == 1 and _upright(self._image):
                    # The page is the image itself: no copy of its pixels (81 MB for a large scan).
                    upright, self._handed_over = self._image, True
                else:
                    upright = ImageOps.exif_transpose(self._image)
                image = _colour(upright) if colour else _flatten(upright)
                untouched = image is self._image and self.format in AS_STORED
            except (OSError, SyntaxError, ValueError, EOFError):
                where = (
                    f"Page {number} of the {self.format} image"
                    if self.page_count > 1
                    else f"The {self.format} image"
                )
                raise CorruptDocument(f"{where} is corrupt or truncated.") from None
            yield Page(
                number=number,
                width=image.width,
                height=image.height,
                image=image,
                dpi=_image_dpi(image),
                original=self._data if untouched else None,
            )

    def close(self) -> None:
        """Close the Pillow image, unless a page holds it."""
        if not self._handed_over:
            self._image.close()


def _tiff_pages(data: bytes, bound: int) -> tuple[int, bool]:
    """How many pages the TIFF ``data`` has, up to ``bound``, and whether more follow.

    A TIFF's pages are a chain of directories, each naming where the next one starts. Pillow
    counts them in time quadratic in their number (25 s for 50,000 one-pixel pages); this
    walks the chain itself, at most ``bound`` links. Pillow has read the header and the first
    directory already, so the header is known to be sound.
    """
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(f"{order}I", data, 4)
    seen: set[int] = set()
    count = 0
    while offset and count < bound:
        if offset in seen:
            raise CorruptDocument(f"The TIFF image is corrupt: its page {count + 1} is one it already had.")
        seen.add(offset)
        try:
            (entries,) = struct.unpack_from(f"{order}H", data, offset)
            (offset,) = struct.unpack_from(f"{order}I", data, offset + 2 + 12 * entries)
        except struct.error:
            raise CorruptDocument(f"Page {count + 1} of the TIFF image is corrupt or truncated.") from None
        count += 1
    return count, offset != 0


def open_image(data: bytes, kind: str) -> Image.Image:
    """Open ``data`` as a ``kind`` image (lazily: pixels are decoded on load), refusing a
    decompression bomb, a corrupt file and an animation of more than MAX_FRAMES frames."""
    if kind == "HEIF":
        from pillow_heif import register_heif_opener  # only the HEIC inputs pay for its import

        register_heif_opener()
    try:
        image = Image.open(io.BytesIO(data), formats=[kind])
        # A TIFF's pages are counted apart; a PSD's frames are its layers, of which the
        # composite it opened at is made.
        frames = getattr(image, "n_frames", 1) if kind not in ("TIFF", "PSD") else 1
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DecompressionBomb(
            f"The {kind} image declares more than {MAX_PAGE_PIXELS // 1_000_000} megapixels; "
            "it may be a decompression bomb."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise CorruptDocument(f"The {kind} image is corrupt and cannot be read.") from None
    if frames > MAX_FRAMES:
        raise TooLarge(f"The {kind} animation has {frames} frames; Lector reads at most {MAX_FRAMES}.")
    return image


def _upright(image: Image.Image) -> bool:
    """Whether the image's EXIF says it is stored the right way up (or says nothing)."""
    return image.getexif().get(ExifTags.Base.Orientation, 1) in (0, 1)


def _flatten(image: Image.Image) -> Image.Image:
    """Return ``image`` as 8-bit grayscale or RGB, transparency composited on white."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit and float scans: scale to 8 bits rather than clipping everything to white.
        low, high = cast(tuple[float, float], image.getextrema())
        span = (high - low) or 1
        return image.convert("F").point(lambda v: (v - low) * 255.0 / span).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _colour(image: Image.Image) -> Image.Image:
    """``image`` as RGB, or RGBA when it has transparency (grayscale stays L): for conversion."""
    if image.mode in ("L", "RGB", "RGBA"):
        return image
    if image.mode in ("LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if image.mode == "1" or image.mode.startswith("I") or image.mode == "F":
        return _flatten(image)
    return image.convert("RGB")


def _image_dpi(image: Image.Image) -> int | None:
    """The resolution recorded in the image, when it is plausible."""
    dpi = image.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else None
    except (TypeError, ValueError, IndexError):
        return None
    return value if value and 50 <= value <= 2400 else None


#: What PyMuPDF raises for a damaged PDF: its own errors (not all of them RuntimeErrors),
#: and IndexError or ValueError where a page the tree declares is missing.
_PDF_ERRORS = (RuntimeError, ValueError, IndexError, pymupdf.mupdf.FzErrorBase)


class PdfDocument(Document):
    """A PDF: pages with a usable text layer give their text, the others are rendered."""

    format = "PDF"

    def __init__(self, source: Source, *, password: str | None = None) -> None:
        try:
            self._pdf = open_pdf(source)
        except _PDF_ERRORS:
            raise CorruptDocument("The PDF is corrupt and cannot be opened.") from None
        if self._pdf.needs_pass:
            if not password:
                self._pdf.close()
                raise EncryptedDocument("The PDF is encrypted; send its password in the `password` field.")
            if not self._pdf.authenticate(password):
                self._pdf.close()
                raise EncryptedDocument("The password given for the encrypted PDF is wrong.")
        try:
            self.page_count = _checked_page_count(self._pdf)
        except CorruptDocument:
            self._pdf.close()
            raise
        if self.page_count == 0:
            self._pdf.close()
            raise CorruptDocument("The PDF has no pages.")

    def pages(
        self, numbers: list[int], *, dpi: int, force_ocr: bool = False, colour: bool = False
    ) -> Iterator[Page]:
        """Yield each selected page, from its text layer when usable, else rendered (always
        rendered, in RGB, with ``colour``)."""
        for number in numbers:
            try:
                page = self._pdf[number - 1]
                scale = dpi / 72
                width, height = round(page.rect.width * scale), round(page.rect.height * scale)
                layer = None if force_ocr or colour else _usable_text_layer(page, scale)
                if layer is not None:
                    text, words = layer
                    yield Page(number=number, width=width, height=height, text=text, words=words)
                    continue
                render_dpi = _capped_dpi(page.rect, dpi)
                space, mode = (pymupdf.csRGB, "RGB") if colour else (pymupdf.csGRAY, "L")
                pixmap = page.get_pixmap(dpi=render_dpi, colorspace=space, alpha=False)
                image = Image.frombytes(mode, (pixmap.width, pixmap.height), pixmap.samples)
            except _PDF_ERRORS:
                raise CorruptDocument(
                    f"Page {number} of the {self.format} is corrupt and cannot be read."
                ) from None
            del pixmap  # the raster now lives in `image`; don't hold both while the consumer works
            yield Page(number=number, width=image.width, height=image.height, image=image, dpi=render_dpi)

    def code_raster(self, number: int, dpi: int) -> Image.Image | None:
        """Page ``number`` drawn in grayscale at ``dpi`` when it shows an image or vector
        graphics, where a code is drawn (as a picture, or as bars and squares); a page of text
        alone is not drawn. A damaged page gives None: its text was read, and codes are extra."""
        try:
            page = self._pdf[number - 1]
            if not page.get_images() and not page.get_cdrawings():
                return None
            pixmap = page.get_pixmap(dpi=_capped_dpi(page.rect, dpi), colorspace=pymupdf.csGRAY, alpha=False)
            return Image.frombytes("L", (pixmap.width, pixmap.height), pixmap.samples)
        except _PDF_ERRORS:
            return None

    def close(self) -> None:
        """Close the PyMuPDF document."""
        self._pdf.close()


def open_pdf(source: Source) -> pymupdf.Document:
    """A PDF opened from its bytes, or from its file (MuPDF then reads what a page needs)."""
    if isinstance(source, Path):
        return pymupdf.open(source, filetype="pdf")
    return pymupdf.open(stream=source, filetype="pdf")


def _checked_page_count(pdf: pymupdf.Document) -> int:
    """The number of pages, once every one of them has been found in the page tree.

    The page tree's ``/Count`` is the file's word: MuPDF refuses one larger than the file's
    objects could hold, and a smaller lie or a tree that loops on itself only shows when a page
    is looked up. Looking each page up now (microseconds a page, bounded by the objects MuPDF
    already parsed) refuses such a file before any page is read, rather than after the first
    pages cost their OCR.
    """
    try:
        count = int(pdf.page_count)
    except _PDF_ERRORS:
        raise CorruptDocument(
            "The PDF is malformed: its page tree declares a page count the file cannot hold."
        ) from None
    for index in range(count):
        try:
            pdf.page_xref(index)
        except _PDF_ERRORS as exc:
            if "cycle" in str(exc):
                raise CorruptDocument("The PDF is malformed: its page tree loops on itself.") from None
            raise CorruptDocument(
                f"The PDF is malformed: its page tree declares {count} pages but holds {index}."
            ) from None
    return count


def _capped_dpi(rect: pymupdf.Rect, dpi: int) -> int:
    """``dpi``, lowered just enough that the rendered page stays under the pixel cap."""
    pixels = rect.width * rect.height * (dpi / 72) ** 2
    if pixels <= MAX_PAGE_PIXELS:
        return dpi
    return max(1, math.floor(dpi * math.sqrt(MAX_PAGE_PIXELS / pixels)))


# Replacement characters and control codes: what a text layer with a broken font map yields.
_GARBAGE = re.compile(r"[\ufffd\x00-\x08\x0e-\x1f]")

#: Under this many words, a page mostly covered by images is taken for a scan with a stamp.
_FEW_WORDS = 30


def _usable_text_layer(page: pymupdf.Page, scale: float) -> tuple[str, list[tuple[str, list[int]]]] | None:
    """The page's text and word boxes (in rendered pixels) when its text layer can be trusted."""
    textpage = page.get_textpage()
    raw_words = page.get_text("words", textpage=textpage)
    if not raw_words:
        return None
    text = textpage.extractText()
    visible = sum(len(word[4]) for word in raw_words)
    if visible < 3 or len(_GARBAGE.findall(text)) > 0.1 * visible:
        return None
    if len(raw_words) < _FEW_WORDS and _image_coverage(page) > 0.5:
        return None
    words = [
        (
            word[4],
            [round(word[0] * scale), round(word[1] * scale), round(word[2] * scale), round(word[3] * scale)],
        )
        for word in raw_words
    ]
    return text.strip(), words


def _image_coverage(page: pymupdf.Page) -> float:
    """The share of the page covered by images (overlaps counted twice, capped at 1)."""
    area = abs(page.rect) or 1.0
    covered = sum(abs(pymupdf.Rect(info["bbox"]) & page.rect) for info in page.get_image_info())
    return min(float(covered) / float(area), 1.0)
