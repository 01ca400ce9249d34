"""Speech to text on any OpenAI-compatible transcription server (its audio transcriptions
endpoint, ``/v1/audio/transcriptions``): faster-whisper servers, whisper.cpp's server, vLLM, or
OpenAI itself.

Configured by ``LECTOR_ASR_MODEL``, which enables it, ``LECTOR_ASR_BASE_URL`` and
``LECTOR_ASR_API_KEY`` (unset: the vision model's ``OPENAI_BASE_URL`` and ``OPENAI_API_KEY``),
all read once into the settings it is built with. It asks for ``verbose_json`` with segment
and word times; a server that answers plain ``json`` (the text only) gives one segment over
the whole recording, and a server that refuses ``verbose_json`` with a 400 is asked again for
plain ``json``. Retries and errors follow the vision model's engine (``service.engines.llm``):
3 retries with backoff for 408, 409, 429, 5xx, timeouts and lost connections; a 401 or 403 is
LlmCredentialsRejected at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec
import openai

from service.engines.llm import MAX_RETRIES
from service.errors import (
    EngineUnavailable,
    LlmCredentialsRejected,
    ModelRefused,
    ModelServerError,
    ModelTimeout,
    ModelUnreachable,
)
from service.settings import Settings
from service.speech.transcript import Segment, SpokenWord, Transcript

ResponseFormat = Literal["verbose_json", "json"]


class _Word(msgspec.Struct):
    word: str
    start: float
    end: float
    #: whisper.cpp and faster-whisper servers give it; OpenAI does not.
    probability: float | None = None


class _Segment(msgspec.Struct):
    start: float
    end: float
    text: str
    #: faster-whisper and whisper.cpp servers put the words in their segments; OpenAI lists
    #: them beside the segments.
    words: list[_Word] | None = None


class _Reply(msgspec.Struct):
    """A transcription server's answer: ``json`` has the text only, ``verbose_json`` more."""

    text: str
    language: str | None = None
    segments: list[_Segment] | None = None
    words: list[_Word] | None = None


class OpenAIEngine:
    """A speech model behind the OpenAI audio transcriptions API, one call per recording."""

    name = "openai"

    def __init__(self, settings: Settings, *, max_retries: int = MAX_RETRIES) -> None:
        if not settings.asr_model:
            raise EngineUnavailable("No speech model is configured on this server (LECTOR_ASR_MODEL).")
        self.model = settings.asr_model
        self._timeout_s = settings.asr_timeout_s
        # Local servers often need no key; the client insists on one.
        self._client = openai.OpenAI(
            api_key=settings.asr_api_key or settings.openai_api_key or "none",
            base_url=settings.asr_base_url or settings.openai_base_url,
            timeout=settings.asr_timeout_s,
            max_retries=max_retries,
        )

    def transcribe(self, audio: Path, duration: float, *, language: str | None = None) -> Transcript:
        """The transcript of the recording ``audio`` (any format the server reads; ffmpeg's
        16 kHz WAV here), ``duration`` seconds long; ``language`` an ISO-639-1 code, or None
        for the server to find out."""
        timeout = self._timeout_s + duration  # a long recording takes long, also on a GPU
        try:
            body = self._call(audio, "verbose_json", language, timeout)
        except openai.BadRequestError:  # a server that knows no verbose_json: the text alone
            try:
                body = self._call(audio, "json", language, timeout)
            except openai.BadRequestError:
                raise ModelRefused("The transcription server refused the request (400).") from None
        try:
            reply = msgspec.json.decode(body, type=_Reply)
        except msgspec.DecodeError:
            raise ModelServerError(
                "The transcription server's answer is not the JSON it should be."
            ) from None
        return Transcript(
            text=reply.text.strip(),
            language=reply.language or language,
            duration=duration,
            segments=_segments(reply, duration),
            engine=self.name,
            model=self.model,
        )

    def _call(
        self, audio: Path, response_format: ResponseFormat, language: str | None, timeout: float
    ) -> bytes:
        """The body of the server's answer to one transcription request."""
        extra: dict[str, Any] = {}
        if response_format == "verbose_json":
            extra["timestamp_granularities"] = ["segment", "word"]
        try:
            with audio.open("rb") as file:
                answer = self._client.audio.transcriptions.with_raw_response.create(
                    model=self.model,
                    file=(
                        audio.name,
                        file,
                        "audio/wav" if audio.suffix == ".wav" else "application/octet-stream",
                    ),
                    response_format=response_format,
                    language=language or openai.omit,
                    timeout=timeout,
                    **extra,
                )
                return answer.content
        except openai.BadRequestError:
            raise
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            raise LlmCredentialsRejected("The transcription server rejected Lector's credentials.") from None
        except openai.APITimeoutError:
            raise ModelTimeout(f"The transcription server did not answer within {timeout:.0f} s.") from None
        except openai.APIConnectionError:
            raise ModelUnreachable("The transcription server cannot be reached.") from None
        except openai.APIStatusError as exc:
            raise ModelServerError(f"The transcription server answered {exc.status_code}.") from None


def _segments(reply: _Reply, duration: float) -> list[Segment]:
    """The reply's segments with their words; the text as one segment when it has none."""
    if reply.segments is None:
        text = reply.text.strip()
        return [Segment(start=0.0, end=max(duration, 0.0), text=text)] if text else []
    loose = sorted(reply.words or [], key=lambda word: word.start)
    segments, taken = [], 0
    for segment in reply.segments:
        if segment.words is not None:
            words = segment.words
        else:  # OpenAI's words stand beside its segments: each goes where it starts
            words = []
            while taken < len(loose) and loose[taken].start < segment.end:
                words.append(loose[taken])
                taken += 1
        text = segment.text.strip()
        if not text:
            continue
        segments.append(
            Segment(
                start=max(segment.start, 0.0),
                end=max(segment.end, segment.start, 0.0),
                text=text,
                words=[_word(word) for word in words if word.word.strip()],
            )
        )
    return segments


def _word(word: _Word) -> SpokenWord:
    confidence = None if word.probability is None else min(max(word.probability, 0.0), 1.0)
    return SpokenWord(
        text=word.word.strip(),
        start=max(word.start, 0.0),
        end=max(word.end, word.start, 0.0),
        confidence=confidence,
    )
