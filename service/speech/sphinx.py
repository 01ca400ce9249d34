"""The offline speech engine: PocketSphinx 5 with the US English models its wheel ships.

The WAV is read in chunks of ``CHUNK_S`` seconds. PocketSphinx's voice activity detector
(``Endpointer``) finds the stretches of speech; each is decoded as one utterance, so the
decoder's memory is bounded by the longest utterance, never by the recording: speech without a
pause is cut at its first quiet frame after ``SOFT_UTTERANCE_S``, or at ``MAX_UTTERANCE_S``.
Within an utterance, the decoder's ``<sil>`` tokens of at least ``PAUSE_S`` end a segment, and
any silence ends one longer than a subtitle. Words carry their times (the decoder counts 100
frames a second) and their posterior probability as confidence. The decoder's cepstral mean is
first estimated on the first ``PRIME_S`` seconds (``_prime``).

Decoding is CPU work on one thread, about five times faster than real time
(docs/benchmarks.md); it gives up after ``BASE_SECONDS + SECONDS_PER_SECOND × duration``
(EngineError). Loaded decoders (0.3 s and ~90 MB each) are kept for the next recording, as
many as were ever busy at once.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pocketsphinx

from service.errors import EngineError, InvalidOption
from service.speech.transcript import CUE_CHARS, Segment, SpokenWord, Transcript

#: The sound the decoder reads, as the caller's ffmpeg writes it.
RATE = 16_000
SAMPLE_BYTES = 2
#: The decoder's frames per second.
FRAMES_PER_S = 100
#: Seconds of sound read at a time.
CHUNK_S = 1.0
#: Speech longer than this is cut at its next quiet frame, or at the latest at the next.
SOFT_UTTERANCE_S = 20.0
MAX_UTTERANCE_S = 30.0
#: A silence at least this long inside an utterance ends a segment; so does any silence, once
#: the segment is longer than a subtitle (two lines of 42 characters).
PAUSE_S = 0.3
LONG_SEGMENT_CHARS = CUE_CHARS
#: The time limit: this many seconds, plus this many per second of sound (decoding takes about
#: 0.2 s per second of sound on one core: the margin is for a busy machine).
BASE_SECONDS = 60.0
SECONDS_PER_SECOND = 2.0
#: The languages the shipped models know, as a client may name them.
LANGUAGES = frozenset({"en", "en-us", "en_us", "eng", "english"})
MODEL = "en-us"
#: The cepstral mean is estimated on this much sound first, in this many passes, each moving
#: the decoder's running estimate further from the model's own towards the recording's.
PRIME_S = 10.0
PRIME_PASSES = 3
#: Progress is reported as thousandths, at most this often.
PROGRESS_EVERY_S = 0.5

ProgressCallback = Callable[[int, int], None]
#: A decoder's words that are no words: silence, noise, the utterance's ends.
_FILLER = re.compile(r"^(<.*>|\[.*\]|\+\+.*\+\+)$")
#: The search the cepstral mean is primed with.
_PRIMER = "primer"
_VARIANT = re.compile(r"\(\d+\)$")  # "read(2)": the dictionary's second pronunciation


class _Decoders:
    """Loaded decoders not in use: a decoder serves one recording at a time."""

    def __init__(self) -> None:
        self._idle: list[tuple[pocketsphinx.Decoder, str]] = []
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def lease(self) -> Iterator[pocketsphinx.Decoder]:
        """A decoder in its initial state, returned to the idle ones afterwards."""
        with self._lock:
            entry = self._idle.pop() if self._idle else None
        if entry is None:
            decoder = pocketsphinx.Decoder(loglevel="FATAL")
            decoder.add_jsgf_string(_PRIMER, f"#JSGF V1.0; grammar {_PRIMER}; public <word> = total;")
            entry = (decoder, decoder.get_cmn())
        decoder, initial_cmn = entry
        # The cepstral mean adapts to each recording; the next one starts from the model's.
        decoder.set_cmn(initial_cmn)
        # A decoder left by an error, maybe in the middle of an utterance, is not kept.
        yield decoder
        with self._lock:
            self._idle.append(entry)


_DECODERS = _Decoders()


class SphinxEngine:
    """Speech to text on this machine, US English only."""

    name = "pocketsphinx"

    @staticmethod
    def check(language: str | None) -> None:
        """InvalidOption unless ``language`` is English (or not given)."""
        if language is not None and language.lower() not in LANGUAGES:
            raise InvalidOption(
                f"The offline speech engine understands English only, not {language!r}; "
                "a speech server (LECTOR_ASR_MODEL) understands more."
            )

    def transcribe(
        self,
        audio: Path,
        duration: float,
        *,
        language: str | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> Transcript:
        """The transcript of ``audio``, a 16 kHz mono 16-bit WAV of ``duration`` seconds."""
        self.check(language)
        limit = BASE_SECONDS + SECONDS_PER_SECOND * duration
        deadline = time.monotonic() + limit
        segments: list[Segment] = []
        with _wav(audio) as sound, _DECODERS.lease() as decoder:
            _prime(decoder, sound)
            total = max(sound.getnframes(), 1)
            reported = time.monotonic()
            for done in _decode(sound, decoder, segments):
                now = time.monotonic()
                if now > deadline:
                    raise EngineError(
                        f"Transcribing the audio took longer than its time limit of {limit:.0f} seconds."
                    )
                if on_progress is not None and now - reported >= PROGRESS_EVERY_S:
                    reported = now
                    on_progress(min(1000 * done // total, 999), 1000)
        if on_progress is not None:
            on_progress(1000, 1000)
        return Transcript(
            text="\n".join(segment.text for segment in segments),
            language="en",
            duration=duration,
            segments=segments,
            engine=self.name,
            model=MODEL,
        )


@contextlib.contextmanager
def _wav(audio: Path) -> Iterator[wave.Wave_read]:
    """``audio`` open for reading; EngineError unless it is the WAV the caller promised."""
    try:
        sound = wave.open(str(audio), "rb")  # noqa: SIM115 (closed below, once its errors are mapped)
    except (OSError, wave.Error, EOFError):
        raise EngineError("The speech engine cannot read the WAV file it was given.") from None
    with sound:
        if (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) != (RATE, 1, SAMPLE_BYTES):
            raise EngineError("The speech engine was given a WAV that is not 16 kHz mono 16-bit PCM.")
        yield sound


def _prime(decoder: pocketsphinx.Decoder, sound: wave.Wave_read) -> None:
    """Let the decoder's cepstral mean settle on the recording's first ``PRIME_S`` seconds
    before it decodes them: started from the model's, it would take the first utterances to
    adapt, and misread them (on the speech benchmark's ten sentences, 55 % of the words wrong
    instead of 38 %).

    The passes search a grammar of one word: the mean is the same as the language model's
    search would leave, in a fortieth of the time (0.03 s for 10 s of sound).
    """
    sound.rewind()
    data = sound.readframes(int(PRIME_S * RATE))
    sound.rewind()
    decoder.activate_search(_PRIMER)
    for _ in range(PRIME_PASSES):
        decoder.start_utt()
        decoder.process_raw(data, False, False)
        decoder.end_utt()
    decoder.activate_search()  # the language model again


def _decode(sound: wave.Wave_read, decoder: pocketsphinx.Decoder, segments: list[Segment]) -> Iterator[int]:
    """Decode ``sound`` utterance by utterance into ``segments``; yields the samples read so
    far after each chunk."""
    utterances = _Utterances(decoder, segments)
    frame_bytes = utterances.endpointer.frame_bytes
    chunk_samples = max(int(CHUNK_S * RATE * SAMPLE_BYTES) // frame_bytes, 1) * frame_bytes // SAMPLE_BYTES
    # The last frame, whole or not, is held back for the endpointer's end_stream, which needs
    # one to flush the speech it still buffers.
    read, last = 0, b""
    while data := sound.readframes(chunk_samples):
        read += len(data) // SAMPLE_BYTES
        data = last + data
        keep = len(data) % frame_bytes or frame_bytes
        for offset in range(0, len(data) - keep, frame_bytes):
            utterances.frame(data[offset : offset + frame_bytes])
        last = data[len(data) - keep :]
        yield read
    utterances.end(last)
    yield read


class _Utterances:
    """Frames of sound in, segments out: the endpointer says where speech is, the decoder
    reads each stretch of it as one utterance."""

    def __init__(self, decoder: pocketsphinx.Decoder, segments: list[Segment]) -> None:
        self.decoder = decoder
        self.segments = segments
        self.endpointer = pocketsphinx.Endpointer(sample_rate=RATE)
        self.vad = pocketsphinx.Vad(sample_rate=RATE, frame_length=self.endpointer.frame_length)
        self.start: int | None = None  # the sample the utterance being decoded starts at
        self.decoded = 0  # its samples so far
        self.at = 0  # the sample the endpointer's next speech starts at

    def frame(self, frame: bytes) -> None:
        """Take one frame of ``endpointer.frame_bytes``."""
        was_in_speech = self.endpointer.in_speech
        speech = self.endpointer.process(frame)
        if speech is not None:
            self._speech(speech, was_in_speech)

    def end(self, last: bytes) -> None:
        """Take the sound's last frame, whole or not (none: no sound), and finish the utterance."""
        if self.endpointer.in_speech and last:
            speech = self.endpointer.end_stream(last)
            if speech is not None:
                self._speech(speech, True)
        if self.start is not None:
            self._finish()

    def _speech(self, speech: bytes, was_in_speech: bool) -> None:
        if not was_in_speech:
            self.at = round(self.endpointer.speech_start * RATE)
        if self.start is None:
            self.decoder.start_utt()
            self.start, self.decoded = self.at, 0
        self.decoder.process_raw(speech, False, False)
        samples = len(speech) // SAMPLE_BYTES
        self.at += samples
        self.decoded += samples
        # Long speech is cut at its next quiet frame, or at the latest at MAX_UTTERANCE_S.
        quiet = (
            self.decoded >= SOFT_UTTERANCE_S * RATE
            and len(speech) == self.vad.frame_bytes
            and not self.vad.is_speech(speech)
        )
        if not self.endpointer.in_speech or quiet or self.decoded >= MAX_UTTERANCE_S * RATE:
            self._finish()

    def _finish(self) -> None:
        assert self.start is not None
        self.decoder.end_utt()
        self.segments.extend(_segments(self.decoder, self.start / RATE))
        self.start = None


def _segments(decoder: pocketsphinx.Decoder, offset: float) -> list[Segment]:
    """The decoded utterance as segments, split at its pauses; times from ``offset`` seconds."""
    found: list[Segment] = []
    words: list[SpokenWord] = []
    for token in decoder.seg():
        start = round(offset + token.start_frame / FRAMES_PER_S, 2)
        end = round(offset + (token.end_frame + 1) / FRAMES_PER_S, 2)
        if _FILLER.match(token.word):
            long = sum(len(word.text) + 1 for word in words) > LONG_SEGMENT_CHARS
            if words and (end - start >= PAUSE_S or long):
                found.append(_segment(words))
                words = []
            continue
        confidence = round(min(max(float(token.prob), 0.0), 1.0), 3)
        words.append(
            SpokenWord(text=_VARIANT.sub("", token.word), start=start, end=end, confidence=confidence)
        )
    if words:
        found.append(_segment(words))
    return found


def _segment(words: list[SpokenWord]) -> Segment:
    return Segment(
        start=words[0].start, end=words[-1].end, text=" ".join(word.text for word in words), words=words
    )
