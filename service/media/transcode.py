"""Converting audio and video with ffmpeg: to another audio or video format, a short gif, one
frame, or the 16 kHz mono WAV speech is read from.

Every run opens only the one local file, as the demuxer it was recognised as
(``service.media.probe.input_args``), with a thread limit and a time limit that grows with
the seconds it converts, and reports its progress from ffmpeg's ``-progress`` lines.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from service.convert.target import Target
from service.errors import CorruptDocument, EngineUnavailable, InputError
from service.media.probe import MediaInfo, first_complaint, input_args

ProgressCallback = Callable[[int, int], None]

#: Each target's muxer and codec arguments.
AUDIO: dict[str, tuple[str, list[str]]] = {
    "mp3": ("mp3", ["-c:a", "libmp3lame"]),
    "wav": ("wav", ["-c:a", "pcm_s16le"]),
    "m4a": ("ipod", ["-c:a", "aac"]),
    "ogg": ("ogg", ["-c:a", "libvorbis"]),
    "opus": ("ogg", ["-c:a", "libopus"]),
    "flac": ("flac", ["-c:a", "flac"]),
}
_H264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
VIDEO: dict[str, tuple[str, list[str], list[str]]] = {
    "mp4": ("mp4", [*_H264, "-movflags", "+faststart"], ["-c:a", "aac"]),
    "mov": ("mov", [*_H264, "-movflags", "+faststart"], ["-c:a", "aac"]),
    "mkv": ("matroska", _H264, ["-c:a", "aac"]),
    # VP9 at its fastest setting: the default would take many times the video's length.
    "webm": (
        "webm",
        ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-row-mt", "1", "-b:v", "1M"],
        ["-c:a", "libopus"],
    ),
}
#: A gif is short: without a `duration`, its first seconds; at most this wide unless asked.
GIF_SECONDS = 10.0
GIF_WIDTH = 480
GIF_FPS = 10
#: The time limit: this many seconds, plus this many for each second converted (libx264 at
#: its "veryfast" preset runs several times faster than real time on one core).
BASE_SECONDS = 60.0
SECONDS_PER_SECOND = 10.0
#: The rate and format speech recognisers read.
SPEECH_RATE = 16_000


def transcode(
    path: Path,
    info: MediaInfo,
    target: Target,
    out_dir: Path,
    *,
    threads: int,
    on_progress: ProgressCallback | None = None,
) -> Path:
    """Convert the media file ``path`` (``info``: what probe found) to ``target`` in
    ``out_dir``; returns the new file. InputError for what cannot be done (audio asked of a
    video with no sound, a trim past the end); CorruptDocument when ffmpeg fails on it."""
    output = out_dir / f"converted.{target.target_format}"
    command, seconds = transcode_command(path, info, target, output, threads=threads)
    _run(command, info, output, seconds, on_progress)
    return output


def transcode_command(
    path: Path, info: MediaInfo, target: Target, output: Path, *, threads: int
) -> tuple[list[str], float]:
    """The ffmpeg command that converts ``path`` to ``target`` into ``output`` (without its
    progress report), and the seconds of media it converts."""
    fmt = target.target_format
    start, seconds = _span(info, target, GIF_SECONDS if fmt == "gif" else None)
    args: list[str] = []
    if fmt in AUDIO:
        if not info.has_audio:
            raise InputError(f"The {info.sniffed.lower()} file has no audio to convert to {fmt}.")
        muxer, codec = AUDIO[fmt]
        args = ["-map", "0:a:0", "-vn", *codec, *_audio_options(target), "-f", muxer]
    elif fmt in VIDEO:
        muxer, video, audio = VIDEO[fmt]
        args = ["-map", "0:v:0", "-map", "0:a:0?", *video, *audio, *_audio_options(target)]
        if target.video_bitrate:
            args += ["-b:v", f"{target.video_bitrate}k"]
        if scale := _scale(target, info, None):
            args += ["-vf", scale]
        if target.fps:
            args += ["-r", str(target.fps)]
        args += ["-f", muxer]
    elif fmt == "gif":
        width = target.resize_width or min(info.width, GIF_WIDTH)
        scale = _scale(target, info, width) or f"scale={width}:-1"
        graph = (
            f"fps={target.fps or GIF_FPS},{scale}:flags=lanczos,split[a][b];[a]palettegen[p];[b][p]paletteuse"
        )
        args = ["-map", "0:v:0", "-an", "-filter_complex", graph, "-f", "gif"]
    elif fmt in ("jpg", "png"):
        seconds = 1.0
        args = ["-map", "0:v:0", "-an", "-frames:v", "1", "-update", "1", "-f", "image2"]
        if scale := _scale(target, info, None):
            args += ["-vf", scale]
        if fmt == "jpg":
            args += ["-q:v", "2"]
    else:  # the catalogue (service.convert.formats.TARGETS_OF) sends nothing else here
        raise InputError(f"A {info.sniffed.lower()} file cannot be converted to {fmt}.")
    if fmt not in AUDIO and not info.has_video:
        raise InputError(f"The {info.sniffed.lower()} file has no video to convert to {fmt}.")
    return _command(path, info, args, output, start=start, seconds=seconds, threads=threads), seconds


def speech_wav(
    path: Path, info: MediaInfo, out_dir: Path, *, threads: int, on_progress: ProgressCallback | None = None
) -> Path:
    """The sound of ``path`` as a 16 kHz mono 16-bit WAV file in ``out_dir``, which speech
    recognisers read. InputError when it has no sound."""
    if not info.has_audio:
        raise InputError(f"The {info.sniffed.lower()} file has no audio to transcribe.")
    output = out_dir / "speech.wav"
    args = ["-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SPEECH_RATE), "-c:a", "pcm_s16le", "-f", "wav"]
    command = _command(path, info, args, output, start=0.0, seconds=info.duration, threads=threads)
    _run(command, info, output, info.duration, on_progress)
    return output


def _span(info: MediaInfo, target: Target, longest: float | None) -> tuple[float, float]:
    """Where the conversion starts and how many seconds it converts (trim, gif length)."""
    start = target.start or 0.0
    if start >= info.duration:
        raise InputError(
            f"`start` ({start:g} s) is past the end of the {info.sniffed.lower()} file "
            f"({info.duration:.1f} s)."
        )
    seconds = info.duration - start
    if target.duration is not None:
        seconds = min(seconds, target.duration)
    if longest is not None and target.duration is None:
        seconds = min(seconds, longest)
    return start, seconds


def _audio_options(target: Target) -> list[str]:
    args = []
    if target.audio_bitrate:
        args += ["-b:a", f"{target.audio_bitrate}k"]
    if target.sample_rate:
        args += ["-ar", str(target.sample_rate)]
    if target.channels:
        args += ["-ac", str(target.channels)]
    return args


def _scale(target: Target, info: MediaInfo, width: int | None) -> str | None:
    """The scale filter for the asked resolution (even sides, as H.264 needs; a missing
    side keeps the aspect), or None to keep the size."""
    width = target.resize_width or width
    height = target.resize_height
    if not (width or height):
        return None
    even_width = f"{width - width % 2}" if width else "-2"
    even_height = f"{height - height % 2}" if height else "-2"
    return f"scale={even_width}:{even_height}"


def _command(
    path: Path, info: MediaInfo, args: list[str], output: Path, *, start: float, seconds: float, threads: int
) -> list[str]:
    """ffmpeg reading ``path`` as what it was recognised as, from ``start`` for ``seconds``,
    with ``args`` to ``output``, on at most ``threads`` threads."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-threads", str(threads)]
    if start:
        command += ["-ss", f"{start:.3f}"]
    command += input_args(info.sniffed, path)
    command += ["-t", f"{seconds:.3f}", *args, "-threads", str(threads), "-filter_threads", str(threads)]
    return [*command, "-y", f"file:{output}"]


