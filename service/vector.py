"""Drawn documents as pages: SVG drawn by MuPDF, EPS by Ghostscript, neither reaching anything
outside the document's own bytes.

- An SVG is refused before it is parsed when it could reach outside itself: a DOCTYPE or an
  ENTITY declaration (external entities, entity expansion), or a reference (``href``,
  ``xlink:href``, a stylesheet's, ``url(...)``) that is neither a fragment of the document
  (``#id``) nor a ``data:`` URI. MuPDF then draws it from its bytes, never from a file, whose
  directory it would resolve relative references against. (MuPDF 1.26 leaves entities
  unexpanded and ignores external images anyway; the check keeps that true whatever a later
  MuPDF does.) It is then a one-page PDF-like document: its text elements are a text layer.
- An EPS is drawn by Ghostscript under ``-dSAFER`` (no file outside its own resources, no
  commands, no change of the output file), on a device of a fixed size made from its
  ``%%BoundingBox`` (``-g``, which also fixes the media: the file cannot ask for a larger
  page), one rendering thread, the first page only, within ``GS_TIMEOUT_S``, in a private
  temporary directory, with no input and an environment of ``PATH`` alone. PostScript has no
  network operators. The page then reads as a PNG image would.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pymupdf

from service.errors import CorruptDocument, DecompressionBomb, EngineUnavailable, UnsupportedFormat
from service.pages import MAX_PAGE_PIXELS, Document, ImageDocument, Page, PdfDocument

#: The longest Ghostscript may take to draw an EPS page (a PostScript loop would run forever).
GS_TIMEOUT_S = 60
#: The DOS EPS binary header: the PostScript section's offset and length follow it.
DOS_EPS = b"\xc5\xd0\xd3\xc6"

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
#: An attribute named href (any namespace prefix), and its value, quoted or not.
_HREF = re.compile(rb"""[\s"':]href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)
_URL = re.compile(rb"""url\(\s*["']?([^)"']*)""", re.IGNORECASE)
_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)""", re.IGNORECASE)
_BOUNDING_BOX = re.compile(
    rb"^%%BoundingBox:[ \t]*(-?[\d.]+)[ \t]+(-?[\d.]+)[ \t]+(-?[\d.]+)[ \t]+(-?[\d.]+)", re.M
)
_GS_ERROR = re.compile(rb"Error: /(\w+)")


def check_svg(data: bytes) -> None:
    """Refuse an SVG that could reach outside itself (see the module); CorruptDocument."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:200]:
        raise CorruptDocument("The SVG is in UTF-16; Lector reads SVG in UTF-8 only.")
    declared = _ENCODING.match(data.removeprefix(b"\xef\xbb\xbf"))
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (
        b"utf-8",
        b"utf8",
        b"us-ascii",
        b"ascii",
    ):
        raise CorruptDocument("The SVG declares an encoding other than UTF-8, which Lector does not read.")
    if _DOCTYPE.search(data):
        raise CorruptDocument(
            "The SVG has a DOCTYPE or ENTITY declaration, which could make it read files; Lector does "
            "not read such SVGs."
        )
    if b"@import" in data.lower():
        raise CorruptDocument("The SVG imports a stylesheet, which Lector does not fetch.")
    references = [
        next(group for group in match.groups() if group is not None) for match in _HREF.finditer(data)
    ]
    references += [match.group(1) for match in _URL.finditer(data)]
    for reference in references:
        value = reference.strip()
        if not (value.startswith(b"#") or value[:5].lower() == b"data:" or not value):
            shown = value[:60].decode("utf-8", "replace")
            raise CorruptDocument(
                f"The SVG refers to {shown!r} outside itself; Lector draws only what an SVG holds "
                "(#fragments and data: URIs)."
            )


class SvgDocument(PdfDocument):
    """An SVG, checked (``check_svg``) and drawn by MuPDF from its bytes: one page."""

    format = "SVG"

    def __init__(self, data: bytes) -> None:
        check_svg(data)
        try:
            self._pdf = pymupdf.open(stream=data, filetype="svg")
            self.page_count = int(self._pdf.page_count)
        except (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase):
            raise CorruptDocument("The SVG is malformed and cannot be drawn.") from None
        if self.page_count != 1:
            self._pdf.close()
            raise CorruptDocument("The SVG is malformed and cannot be drawn.")


