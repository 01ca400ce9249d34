"""Audio and video through ffmpeg: every input recognised from its bytes, every target decoded
back by ffprobe, the options measured on the output, the hostile files refused with their
sentence, and the vendors' media pairs over real HTTP with real workers."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import wave
from pathlib import Path

import httpx
import pytest
from PIL import Image

from service.convert.formats import TARGETS_OF, Family
from service.convert.target import Target
from service.errors import CorruptDocument, DecompressionBomb, InputError, TooLarge, UnsupportedFormat
from service.media.probe import probe
from service.media.transcode import GIF_SECONDS, transcode
from service.pages import sniff
from tests.helpers import API_KEY

SECONDS = 3
#: How each input is made from ffmpeg's test sources: (file suffix, output arguments).
INPUTS: dict[str, tuple[str, list[str]]] = {
    "MP4": ("mp4", ["-c:v", "libx264", "-c:a", "aac", "-f", "mp4"]),
    "MOV": ("mov", ["-c:v", "libx264", "-c:a", "aac", "-f", "mov"]),
    "MKV": ("mkv", ["-c:v", "libx264", "-c:a", "aac", "-f", "matroska"]),
    "WEBM": ("webm", ["-c:v", "libvpx", "-c:a", "libvorbis", "-deadline", "realtime", "-f", "webm"]),
    "AVI": ("avi", ["-c:v", "mpeg4", "-c:a", "libmp3lame", "-f", "avi"]),
    "MP3": ("mp3", ["-vn", "-c:a", "libmp3lame", "-f", "mp3"]),
    "WAV": ("wav", ["-vn", "-c:a", "pcm_s16le", "-f", "wav"]),
    "M4A": ("m4a", ["-vn", "-c:a", "aac", "-f", "ipod"]),
    "AAC": ("aac", ["-vn", "-c:a", "aac", "-f", "adts"]),
    "OGG": ("ogg", ["-vn", "-c:a", "libvorbis", "-f", "ogg"]),
    "OPUS": ("opus", ["-vn", "-c:a", "libopus", "-f", "ogg"]),
    "FLAC": ("flac", ["-vn", "-c:a", "flac", "-f", "flac"]),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def ffprobe(path: Path) -> dict:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        capture_output=True,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    """One small file of each input format (a 160x120 test picture and a tone), named
    without a suffix: only the bytes say what they are."""
    folder = tmp_path_factory.mktemp("media")
    sources = [
        *("-f", "lavfi", "-i", f"testsrc=size=160x120:rate=10:duration={SECONDS}"),
        *("-f", "lavfi", "-i", f"sine=frequency=440:duration={SECONDS}"),
    ]
    made = {}
    for name, (_, args) in INPUTS.items():
        path = folder / name.lower()
        ffmpeg(*sources, "-shortest", *args, str(path))
        made[name] = path
    return made


def test_every_input_is_recognised_from_its_bytes(media):
    assert {name: sniff(path) for name, path in media.items()} == {name: name for name in media}


VIDEO_TARGETS = [target for target in TARGETS_OF[Family.VIDEO] if target not in ("txt", "json", "srt", "vtt")]


@pytest.mark.parametrize("target", VIDEO_TARGETS)
def test_every_target_of_a_video_decodes_as_its_format(media, tmp_path, target):
    info = probe(media["MP4"], "MP4", max_seconds=60)
    reports: list[int] = []
    out = transcode(
        media["MP4"],
        info,
        Target(target_format=target),
        tmp_path,
        threads=1,
        on_progress=lambda d, t: reports.append(d),
    )
    expected = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "mkv": "MKV", "m4a": "M4A"}
    assert sniff(out) == expected.get(target, target.upper())
    assert reports[-1] == 1000 and reports == sorted(reports)
    if target not in ("jpg", "png"):
        assert abs(float(ffprobe(out)["format"]["duration"]) - SECONDS) < 0.5


def test_trim_resolution_rate_and_channels_are_what_was_asked(media, tmp_path):
    info = probe(media["MP4"], "MP4", max_seconds=60)
    target = Target(
        target_format="mp4", start=1.0, duration=1.5, resize_width=81, fps=5, sample_rate=8000, channels=1
    )
    out = probe_streams(transcode(media["MP4"], info, target, tmp_path, threads=1))
    video, audio = out["video"], out["audio"]
    assert (video["width"], video["height"]) == (80, 60)  # even sides, the aspect kept
    assert video["r_frame_rate"] == "5/1"
    assert (int(audio["sample_rate"]), audio["channels"]) == (8000, 1)
    assert abs(float(out["duration"]) - 1.5) < 0.2


def test_a_gif_is_short_and_a_frame_is_one_picture(media, tmp_path):
    long_video = tmp_path / "long"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=5:duration=14",
        "-c:v",
        "libx264",
        "-f",
        "mp4",
        str(long_video),
    )
    info = probe(long_video, "MP4", max_seconds=60)
    gif = transcode(long_video, info, Target(target_format="gif"), tmp_path, threads=1)
    assert float(ffprobe(gif)["format"]["duration"]) <= GIF_SECONDS + 0.3
    frame = transcode(long_video, info, Target(target_format="png", start=12), tmp_path, threads=1)
    assert sniff(frame) == "PNG" and ffprobe(frame)["streams"][0]["width"] == 64


def probe_streams(path: Path) -> dict:
    found = ffprobe(path)
    streams = {stream["codec_type"]: stream for stream in found["streams"]}
    return {**streams, "duration": found["format"]["duration"]}


def test_audio_of_a_silent_video_and_a_start_past_the_end_are_refused(media, tmp_path):
    silent = tmp_path / "silent"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=64x48:rate=5:duration=1",
        "-c:v",
        "libx264",
        "-f",
        "mp4",
        str(silent),
    )
    with pytest.raises(InputError, match="has no audio to convert to mp3"):
        transcode(
            silent, probe(silent, "MP4", max_seconds=60), Target(target_format="mp3"), tmp_path, threads=1
        )
    info = probe(media["WAV"], "WAV", max_seconds=60)
    with pytest.raises(InputError, match="past the end"):
        transcode(media["WAV"], info, Target(target_format="mp3", start=10), tmp_path, threads=1)


# Hostile files: each refused with its own sentence, and none makes ffmpeg read another file.


@pytest.fixture(scope="module")
def secret_audio(tmp_path_factory) -> Path:
    """A local file a playlist or concat list points at; nothing may read it."""
    path = tmp_path_factory.mktemp("secret") / "secret.wav"
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=1000:duration=30", "-f", "wav", str(path))
    return path


def test_a_playlist_is_no_media(secret_audio):
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:30\n#EXTINF:30,\nfile://{secret_audio}\nfile:///etc/passwd\n"
    with pytest.raises(UnsupportedFormat, match="playlist"):
        sniff(playlist.encode())


def test_a_playlist_behind_an_mp3_header_is_read_as_mp3_only(secret_audio, tmp_path):
    # ID3 makes the bytes look like an MP3: ffmpeg is told so, and never parses a playlist.
    disguised = tmp_path / "disguised"
    disguised.write_bytes(
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + f"#EXTM3U\n#EXTINF:30,\nfile://{secret_audio}\n".encode()
    )
    assert sniff(disguised) == "MP3"
    with pytest.raises(InputError):
        probe(disguised, "MP3", max_seconds=60)


def test_a_concat_list_is_no_media(secret_audio):
    with pytest.raises(UnsupportedFormat, match="concat list"):
        sniff(f"ffconcat version 1.0\nfile '{secret_audio}'\n".encode())


def test_a_video_declaring_a_huge_picture_is_refused_before_decoding(tmp_path):
    small = tmp_path / "small.avi"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=16x16:rate=1:duration=1",
        "-c:v",
        "rawvideo",
        "-pix_fmt",
        "bgr24",
        str(small),
    )
    data = bytearray(small.read_bytes())
    header = data.find(b"strf") + 8  # BITMAPINFOHEADER: size, width, height
    struct.pack_into("<ii", data, header + 4, 100_000, 100_000)
    main = data.find(b"avih") + 8 + 32  # AVI main header: its width and height
    struct.pack_into("<II", data, main, 100_000, 100_000)
    huge = tmp_path / "huge"
    huge.write_bytes(bytes(data))
    with pytest.raises(DecompressionBomb, match="100000 x 100000 pixels"):
        probe(huge, sniff(huge), max_seconds=60)


def test_a_truncated_mp4_is_damaged(media, tmp_path):
    truncated = tmp_path / "truncated"
    truncated.write_bytes(media["MP4"].read_bytes()[: media["MP4"].stat().st_size // 3])
    with pytest.raises(CorruptDocument, match="damaged or truncated"):
        probe(truncated, sniff(truncated), max_seconds=60)


def test_a_zero_length_stream_has_nothing_to_convert(tmp_path):
    empty = tmp_path / "empty"
    with wave.open(str(empty), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(16000)
        writer.writeframes(b"")
    with pytest.raises(InputError, match="no playing time"):
        probe(empty, sniff(empty), max_seconds=60)


def test_media_longer_than_the_limit_is_too_large(media):
    with pytest.raises(TooLarge, match="plays for 3 seconds; this server takes at most 2"):
        probe(media["WAV"], "WAV", max_seconds=2)


# Over HTTP, with real workers: Lector's own routes and the vendors' dialects.


def test_sync_and_queued_conversions_on_lectors_routes(client, workers, media):
    sync = client.post(
        "/api/convert-file",
        data={"target_format": "mp3"},
        files={"file": ("a.mp4", media["MP4"].read_bytes())},
    )
    assert sync.status_code == 200, sync.text
    assert sync.headers["content-type"] == "audio/mpeg" and sniff(sync.content) == "MP3"
    queued = client.post(
        "/api/convert-file-async",
        data={"target_format": "mp4"},
        files={"file": ("clip.mov", media["MOV"].read_bytes())},
    )
    assert queued.status_code == 202, queued.text
    status = wait_for(client, queued.json()["conversion_id"])
    assert (status["status"], status["progress"]) == ("SUCCESS", 1.0)
    download = client.get(status["file"]["download_url"])
    assert download.status_code == 200 and sniff(download.content) == "MP4"
    assert status["file"]["name"] == "clip.mp4" and status["file"]["media_type"] == "video/mp4"


def wait_for(client: httpx.Client, conversion_id: str) -> dict:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 5}).json()
        if status["status"] in ("SUCCESS", "ERROR"):
            return status
    raise AssertionError(f"{conversion_id} did not end")


def test_refusals_over_http_say_what_is_wrong(client, workers, media, secret_audio):
    truncated = media["MP4"].read_bytes()[:2000]
    damaged = client.post(
        "/api/convert-file", data={"target_format": "mp3"}, files={"file": ("a.mp4", truncated)}
    )
    assert damaged.status_code == 422 and "damaged or truncated" in damaged.json()["message"]
    queued = client.post(  # refused when submitted, before it is charged or queued
        "/api/convert-file-async", data={"target_format": "mp3"}, files={"file": ("a.mp4", truncated)}
    )
    assert queued.status_code == 422 and "damaged or truncated" in queued.json()["message"]
    playlist = f"#EXTM3U\n#EXTINF:30,\nfile://{secret_audio}\n".encode()
    refused = client.post(
        "/api/convert-file", data={"target_format": "mp3"}, files={"file": ("a.m3u8", playlist)}
    )
    assert refused.status_code in (415, 422) and "playlist" in refused.json()["message"]
    no_pair = client.post(
        "/api/convert-file-async",
        data={"target_format": "png"},
        files={"file": ("a.mp3", media["MP3"].read_bytes())},
    )
    assert no_pair.status_code == 422 and "cannot be converted to png" in no_pair.json()["message"]
    no_pages = client.post(
        "/api/ocr/extract-text-from-file", files={"file": ("a.wav", media["WAV"].read_bytes())}
    )
    assert no_pages.status_code == 422 and "no pages to read" in no_pages.json()["message"]


CONVERTER_APP_PAIRS = [
    ("mp4", "mp3"),
    ("mov", "mp4"),
    ("wav", "mp3"),
    ("mkv", "mp4"),
    ("avi", "mp4"),
    ("mp4", "mp4"),
]


@pytest.mark.parametrize(("source", "target"), CONVERTER_APP_PAIRS)
def test_converter_app_media_pairs_sync_and_async(server, workers, media, source, target):
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as app:
        document = ("files", (f"clip.{source}", media[source.upper()].read_bytes()))
        sync = app.post("/convert/sync", data={"target_format": target}, files=[document])
        assert sync.status_code == 200, sync.text
        assert sniff(sync.content) == target.upper()
        started = app.post("/convert", data={"target_format": target}, files=[document]).json()
        assert started["pair"] == f"{source}2{target}"
        deadline = time.monotonic() + 90
        while (progress := app.get(f"/progress/{started['jobid']}").json())["status"] == "processing":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert progress["status"] == "completed", progress
        assert sniff(app.get(f"/download/{started['jobid']}").content) == target.upper()


@pytest.mark.parametrize(
    ("source", "target"), [("mp4", "mp3"), ("mp4", "mp4"), ("avi", "mp4"), ("wav", "mp3")]
)
def test_convertr_media_pairs(server, media, source, target):
    answer = httpx.post(
        f"{server.url}/convertr/api/convert",
        data={"input_format": source, "output_format": target},
        files={"file": (f"clip.{source}", media[source.upper()].read_bytes())},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    assert sniff(answer.content) == target.upper()


def test_lector_convert_takes_media_and_list_options(media, tmp_path):
    out, icon = tmp_path / "clip.mp3", tmp_path / "icon.ico"
    command = [sys.executable, "-m", "service.cli", "convert"]
    trimmed = [str(media["WAV"]), "--to", "mp3", "--start", "0.5", "--duration", "1.25", "--out", str(out)]
    subprocess.run([*command, *trimmed], check=True, capture_output=True)
    assert sniff(out) == "MP3" and abs(float(ffprobe(out)["format"]["duration"]) - 1.25) < 0.1
    sizes = ["fixtures/sample.png", "--to", "ico", "--icon-sizes", "16,32", "--out", str(icon)]
    subprocess.run([*command, *sizes], check=True, capture_output=True)
    assert Image.open(icon).info["sizes"] == {(16, 16), (32, 32)}


@pytest.fixture(scope="module")
def dictation(tmp_path_factory) -> Path:
    """A spoken sentence (espeak-ng) as mp3."""
    folder = tmp_path_factory.mktemp("speech")
    spoken = folder / "spoken.wav"
    subprocess.run(["espeak-ng", "-w", str(spoken), "the total is forty two dollars"], check=True)
    ffmpeg("-i", str(spoken), "-c:a", "libmp3lame", "-f", "mp3", str(folder / "dictation"))
    return folder / "dictation"


def test_speech_becomes_text_and_subtitles_through_the_routes(server, client, workers, dictation):
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as app:
        text = app.post(
            "/convert/sync",
            data={"target_format": "text"},
            files=[("files", ("note.mp3", dictation.read_bytes()))],
        )
    assert text.status_code == 200, text.text
    assert text.headers["content-type"].startswith("text/plain") and "forty" in text.text
    queued = client.post(
        "/api/convert-file-async",
        data={"target_format": "vtt"},
        files={"file": ("note.mp3", dictation.read_bytes())},
    )
    status = wait_for(client, queued.json()["conversion_id"])
    assert (status["status"], status["file"]["media_type"]) == ("SUCCESS", "text/vtt; charset=utf-8")
    subtitles = client.get(status["file"]["download_url"]).text
    assert subtitles.startswith("WEBVTT") and " --> " in subtitles and "forty" in subtitles


def test_a_queued_conversions_progress_follows_ffmpeg(server, workers, tmp_path):
    long_video = tmp_path / "long.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=40"),
        *("-c:v", "libx264", "-preset", "ultrafast", str(long_video)),
    )
    seen = []
    with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=120) as app:
        started = app.post(
            "/convert",
            data={"target_format": "webm"},
            files=[("files", ("long.mp4", long_video.read_bytes()))],
        ).json()
        deadline = time.monotonic() + 120
        while (progress := app.get(f"/progress/{started['jobid']}").json())["status"] == "processing":
            assert time.monotonic() < deadline
            seen.append(progress["progress"])
            time.sleep(0.1)
    assert progress["status"] == "completed" and progress["progress"] == 1.0
    assert any(0 < value < 1 for value in seen), seen  # reported while ffmpeg ran
    assert seen == sorted(seen)