def _run(
    command: list[str], info: MediaInfo, output: Path, seconds: float, on_progress: ProgressCallback | None
) -> None:
    """Run the ffmpeg ``command`` (making ``output``, from ``seconds`` of media) within its
    time limit, reporting progress."""
    command = [*command[:-2], "-progress", "pipe:1", "-nostats", *command[-2:]]
    limit = BASE_SECONDS + SECONDS_PER_SECOND * seconds
    errors = output.with_suffix(".log")
    try:
        with errors.open("w+b") as log:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, process_group=0
            )
            timer = threading.Timer(limit, _kill, (process,))
            timer.start()
            try:
                _follow(process, seconds, on_progress)
                code = process.wait()
            finally:
                timer.cancel()
                if process.poll() is None:
                    _kill(process)
            log.seek(0)
            stderr = log.read(4096)
    except FileNotFoundError as exc:
        raise EngineUnavailable("ffmpeg is not installed: install Debian's ffmpeg package.") from exc
    finally:
        errors.unlink(missing_ok=True)
    name = info.sniffed.lower()
    if code == -signal.SIGKILL:
        raise CorruptDocument(
            f"Converting the {name} file took longer than its time limit of {limit:.0f} seconds."
        )
    if code != 0 or not output.exists():
        raise CorruptDocument(f"The {name} file could not be converted: {first_complaint(stderr)}.")


def _follow(process: subprocess.Popen[bytes], seconds: float, on_progress: ProgressCallback | None) -> None:
    """Read ffmpeg's progress lines until it ends, reporting thousandths done (at most twice a
    second: each report is a write to the job's record)."""
    assert process.stdout is not None
    total_us = max(seconds, 0.001) * 1_000_000
    reported = 0.0
    for raw in process.stdout:
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if on_progress is None or key != "out_time_us" or not value.isdigit():
            continue
        now = time.monotonic()
        if now - reported >= 0.5:
            reported = now
            on_progress(min(int(1000 * int(value) / total_us), 999), 1000)
    if on_progress is not None:
        on_progress(1000, 1000)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill ffmpeg and anything it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