class EpsDocument(Document):
    """An EPS (or its DOS binary form), drawn by Ghostscript when its page is asked for."""

    format = "EPS"
    page_count = 1

    def __init__(self, data: bytes) -> None:
        self._postscript = postscript_of(data)
        self._box = bounding_box(self._postscript)

    def pages(
        self, numbers: list[int], *, dpi: int, force_ocr: bool = False, colour: bool = False
    ) -> Iterator[Page]:
        """The drawn page (an EPS has one), as a PNG image's page."""
        for number in numbers:
            png = draw_eps(self._postscript, self._box, dpi)
            with ImageDocument(png, "PNG") as drawn:
                for page in drawn.pages([1], dpi=dpi, force_ocr=force_ocr, colour=colour):
                    page.number = number
                    yield page


def postscript_of(data: bytes) -> bytes:
    """The PostScript of an EPS: the file itself, or the section a DOS EPS header points at."""
    if not data.startswith(DOS_EPS):
        return data
    try:
        offset, length = struct.unpack_from("<II", data, 4)
    except struct.error:
        raise CorruptDocument("The EPS file's binary header is truncated.") from None
    if offset < 30 or length == 0 or offset + length > len(data):
        raise CorruptDocument("The EPS file's binary header points outside the file.")
    return data[offset : offset + length]


def bounding_box(postscript: bytes) -> tuple[float, float, float, float]:
    """The page's ``%%BoundingBox``, in points: the first one with numbers (a header's
    ``(atend)`` leaves it to the trailer)."""
    match = _BOUNDING_BOX.search(postscript)
    if match is None:
        raise CorruptDocument("The EPS file has no %%BoundingBox, so the size of its page is unknown.")
    try:
        left, bottom, right, top = (float(value) for value in match.groups())
    except ValueError:
        raise CorruptDocument("The EPS file's %%BoundingBox is not four numbers.") from None
    if right <= left or top <= bottom:
        raise CorruptDocument("The EPS file's %%BoundingBox is empty.")
    return left, bottom, right, top


def draw_eps(
    postscript: bytes, box: tuple[float, float, float, float], dpi: int, *, timeout_s: float = GS_TIMEOUT_S
) -> bytes:
    """The EPS's page as a PNG (with transparency) at ``dpi``, lowered so the page stays
    under MAX_PAGE_PIXELS; CorruptDocument when Ghostscript refuses or fails it."""
    left, bottom, right, top = box
    width_pt, height_pt = right - left, top - bottom
    pixels = width_pt * height_pt * (dpi / 72) ** 2
    if pixels > MAX_PAGE_PIXELS:
        dpi = max(1, int(dpi * (MAX_PAGE_PIXELS / pixels) ** 0.5))
    width, height = max(1, round(width_pt * dpi / 72)), max(1, round(height_pt * dpi / 72))
    if width * height > MAX_PAGE_PIXELS:
        raise DecompressionBomb(
            f"The EPS page is {width_pt:.0f}x{height_pt:.0f} points, too large to draw under the limit of "
            f"{MAX_PAGE_PIXELS // 1_000_000} megapixels."
        )
    gs = shutil.which("gs")
    if gs is None:
        raise EngineUnavailable("Ghostscript is not installed on this server; it draws EPS files.")
    with tempfile.TemporaryDirectory(prefix="lector-gs-") as work:
        source, output = Path(work, "page.eps"), Path(work, "page.png")
        source.write_bytes(postscript)
        command = [
            gs,
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-dNOPROMPT",
            "-dLastPage=1",
            "-dNumRenderingThreads=1",
            f"-g{width}x{height}",
            f"-r{dpi}",
            "-sDEVICE=pngalpha",
            f"-sOutputFile={output}",
            "-c",
            f"{-left:.3f} {-bottom:.3f} translate",
            "-f",
            str(source),
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TMPDIR": work, "HOME": work}
        try:
            done = subprocess.run(
                command, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            raise CorruptDocument(
                f"The EPS file took longer than {timeout_s:g} s to draw; it may loop forever."
            ) from None
        said = done.stdout + done.stderr
        if b"invalidfileaccess" in said:
            raise CorruptDocument(
                "The EPS file tries to open files, which Lector does not allow (Ghostscript runs it "
                "with -dSAFER)."
            )
        if done.returncode != 0 or not output.is_file():
            error = _GS_ERROR.search(said)
            why = f" (PostScript error {error.group(1).decode()})" if error else ""
            raise CorruptDocument(f"The EPS file is corrupt: Ghostscript could not draw it{why}.")
        return output.read_bytes()


def open_vector(data: bytes, kind: str) -> Document:
    """An SVG or EPS document (``kind`` as ``service.pages.sniff`` names it)."""
    if kind == "SVG":
        return SvgDocument(data)
    if kind == "EPS":
        return EpsDocument(data)
    raise UnsupportedFormat(f"{kind} is no vector format Lector draws.")
