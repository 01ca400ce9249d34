"""What a speech engine returns, and that transcript as a file: plain text, JSON, SRT, WebVTT.

Subtitles follow the usual broadcast habits: a cue holds at most two lines of
``LINE_CHARS`` characters, so a longer segment is shown as several cues, timed by its words
when the engine gave them and by its characters otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, NamedTuple, cast

import msgspec
from msgspec import Meta

#: The longest subtitle line, and the lines of one cue.
LINE_CHARS = 42
CUE_LINES = 2
CUE_CHARS = LINE_CHARS * CUE_LINES

Seconds = Annotated[float, Meta(ge=0)]


class SpokenWord(msgspec.Struct, frozen=True, omit_defaults=True):
    """One recognised word and when it was said."""

    text: str
    start: Seconds
    end: Seconds
    confidence: Annotated[float, Meta(ge=0, le=1)] | None = None


class Segment(msgspec.Struct, frozen=True, omit_defaults=True):
    """A stretch of speech between pauses: its times, its text and, when the engine gives
    them, its words."""

    start: Seconds
    end: Seconds
    text: str
    words: list[SpokenWord] = []


class Transcript(msgspec.Struct, frozen=True, omit_defaults=True):
    """The text of a recording, in time-stamped segments."""

    text: str
    language: Annotated[str | None, Meta(description="as the engine names it (`en`, `english`)")]
    duration: Annotated[Seconds, Meta(description="the recording's length in seconds")]
    segments: list[Segment]
    engine: Annotated[str, Meta(description="`pocketsphinx` or `openai` (an OpenAI-compatible server)")]
    model: str | None = None


#: The formats a transcript is written in.
TranscriptFormat = Literal["txt", "json", "srt", "vtt"]


def as_txt(transcript: Transcript) -> bytes:
    """The text, ending with a newline (empty for silence)."""
    text = transcript.text.strip()
    return f"{text}\n".encode() if text else b""


def as_json(transcript: Transcript) -> bytes:
    """The transcript as JSON: the text, the language, the duration, the engine and the
    segments with their times and words."""
    return msgspec.json.encode(transcript)


def as_srt(transcript: Transcript) -> bytes:
    """SubRip: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, a blank line after each."""
    blocks = [
        f"{number}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n" + "\n".join(cue.lines)
        for number, cue in enumerate(cues(transcript), 1)
    ]
    return "\n\n".join(blocks).encode() + (b"\n" if blocks else b"")


def as_vtt(transcript: Transcript) -> bytes:
    """WebVTT: the header, then cues ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` separated by blank lines."""
    blocks = ["WEBVTT"] + [
        f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n"
        + "\n".join(_vtt_escape(line) for line in cue.lines)
        for cue in cues(transcript)
    ]
    return ("\n\n".join(blocks) + "\n").encode()


#: Each format's renderer.
RENDERERS: dict[TranscriptFormat, Callable[[Transcript], bytes]] = {
    "txt": as_txt,
    "json": as_json,
    "srt": as_srt,
    "vtt": as_vtt,
}


def render(transcript: Transcript, target: str) -> bytes:
    """``transcript`` written as ``target`` (``txt``, ``json``, ``srt`` or ``vtt``);
    ValueError for another format."""
    renderer = RENDERERS.get(cast(TranscriptFormat, target))
    if renderer is None:
        raise ValueError(f"A transcript is not written as {target!r}.")
    return renderer(transcript)


class Cue(NamedTuple):
    """One subtitle on screen: from, until, and its lines."""

    start: float
    end: float
    lines: list[str]


def cues(transcript: Transcript) -> list[Cue]:
    """The subtitles of ``transcript``: each segment as one cue, or as several when its text
    does not fit in ``CUE_LINES`` lines of ``LINE_CHARS``."""
    found = []
    for segment in transcript.segments:
        # "-->" would end a cue's timing line early in a player; a blank line would end the cue.
        tokens = segment.text.replace("-->", "->").split()
        if not tokens:
            continue
        times = _token_times(segment, tokens)
        for first, last in _chunks(tokens):
            start, end = times[first][0], times[last - 1][1]
            found.append(Cue(start, max(end, start), _lines(" ".join(tokens[first:last]))))
    return found


def _token_times(segment: Segment, tokens: list[str]) -> list[tuple[float, float]]:
    """When each of ``tokens`` is said: the engine's word times when they match the text word
    for word, else the segment's span shared out by characters."""
    if len(segment.words) == len(tokens):
        return [(word.start, word.end) for word in segment.words]
    total = sum(len(token) + 1 for token in tokens)
    span = max(segment.end - segment.start, 0.0)
    times, done = [], 0
    for token in tokens:
        start = segment.start + span * done / total
        done += len(token) + 1
        times.append((start, segment.start + span * done / total))
    return times


def _chunks(tokens: list[str]) -> list[tuple[int, int]]:
    """``tokens`` cut into runs of at most ``CUE_CHARS`` characters (a longer word alone),
    preferring to cut after a sentence's or a clause's end in the second half of a run."""
    chunks, first = [], 0
    while first < len(tokens):
        last, length, cut = first, -1, None
        while last < len(tokens) and (last == first or length + 1 + len(tokens[last]) <= CUE_CHARS):
            length += 1 + len(tokens[last])
            last += 1
            if tokens[last - 1][-1] in ".?!,;:" and length >= CUE_CHARS // 2:
                cut = last
        if last < len(tokens) and cut is not None:
            last = cut
        chunks.append((first, last))
        first = last
    return chunks


def _lines(text: str) -> list[str]:
    """``text`` as one line, or as two lines of as even a length as its spaces allow."""
    if len(text) <= LINE_CHARS or " " not in text:
        return [text]
    middle = len(text) / 2
    spaces = [index for index, char in enumerate(text) if char == " "]
    split = min(spaces, key=lambda index: abs(index - middle))
    return [text[:split], text[split + 1 :]]


def _clock(seconds: float, separator: str) -> str:
    """``seconds`` as ``HH:MM:SS`` and milliseconds after ``separator``."""
    milliseconds = max(round(seconds * 1000), 0)
    hours, rest = divmod(milliseconds, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    whole, milliseconds = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{whole:02d}{separator}{milliseconds:03d}"


def _vtt_escape(line: str) -> str:
    """A cue line as WebVTT text: ``&``, ``<`` and ``>`` would otherwise start markup."""
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
