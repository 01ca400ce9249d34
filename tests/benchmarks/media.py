"""``make bench``: audio and video conversions against the same ffmpeg command run by hand.

A 640x360 video of 60 seconds with sound (ffmpeg's test picture and a tone) goes through
``POST /api/convert-file`` to mp3 and to mp4 (H.264/AAC); the reference is the very command
Lector builds (``service.media.transcode.transcode_command``) run directly on the same file,
with no upload, probe, progress report or download. Interleaved, median of 5.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from service.convert.target import Target
from service.media.probe import probe
from service.media.transcode import transcode_command
from service.settings import Settings
from tests.benchmarks.services import services
from tests.benchmarks.tables import Row, add_smoke_flag, publish, table, title
from tests.helpers import API_KEY

SECONDS, SMOKE_SECONDS = 60, 2
SIZE, SMOKE_SIZE = "640x360", "160x90"
TARGETS = ("mp3", "mp4")


def sample(work: Path, *, smoke: bool) -> Path:
    """The video both sides convert."""
    seconds, size = (SMOKE_SECONDS, SMOKE_SIZE) if smoke else (SECONDS, SIZE)
    path = work / "sample.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-loglevel", "error", "-y"),
            *("-f", "lavfi", "-i", f"testsrc2=size={size}:rate=25:duration={seconds}"),
            *("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"),
            *("-c:v", "libx264", "-preset", "veryfast", "-c:a", "aac", "-shortest", str(path)),
        ],
        check=True,
    )
    return path


def by_hand(path: Path, target: str, work: Path, threads: int) -> float:
    """Seconds of the command Lector would run, run directly."""
    info = probe(path, "MP4", max_seconds=3600)
    command, _ = transcode_command(
        path, info, Target(target_format=target), work / f"hand.{target}", threads=threads
    )
    started = time.perf_counter()
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)
    return time.perf_counter() - started


def lector(client: httpx.Client, data: bytes, target: str) -> float:
    started = time.perf_counter()
    answer = client.post(
        "/api/convert-file", files={"file": ("sample.mp4", data)}, data={"target_format": target}
    )
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, answer.text
    return elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    runs = 1 if args.smoke else args.runs
    work = Path(tempfile.mkdtemp(prefix="lector-bench-media-"))
    path = sample(work, smoke=args.smoke)
    data = path.read_bytes()
    ours: dict[str, list[float]] = {target: [] for target in TARGETS}
    hand: dict[str, list[float]] = {target: [] for target in TARGETS}
    with (
        services(smoke=args.smoke) as running,
        httpx.Client(base_url=running.server.url, headers={"X-API-Key": API_KEY}, timeout=600) as client,
    ):
        threads = Settings().media_threads  # the server runs with the default
        lector(client, data, "mp3")  # warm-up
        for _ in range(runs):
            for target in TARGETS:
                hand[target].append(by_hand(path, target, work, threads))
                ours[target].append(lector(client, data, target))
    seconds, size = (SMOKE_SECONDS, SMOKE_SIZE) if args.smoke else (SECONDS, SIZE)
    rows: list[Row] = []
    for target in TARGETS:
        mine, theirs = statistics.median(ours[target]), statistics.median(hand[target])
        rows.append(
            (
                f"{size} mp4 of {seconds} s to {target}, `POST /api/convert-file`: median",
                f"{mine:.2f} s",
                f"{theirs:.2f} s (the same ffmpeg command by hand)",
                f"{mine / theirs:.2f}",
                "≤ 1.05",
            )
        )
    header = ("what", "Lector", "reference", "ratio", "goal")
    heading = title("Audio and video through ffmpeg", f"median of {runs}")
    publish("media", [table(heading, header, rows)], smoke=args.smoke)
