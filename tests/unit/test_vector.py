"""SVG, PSD and EPS inputs: sniffed from their bytes, drawn or decoded into pages, and hostile
ones refused (an SVG reaching outside itself, a PSD declaring a bomb, an EPS opening files)."""

from __future__ import annotations

import http.server
import io
import re
import socketserver
import threading
import time

import pymupdf
import pytest
from PIL import Image

from fixtures.drawings import EPS, EPS_READS_A_FILE, SVG, SVG_ENTITY, dos_eps, psd, svg_image
from service.errors import CorruptDocument, DecompressionBomb, UnsupportedFormat
from service.pages import configure_decoders, open_document, sniff
from service.vector import check_svg, draw_eps


@pytest.fixture(autouse=True, scope="module")
def decoders():
    configure_decoders()


def test_svg_psd_and_eps_are_sniffed_from_their_bytes():
    assert sniff(SVG) == "SVG"
    assert sniff(b"\xef\xbb\xbf  <svg xmlns='http://www.w3.org/2000/svg'/>") == "SVG"
    assert sniff(psd(2, 2, bytes(12))) == "PSD"
    assert sniff(EPS) == "EPS"
    assert sniff(dos_eps(EPS)) == "EPS"
    for data, named in (
        (b"8BPS\x00\x02" + bytes(30), "a Photoshop large document (PSB)"),
        (b"%!PS-Adobe-3.0\n%%Pages: 1\n", "a PostScript file"),
        (b"<?xml version='1.0'?><html/>", "an XML document"),
    ):
        with pytest.raises(UnsupportedFormat, match=re.escape(named)):
            sniff(data)


def test_a_safe_svg_is_drawn_and_its_text_is_a_text_layer():
    with open_document(SVG) as document:
        assert (document.format, document.page_count) == ("SVG", 1)
        (page,) = document.pages([1], dpi=144, colour=True)
        assert page.image is not None and page.image.size == (480, 160)
        assert page.image.getpixel((5, 5))[:3] == (255, 0, 0)
        (read,) = document.pages([1], dpi=144)
        assert "Hello SVG" in read.text


@pytest.mark.parametrize(
    ("svg", "refused"),
    [
        (SVG_ENTITY, "DOCTYPE or ENTITY"),
        (svg_image("file:///etc/passwd"), "refers to 'file:///etc/passwd'"),
        (b"<svg><image xlink:href = '/etc/hostname'/></svg>", "refers to '/etc/hostname'"),
        (b'<svg><image href="&#102;ile:///etc/passwd"/></svg>', "refers to '&#102;ile:///etc/passwd'"),
        (b"<svg><image href=http://127.0.0.1:9/x.png /></svg>", "refers to 'http://127.0.0.1:9/x.png'"),
        (b'<svg><rect style="fill:url(http://example.com/p)"/></svg>', "refers to 'http://example.com/p'"),
        (b"<svg><style>@import 'http://example.com/a.css';</style></svg>", "imports a stylesheet"),
        (b'<?xml-stylesheet href="a.css"?><svg/>', "refers to 'a.css'"),
        ("<svg/>".encode("utf-16"), "UTF-16"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><svg/>', "encoding other than UTF-8"),
    ],
)
def test_an_svg_that_reaches_outside_itself_is_refused(svg, refused):
    with pytest.raises(CorruptDocument, match=re.escape(refused)):
        check_svg(svg)


def test_a_psd_is_read_and_a_psd_bomb_refused():
    width, height = 4, 2
    planes = bytes([200] * 8) + bytes([10] * 8) + bytes([30] * 8)  # R, G, B
    with open_document(psd(width, height, planes)) as document:
        (page,) = document.pages([1], dpi=300, colour=True)
        assert page.image is not None and page.image.size == (4, 2)
        assert page.image.getpixel((3, 1)) == (200, 10, 30)
    with pytest.raises(DecompressionBomb, match="PSD image declares more than 89 megapixels"):
        open_document(psd(100_000, 100_000))


def test_an_eps_is_drawn_in_its_bounding_box():
    with open_document(dos_eps(EPS)) as document:
        assert (document.format, document.page_count) == ("EPS", 1)
        (page,) = document.pages([1], dpi=144, colour=True)
        assert page.image is not None and page.image.size == (600, 200)
        assert page.image.mode == "RGBA" and page.image.getbbox() is not None
        (read,) = document.pages([1], dpi=300)
        assert read.image is not None and read.image.mode in ("L", "RGB")
        assert read.image.getpixel((0, 0)) in (255, (255, 255, 255))  # transparency on white


def test_an_eps_that_opens_files_is_refused_by_safer():
    with (
        pytest.raises(CorruptDocument, match="tries to open files"),
        open_document(EPS_READS_A_FILE) as document,
    ):
        list(document.pages([1], dpi=72, colour=True))


def test_an_eps_that_loops_is_stopped_in_time():
    looping = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n{ 1 pop } loop\n"
    started = time.monotonic()
    with pytest.raises(CorruptDocument, match="took longer than 2 s"):
        draw_eps(looping, (0, 0, 10, 10), 72, timeout_s=2)
    assert time.monotonic() - started < 10


def test_an_eps_cannot_grow_its_page():
    growing = (
        b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n"
        b"<< /PageSize [30000 30000] >> setpagedevice\n0 0 moveto 30000 30000 lineto stroke showpage\n"
    )
    png = draw_eps(growing, (0, 0, 10, 10), 72)
    with Image.open(io.BytesIO(png)) as drawn:
        assert drawn.size == (10, 10)


def test_mupdf_itself_reads_no_entity_and_fetches_no_image():
    """What the check guards against, unchecked: MuPDF leaves the entity unexpanded and draws
    no external image, from the disk or from a server (whose log stays empty)."""
    asked: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_error(404)

    with socketserver.TCPServer(("127.0.0.1", 0), Handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
        for data in (
            SVG_ENTITY,
            svg_image("file:///etc/passwd"),
            svg_image(f"http://127.0.0.1:{port}/a.png"),
        ):
            with pymupdf.open(stream=data, filetype="svg") as drawing:
                page = drawing[0]
                assert "root:" not in page.get_text()
                page.get_pixmap(dpi=72)
        server.shutdown()
    assert asked == []
