"""What the bytes of an office, audio or video document say it is.

``service.pages.sniff`` asks here when the first bytes are no image and no PDF. The answer is
a name of ``service.convert.formats.INPUTS`` (``MP4``, ``DOCX``...), found from the bytes and
never from a file name. For media it is the demuxer ffmpeg is then told to use, so a text
file can never reach ffmpeg's playlist or concat readers (``service.media.probe``).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

#: ISO base media brands (bytes 8-12, after "ftyp") that are not MP4 video; HEIF and AVIF are
#: images (service.pages), the rest are read as MP4.
_FTYP_MEDIA = {b"qt  ": "MOV", b"M4A ": "M4A", b"M4B ": "M4A", b"M4P ": "M4A"}
#: Brands of HEIF and AVIF image sequences, which are not video Lector reads.
_FTYP_IMAGES = frozenset({b"hevc", b"hevx", b"heim", b"heis", b"avis"})
#: Every name ``container_format`` answers.
NAMES = frozenset(
    {"MP4", "MOV", "M4A", "MKV", "WEBM", "AVI", "WAV", "OGG", "OPUS", "FLAC", "MP3", "AAC"}
    | {"DOCX", "DOC", "ODT", "RTF", "XLSX", "ODS", "PPTX", "ODP"}
)
#: A ZIP holding more entries than this is not an office document Lector reads.
MAX_ZIP_ENTRIES = 10_000
#: The ``mimetype`` entry an OpenDocument file starts with, and the format it names.
_OPENDOCUMENT = {
    b"application/vnd.oasis.opendocument.text": "ODT",
    b"application/vnd.oasis.opendocument.spreadsheet": "ODS",
    b"application/vnd.oasis.opendocument.presentation": "ODP",
}
#: The folder an Office Open XML package keeps its main part in.
_OOXML = {"word/": "DOCX", "xl/": "XLSX", "ppt/": "PPTX"}


def container_format(head: bytes, source: bytes | Path) -> str | None:
    """The format of an office, audio or video document whose first bytes are ``head``, or
    None. ``source`` (the whole document) is read only for a ZIP's list of entries."""
    if head[4:8] == b"ftyp":
        return None if head[8:12] in _FTYP_IMAGES else _FTYP_MEDIA.get(head[8:12], "MP4")
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, or WebM (its DocType says)
        return "WEBM" if b"\x42\x82\x84webm" in head[:64] else "MKV"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "WAV"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI"
    if head.startswith(b"OggS"):
        return "OPUS" if b"OpusHead" in head[:128] else "OGG"
    if head.startswith(b"fLaC"):
        return "FLAC"
    if head.startswith(b"ID3") or _mpeg_audio_frame(head):
        return "MP3"
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:  # ADTS sync word, layer 0
        return "AAC"
    if head.startswith(b"{\\rtf"):
        return "RTF"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # OLE2: Word 97-2003 (or Excel, PowerPoint)
        return "DOC"
    if head.startswith(b"PK\x03\x04"):
        return _office_zip(head, source)
    return None


def _mpeg_audio_frame(head: bytes) -> bool:
    """An MPEG audio layer III frame header: the sync bits, then layer bits 01."""
    return len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and (head[1] >> 1) & 0x3 == 0x1


def _office_zip(head: bytes, source: bytes | Path) -> str | None:
    """An OpenDocument file (its first entry, ``mimetype``, says which) or an Office Open XML
    package (the folder of its main part says which); None for another ZIP."""
    if head[30:38] == b"mimetype":
        for mimetype, name in _OPENDOCUMENT.items():
            if head[38 : 38 + len(mimetype)] == mimetype:
                return name
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if len(names) > MAX_ZIP_ENTRIES or "[Content_Types].xml" not in names:
        return None
    for folder, name in _OOXML.items():
        if any(entry.startswith(folder) for entry in names):
            return name
    return None
