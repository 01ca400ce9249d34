"""The conversion catalogue: what Lector reads, what it writes, and every pair between them.

Each fact is here once; ``GET /api/formats``, the key scopes' pair names, the OpenAPI,
``lector convert``, the unsupported-format sentence (``service.pages``) and the README's
input-formats table derive from these tables.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

ImageTarget = Literal["jpg", "png", "webp", "gif", "bmp", "tiff", "ico", "pdf", "avif", "heic"]
TextTarget = Literal["txt", "json", "md", "hocr"]
AudioTarget = Literal["mp3", "wav", "m4a", "ogg", "opus", "flac"]
VideoTarget = Literal["mp4", "webm", "mkv", "mov"]
#: Subtitles of speech (a transcript with times); speech also gives txt and json.
SubtitleTarget = Literal["srt", "vtt"]
TargetFormat = Literal[ImageTarget, TextTarget, AudioTarget, VideoTarget, SubtitleTarget]

IMAGE_TARGETS: tuple[str, ...] = get_args(ImageTarget)
TEXT_TARGETS: tuple[str, ...] = get_args(TextTarget)
AUDIO_TARGETS: tuple[str, ...] = get_args(AudioTarget)
VIDEO_TARGETS: tuple[str, ...] = get_args(VideoTarget)
SUBTITLE_TARGETS: tuple[str, ...] = get_args(SubtitleTarget)
TARGETS: tuple[str, ...] = (*IMAGE_TARGETS, *TEXT_TARGETS, *AUDIO_TARGETS, *VIDEO_TARGETS, *SUBTITLE_TARGETS)
#: What speech becomes: its text, its segments with their times (json), or subtitles.
TRANSCRIPT_TARGETS: tuple[str, ...] = ("txt", "json", *SUBTITLE_TARGETS)
#: What a video gives as pictures: a short animation, or one frame (a thumbnail).
MOTION_TARGET = "gif"
FRAME_TARGETS: tuple[str, ...] = ("jpg", "png")

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
    # Drawn (service.vector) or read by Pillow, as pages.
    "SVG": "svg",
    "PSD": "psd",
    "EPS": "eps",
    # Office documents, converted to PDF by LibreOffice (service.office).
    "DOCX": "docx",
    "DOC": "doc",
    "ODT": "odt",
    "RTF": "rtf",
    "XLSX": "xlsx",
    "ODS": "ods",
    "PPTX": "pptx",
    "ODP": "odp",
    # Video and audio, read by ffmpeg (service.media).
    "MP4": "mp4",
    "MOV": "mov",
    "MKV": "mkv",
    "WEBM": "webm",
    "AVI": "avi",
    "MP3": "mp3",
    "WAV": "wav",
    "M4A": "m4a",
    "AAC": "aac",
    "OGG": "ogg",
    "OPUS": "opus",
    "FLAC": "flac",
}

#: Other spellings clients use for the catalogue's names.
SPELLINGS: dict[str, str] = {"jpeg": "jpg", "tif": "tiff", "heif": "heic", "text": "txt", "mpeg": "mp3"}

#: The catalogue's input names, in the order of INPUTS.
INPUT_NAMES: tuple[str, ...] = tuple(INPUTS.values())


class Family(StrEnum):
    """What kind of document an input is, which decides what it converts to and who reads it."""

    PAGES = "pages"  # images and PDF: service.pages
    OFFICE = "office"  # LibreOffice's formats, read through the PDF it makes
    AUDIO = "audio"  # ffmpeg
    VIDEO = "video"  # ffmpeg


#: The families whose documents have pages (an office document's are its PDF's).
PAGE_FAMILIES = frozenset({Family.PAGES, Family.OFFICE})

OFFICE_INPUTS: tuple[str, ...] = ("docx", "doc", "odt", "rtf", "xlsx", "ods", "pptx", "odp")
AUDIO_INPUTS: tuple[str, ...] = ("mp3", "wav", "m4a", "aac", "ogg", "opus", "flac")
VIDEO_INPUTS: tuple[str, ...] = ("mp4", "mov", "mkv", "webm", "avi")
MEDIA_INPUTS: tuple[str, ...] = (*VIDEO_INPUTS, *AUDIO_INPUTS)

#: What each family converts to. An office document is read through the PDF LibreOffice
#: makes of it, so it goes wherever a PDF goes.
TARGETS_OF: dict[Family, tuple[str, ...]] = {
    Family.PAGES: (*IMAGE_TARGETS, *TEXT_TARGETS),
    Family.OFFICE: (*IMAGE_TARGETS, *TEXT_TARGETS),
    Family.AUDIO: (*AUDIO_TARGETS, *TRANSCRIPT_TARGETS),
    Family.VIDEO: (*AUDIO_TARGETS, *VIDEO_TARGETS, MOTION_TARGET, *FRAME_TARGETS, *TRANSCRIPT_TARGETS),
}

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
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "opus": "audio/ogg; codecs=opus",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "mkv": "video/x-matroska",
    "mov": "video/quicktime",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}
#: The file name extension of each target (hOCR is HTML).
EXTENSIONS: dict[str, str] = {**{name: name for name in MEDIA_TYPES}, "hocr": "hocr.html"}


def input_name(sniffed: str) -> str:
    """The catalogue name of a sniffed input format."""
    return INPUTS[sniffed]


def pair(source: str, target: str) -> str:
    """A conversion pair's name, as key scopes write it: ``png-jpg``."""
    return f"{source}-{target}"


def family(source: str) -> Family:
    """The family of an input, by its catalogue name (``mp4``, ``docx``, ``png``...)."""
    if source in OFFICE_INPUTS:
        return Family.OFFICE
    if source in AUDIO_INPUTS:
        return Family.AUDIO
    if source in VIDEO_INPUTS:
        return Family.VIDEO
    return Family.PAGES


def targets_of(source: str) -> tuple[str, ...]:
    """What an input (by its catalogue name) converts to."""
    return TARGETS_OF[family(source)]


def converts(source: str, target: str) -> bool:
    """Whether Lector converts ``source`` to ``target`` (catalogue names)."""
    return target in targets_of(source)


def pairs() -> list[str]:
    """Every pair Lector converts, inputs in catalogue order."""
    return [pair(source, target) for source in INPUT_NAMES for target in targets_of(source)]
