"""``make bench``: the offline speech engine (PocketSphinx) on dictated receipts and invoices.

espeak-ng says ten sentences of receipt and invoice dictation (amounts, numbers, dates) with
its Klatt voice, each as its own recording and all in one with pauses between; PocketSphinx
transcribes them in this process. Printed: the word error rate (all words together, and the
median of the sentences), the real-time factor (seconds of decoding per second of sound, on
one core; median), what each sentence was heard as, and the resident memory above a warmed-up
decoder while a long recording is transcribed, beside a recording a tenth as long.

No installed package ships a recording of real speech (PocketSphinx's wheel carries its models
only), so the figures are for synthetic speech only; accents, noise and poor microphones are
not measured here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import wave
from importlib.metadata import version
from pathlib import Path

from service.speech.sphinx import SphinxEngine
from service.speech.transcript import Transcript
from tests.benchmarks.sync import memory_mb, sampled_peak
from tests.benchmarks.tables import add_smoke_flag, publish, table, title
from tests.helpers import DICTATION, VOICE, spoken_wav, word_error_rate

#: The pause between sentences in the one recording of them all.
PAUSE = '<break time="1500ms"/>'
#: The long recording's length, in seconds, and the short one's; in the smoke form.
LONG_S, SHORT_S = 600, 60
SMOKE_LONG_S, SMOKE_SHORT_S = 20, 10


def _timed(engine: SphinxEngine, path: Path, seconds: float) -> tuple[Transcript, float, float]:
    """The transcript of ``path``, and the wall-clock and CPU seconds it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    transcript = engine.transcribe(path, seconds)
    return transcript, time.perf_counter() - wall, time.process_time() - cpu


def _repeated(source: Path, target: Path, seconds: float) -> float:
    """``source`` over and over into ``target`` until it lasts ``seconds``; its seconds."""
    with wave.open(str(source)) as sound:
        params, frames = sound.getparams(), sound.readframes(sound.getnframes())
    wanted = int(seconds * params.framerate)
    with wave.open(str(target), "wb") as out:
        out.setparams(params)
        written = 0
        while written < wanted:
            piece = frames[: (wanted - written) * params.sampwidth]
            out.writeframes(piece)
            written += len(piece) // params.sampwidth
    return written / params.framerate


def _span(seconds: float) -> str:
    """A recording's length as said: seconds, or minutes from two on."""
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def _wer(pairs: list[tuple[str, str]]) -> float:
    """The word error rate over all the words of (said, heard) pairs."""
    errors = sum(word_error_rate(said, heard) * len(said.split()) for said, heard in pairs)
    return errors / sum(len(said.split()) for said, _ in pairs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_smoke_flag(parser)
    smoke = parser.parse_args(argv).smoke
    sentences = DICTATION[:2] if smoke else DICTATION
    long_s, short_s = (SMOKE_LONG_S, SMOKE_SHORT_S) if smoke else (LONG_S, SHORT_S)
    work = Path(tempfile.mkdtemp(prefix="lector-bench-speech-"))
    engine = SphinxEngine()

    heard, ratios, cpu_ratios = [], [], []
    for number, said in enumerate(sentences):
        path = work / f"{number}.wav"
        seconds = spoken_wav(said, path)
        transcript, wall, cpu = _timed(engine, path, seconds)
        heard.append((said, transcript.text))
        ratios.append(wall / seconds)
        cpu_ratios.append(cpu / seconds)

    together = work / "together.wav"
    together_s = spoken_wav(PAUSE.join(sentences), together)
    joined, joined_wall, _ = _timed(engine, together, together_s)

    short, long = work / "short.wav", work / "long.wav"
    short_s, long_s = _repeated(together, short, short_s), _repeated(together, long, long_s)
    engine.transcribe(short, short_s)  # a decoder loaded and used: what a worker holds anyway
    pid = os.getpid()
    at_rest = memory_mb(pid, "VmRSS")
    _, short_peak = sampled_peak(pid, lambda: engine.transcribe(short, short_s))
    (long_transcript, long_wall, _), long_peak = sampled_peak(pid, lambda: _timed(engine, long, long_s))

    rows = [
        (
            f"{len(sentences)} sentences, one recording each: word error rate, all words "
            "(median of the sentences)",
            f"{_wer(heard):.0%} ({statistics.median(word_error_rate(s, h) for s, h in heard):.0%})",
        ),
        (
            "real-time factor, wall clock (CPU), median of the sentences",
            f"{statistics.median(ratios):.2f} ({statistics.median(cpu_ratios):.2f})",
        ),
        (
            f"the {len(sentences)} in one {together_s:.0f} s recording with 1.5 s pauses: word error rate, "
            "real-time factor, segments",
            f"{word_error_rate(' '.join(sentences), joined.text):.0%}, {joined_wall / together_s:.2f}, "
            f"{len(joined.segments)}",
        ),
        (
            f"a {_span(long_s)} recording (that one repeated): real-time factor, segments",
            f"{long_wall / long_s:.2f}, {len(long_transcript.segments)}",
        ),
        (
            f"resident memory above a warmed-up decoder while it transcribes {_span(long_s)} "
            f"({_span(short_s)})",
            f"{long_peak - at_rest:.0f} MiB ({short_peak - at_rest:.0f} MiB)",
        ),
    ]
    sentences_table = [
        (said, said_as or "—", f"{word_error_rate(said, said_as):.0%}") for said, said_as in heard
    ]
    facts = (f"PocketSphinx {version('pocketsphinx')}", f"espeak-ng's {VOICE} voice")
    publish(
        "speech",
        [
            table(title("Offline speech to text", *facts), ("measure", "value"), rows),
            table("What each sentence was heard as", ("said", "heard", "word errors"), sentences_table),
        ],
        smoke=smoke,
    )


if __name__ == "__main__":
    main()
