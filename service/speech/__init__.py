"""Speech to text: a recording's transcript, and that transcript as txt, JSON, SRT or WebVTT.

With ``LECTOR_ASR_MODEL`` set, an OpenAI-compatible transcription server transcribes
(``openai_asr``: Whisper and its kin, any language, punctuated); without, PocketSphinx does,
here and offline (``sphinx``: US English, lower case, no punctuation, a rough draft). Both are
given the 16 kHz mono 16-bit WAV the media layer decodes any audio or video to.
"""

from __future__ import annotations

import functools
from pathlib import Path

from service.settings import Settings
from service.speech.openai_asr import OpenAIEngine
from service.speech.sphinx import ProgressCallback, SphinxEngine
from service.speech.transcript import (
    RENDERERS,
    Segment,
    SpokenWord,
    Transcript,
    TranscriptFormat,
    as_json,
    as_srt,
    as_txt,
    as_vtt,
    render,
)

__all__ = [
    "RENDERERS",
    "Segment",
    "SpokenWord",
    "Transcript",
    "TranscriptFormat",
    "as_json",
    "as_srt",
    "as_txt",
    "as_vtt",
    "check_language",
    "render",
    "transcribe",
]


def transcribe(
    audio: Path,
    duration: float,
    *,
    settings: Settings,
    language: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> Transcript:
    """The transcript of ``audio``, a 16 kHz mono 16-bit WAV of ``duration`` seconds.

    ``language`` is an ISO-639-1 code (None: English offline, detected by a server).
    ``on_progress(done, 1000)`` is called at most twice a second while PocketSphinx decodes,
    and once at the end. InvalidOption for a language the engine does not know; EngineError
    (LlmCredentialsRejected, ...) when the engine fails.
    """
    if settings.asr_model:
        transcript = _server(settings).transcribe(audio, duration, language=language)
        if on_progress is not None:
            on_progress(1000, 1000)
        return transcript
    return SphinxEngine().transcribe(audio, duration, language=language, on_progress=on_progress)


def check_language(language: str | None, *, settings: Settings) -> None:
    """InvalidOption when the configured engine cannot take ``language``: to refuse a request
    before its audio is decoded."""
    if not settings.asr_model:
        SphinxEngine.check(language)


@functools.lru_cache(maxsize=4)
def _server(settings: Settings) -> OpenAIEngine:
    """One engine, with its connection pool, per configuration in this process."""
    return OpenAIEngine(settings)
