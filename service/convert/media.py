"""Converting an audio or video document: to another audio or video format, a gif, a frame,
or its speech as text or subtitles. The result is a file in a private directory of its own
(``OutputFile.content`` is its path), since a converted video may be as large as the input."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from service.convert.formats import EXTENSIONS, MEDIA_TYPES, TRANSCRIPT_TARGETS
from service.convert.output import OutputFile
from service.convert.target import Target
from service.media.probe import MediaInfo, probe
from service.media.transcode import speech_wav, transcode
from service.pages import Source, as_file
from service.settings import Settings
from service.speech import render, transcribe

ProgressCallback = Callable[[int, int], None]


def convert_media(
    document: Source,
    target: Target,
    settings: Settings,
    *,
    stem: str,
    sniffed: str,
    on_progress: ProgressCallback | None = None,
) -> OutputFile:
    """Convert the audio or video ``document`` (recognised as ``sniffed``) to ``target``."""
    fmt = target.target_format
    work = Path(tempfile.mkdtemp(prefix="media-"))
    try:
        path = as_file(document, work)
        info = probe(path, sniffed, max_seconds=settings.max_media_seconds)
        if fmt in TRANSCRIPT_TARGETS:
            converted = _transcribed(path, info, target, settings, work, on_progress)
        else:
            converted = transcode(
                path, info, target, work, threads=settings.media_threads, on_progress=on_progress
            )
        if path.parent == work:
            path.unlink()
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return OutputFile(name=f"{stem}.{EXTENSIONS[fmt]}", media_type=MEDIA_TYPES[fmt], content=converted)


def media_info(document: Source, sniffed: str, settings: Settings) -> MediaInfo:
    """What the audio or video ``document`` holds, once it is known to be within the limits
    (``service.media.probe.probe``): checked when it is submitted, before it is charged."""
    work = Path(tempfile.mkdtemp(prefix="media-"))
    try:
        return probe(as_file(document, work), sniffed, max_seconds=settings.max_media_seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _transcribed(
    path: Path,
    info: MediaInfo,
    target: Target,
    settings: Settings,
    work: Path,
    on_progress: ProgressCallback | None,
) -> Path:
    """The speech of ``path`` as ``target`` (txt, json, srt or vtt): decoded to 16 kHz mono by
    ffmpeg (the first fifth of the progress), then transcribed (the rest)."""
    wav = speech_wav(path, info, work, threads=settings.media_threads, on_progress=_part(on_progress, 0, 200))
    transcript = transcribe(wav, info.duration, settings=settings, on_progress=_part(on_progress, 200, 1000))
    wav.unlink()
    converted = work / f"transcript.{target.target_format}"
    converted.write_bytes(render(transcript, target.target_format))
    return converted


def _part(on_progress: ProgressCallback | None, low: int, high: int) -> ProgressCallback | None:
    """A progress callback for one part of the work: thousandths low..high of the whole."""
    if on_progress is None:
        return None
    report = on_progress

    def scaled(done: int, total: int) -> None:
        report(low + (high - low) * done // max(total, 1), 1000)

    return scaled
