"""What an audio or video file holds, asked of ffprobe, and the limits it must be within.

ffprobe is told the demuxer the bytes were recognised as (``service.containers``) and may
open nothing but the one local file, so a playlist or concat list can never make it read
another file or the network. What it reports is checked before ffmpeg decodes a frame:
playing time (``LECTOR_MAX_MEDIA_SECONDS``), picture size, and that there is something to
convert at all.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import msgspec

from service.errors import CorruptDocument, DecompressionBomb, EngineUnavailable, InputError, TooLarge

#: ffmpeg's demuxer for each format the bytes were recognised as.
DEMUXERS: dict[str, str] = {
    "MP4": "mov",
    "MOV": "mov",
    "M4A": "mov",
    "MKV": "matroska",
    "WEBM": "matroska",
    "AVI": "avi",
    "MP3": "mp3",
    "WAV": "wav",
    "AAC": "aac",
    "OGG": "ogg",
    "OPUS": "ogg",
    "FLAC": "flac",
}
#: Only the local file itself: no http, no file: URLs inside it (HLS, DASH), no concat lists.
PROTOCOLS = "file,pipe"
#: The widest and tallest picture decoded: 8K is 7680 x 4320; a larger one is refused before
#: a frame is decoded, since each frame of it would take hundreds of MB.
MAX_SIDE = 8192
MAX_PIXELS = 7680 * 4320
#: Seconds ffprobe may take on one file: it reads headers, not the whole file.
PROBE_SECONDS = 30


class MediaInfo(msgspec.Struct, frozen=True):
    """What a media file holds: its playing time and, for a video, its picture size."""

    sniffed: str
    duration: float
    has_audio: bool
    has_video: bool
    width: int = 0
    height: int = 0

    @property
    def demuxer(self) -> str:
        """ffmpeg's name for the container."""
        return DEMUXERS[self.sniffed]


def input_args(sniffed: str, path: Path) -> list[str]:
    """The arguments that open ``path`` as ``sniffed`` and nothing else."""
    return ["-protocol_whitelist", PROTOCOLS, "-f", DEMUXERS[sniffed], "-i", f"file:{path}"]


def probe(path: Path, sniffed: str, *, max_seconds: int) -> MediaInfo:
    """Ask ffprobe what ``path`` (recognised as ``sniffed``) holds, and check it is within the
    limits: InputError (or CorruptDocument, DecompressionBomb) with one sentence when it is
    damaged, empty or too large a picture, TooLarge when it plays longer than ``max_seconds``."""
    name = sniffed.lower()
    command = [
        "ffprobe",
        "-v",
        "error",
        "-protocol_whitelist",
        PROTOCOLS,
        "-f",
        DEMUXERS[sniffed],
        "-show_entries",
        "format=duration:stream=codec_type,width,height,duration",
        "-of",
        "json",
        f"file:{path}",
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, timeout=PROBE_SECONDS, stdin=subprocess.DEVNULL, check=False
        )
    except FileNotFoundError as exc:
        raise EngineUnavailable("ffprobe is not installed: install Debian's ffmpeg package.") from exc
    except subprocess.TimeoutExpired as exc:
        raise CorruptDocument(f"The {name} file could not be read within {PROBE_SECONDS} seconds.") from exc
    if done.returncode != 0:
        raise CorruptDocument(f"The {name} file is damaged or truncated: {first_complaint(done.stderr)}.")
    reply = json.loads(done.stdout or b"{}")
    streams = [stream for stream in reply.get("streams", []) if isinstance(stream, dict)]
    videos = [stream for stream in streams if stream.get("codec_type") == "video"]
    audios = [stream for stream in streams if stream.get("codec_type") == "audio"]
    if not videos and not audios:
        raise InputError(f"The {name} file holds no audio or video stream.")
    duration = _seconds(reply.get("format", {}).get("duration"))
    if duration is None:
        duration = max((_seconds(stream.get("duration")) or 0.0 for stream in streams), default=0.0)
    if duration <= 0:
        raise InputError(f"The {name} file has no playing time: its streams are empty.")
    if duration > max_seconds:
        raise TooLarge(
            f"The {name} file plays for {duration:.0f} seconds; this server takes at most {max_seconds}."
        )
    width = max((int(stream.get("width") or 0) for stream in videos), default=0)
    height = max((int(stream.get("height") or 0) for stream in videos), default=0)
    if refused := _INVALID_SIZE.search(done.stderr.decode("utf-8", "replace")):
        # ffmpeg itself would not allocate it, and reports the stream with no size at all.
        width, height = int(refused["width"]), int(refused["height"])
    if videos and (width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS):
        raise DecompressionBomb(
            f"The video declares {width} x {height} pixels; the largest taken is {MAX_SIDE} pixels a "
            f"side and {MAX_PIXELS // 1_000_000} megapixels."
        )
    if videos and not (width and height):
        raise CorruptDocument(f"The {name} file's video stream declares no picture size.")
    return MediaInfo(
        sniffed=sniffed,
        duration=duration,
        has_audio=bool(audios),
        has_video=bool(videos),
        width=width,
        height=height,
    )


#: The "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d0c0de]" ffmpeg puts before a component's message.
_CONTEXT = re.compile(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*")


#: What ffmpeg says of a picture size it refuses to allocate.
_INVALID_SIZE = re.compile(r"Picture size (?P<width>[0-9]{1,9})x(?P<height>[0-9]{1,9}) is invalid")


def _seconds(value: object) -> float | None:
    try:
        return float(value) if value not in (None, "N/A") else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def first_complaint(stderr: bytes) -> str:
    """ffmpeg's or ffprobe's first complaint, without the file's path (which is a private temporary one)."""
    line = next((line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()), "")
    line = _CONTEXT.sub("", line.strip())
    line = line.split(": ", 1)[-1] if line.startswith("file:") else line
    return line.strip().rstrip(".")[:200] or "ffprobe could not read it"
