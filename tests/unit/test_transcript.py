"""A transcript as txt, JSON, SubRip and WebVTT: the exact bytes for a known transcript."""

from __future__ import annotations

import msgspec

from service.speech import Segment, SpokenWord, Transcript, render
from service.speech.transcript import CUE_CHARS, LINE_CHARS, cues

WORDS = [
    SpokenWord("the", 0.5, 0.62, 0.9),
    SpokenWord("total", 0.62, 1.0, 0.75),
    SpokenWord("is", 1.0, 1.1),
    SpokenWord("forty", 1.1, 1.5, 0.5),
    SpokenWord("two", 1.5, 1.8, 1.0),
    SpokenWord("dollars", 1.8, 2.25, 0.25),
]
LONG = (
    "Payment is due within thirty days of the invoice date. "
    "Late payments incur a fee of two percent per month."
)
TRANSCRIPT = Transcript(
    text=f"the total is forty two dollars\n{LONG}\nQ&A <notes> --> done",
    language="en",
    duration=3675.0,
    segments=[
        Segment(0.5, 2.25, "the total is forty two dollars", WORDS),
        # Over an hour in, too long for one cue, and no words: shared out by characters.
        Segment(3661.0, 3671.0, LONG),
        Segment(3672.0, 3673.0, "Q&A <notes> --> done"),
        Segment(3674.0, 3675.0, "  "),
    ],
    engine="pocketsphinx",
    model="en-us",
)


def test_txt_is_the_text_and_a_newline():
    assert render(TRANSCRIPT, "txt") == (
        b"the total is forty two dollars\n"
        b"Payment is due within thirty days of the invoice date. "
        b"Late payments incur a fee of two percent per month.\n"
        b"Q&A <notes> --> done\n"
    )


def test_srt_numbers_its_cues_with_comma_milliseconds_and_blank_lines_between():
    # The long segment is cut after its first sentence, each half on two even lines, at the
    # time its characters give: 55 of its 107 characters of 10 s end at 3666.140.
    assert render(TRANSCRIPT, "srt").decode() == (
        "1\n"
        "00:00:00,500 --> 00:00:02,250\n"
        "the total is forty two dollars\n"
        "\n"
        "2\n"
        "01:01:01,000 --> 01:01:06,140\n"
        "Payment is due within thirty\n"
        "days of the invoice date.\n"
        "\n"
        "3\n"
        "01:01:06,140 --> 01:01:11,000\n"
        "Late payments incur a fee\n"
        "of two percent per month.\n"
        "\n"
        "4\n"
        "01:01:12,000 --> 01:01:13,000\n"
        "Q&A <notes> -> done\n"
    )


def test_vtt_has_its_header_dot_milliseconds_and_escaped_markup():
    assert render(TRANSCRIPT, "vtt").decode() == (
        "WEBVTT\n"
        "\n"
        "00:00:00.500 --> 00:00:02.250\n"
        "the total is forty two dollars\n"
        "\n"
        "01:01:01.000 --> 01:01:06.140\n"
        "Payment is due within thirty\n"
        "days of the invoice date.\n"
        "\n"
        "01:01:06.140 --> 01:01:11.000\n"
        "Late payments incur a fee\n"
        "of two percent per month.\n"
        "\n"
        "01:01:12.000 --> 01:01:13.000\n"
        "Q&amp;A &lt;notes&gt; -&gt; done\n"
    )


def test_json_has_segments_with_times_and_words_where_there_are_any():
    transcript = Transcript(
        text="forty two",
        language=None,
        duration=2.0,
        segments=[Segment(0.25, 1.5, "forty two", [WORDS[2], WORDS[3]]), Segment(1.5, 2.0, "hm")],
        engine="openai",
    )
    assert render(transcript, "json") == (
        b'{"text":"forty two","language":null,"duration":2.0,"segments":['
        b'{"start":0.25,"end":1.5,"text":"forty two","words":['
        b'{"text":"is","start":1.0,"end":1.1},{"text":"forty","start":1.1,"end":1.5,"confidence":0.5}]},'
        b'{"start":1.5,"end":2.0,"text":"hm"}],"engine":"openai"}'
    )
    assert msgspec.json.decode(render(TRANSCRIPT, "json"), type=Transcript) == TRANSCRIPT


def test_silence_is_an_empty_file_or_a_bare_header():
    silence = Transcript(text="", language="en", duration=3.0, segments=[], engine="pocketsphinx")
    assert render(silence, "txt") == b""
    assert render(silence, "srt") == b""
    assert render(silence, "vtt") == b"WEBVTT\n"


def test_a_long_segment_with_words_is_cut_at_word_times_into_cues_that_fit():
    tokens = [f"word{number:02d}" for number in range(40)]  # 40 x 6 characters, 279 in all
    words = [SpokenWord(token, 10 + number * 0.5, 10.4 + number * 0.5) for number, token in enumerate(tokens)]
    found = cues(
        Transcript(
            text=" ".join(tokens),
            language="en",
            duration=40.0,
            segments=[Segment(10.0, 29.9, " ".join(tokens), words)],
            engine="pocketsphinx",
        )
    )
    assert [len(" ".join(cue.lines).split()) for cue in found] == [12, 12, 12, 4]
    assert all(len(line) <= LINE_CHARS for cue in found for line in cue.lines)
    assert all(len(" ".join(cue.lines)) <= CUE_CHARS for cue in found)
    assert [(cue.start, cue.end) for cue in found] == [(10.0, 15.9), (16.0, 21.9), (22.0, 27.9), (28.0, 29.9)]
