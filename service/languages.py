"""Which language a text is written in, as a Tesseract language code: ``language_of(text, candidates)``.

py3langid (a naive Bayes model over byte n-grams, shipped inside its wheel: nothing is
downloaded) names the language among ``candidates`` only, the Tesseract languages installed
here that write the page's script, so it never answers a language Tesseract could not read
the page in. Its ISO 639-1 answer is mapped back to the Tesseract code (``LANGUAGES``). A text
too short to judge, or judged without enough confidence, has no language (None): the caller
falls back and says so.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection
from typing import Any, NamedTuple

#: The language ``lang=auto`` falls back to, and reads a page in first when its script is Latin.
FALLBACK = "eng"
#: The script a page is taken to be in when Tesseract's OSD cannot tell (too little text).
LATIN = "Latin"


class Language(NamedTuple):
    """A Tesseract language: its ISO 639-1 code (py3langid's) and the script it is written in
    (as Tesseract's OSD names scripts)."""

    iso: str
    script: str


#: The Tesseract languages ``lang=auto`` can detect (those py3langid knows), by Tesseract code.
#: Several Tesseract languages may share an ISO code (chi_sim, chi_tra): the first installed wins.
LANGUAGES: dict[str, Language] = {
    code: Language(iso, script)
    for script, pairs in {
        "Latin": "eng en deu de fra fr spa es ita it nld nl por pt pol pl ces cs slk sk slv sl hrv hr "
        "bos bs ron ro hun hu fin fi swe sv dan da nor no isl is est et lav lv lit lt tur tr cat ca "
        "eus eu glg gl gle ga cym cy mlt mt afr af sqi sq ind id msa ms vie vi tgl tl lat la epo eo "
        "fao fo fry fy ltz lb oci oc aze az uzb uz swa sw yor yo",
        "Cyrillic": "rus ru ukr uk bel be bul bg mkd mk srp sr kaz kk kir ky tat tt tgk tg mon mn",
        "Greek": "ell el",
        "Arabic": "ara ar fas fa urd ur pus ps uig ug",
        "Hebrew": "heb he",
        "Devanagari": "hin hi mar mr nep ne san sa",
        "Bengali": "ben bn asm as",
        "Tamil": "tam ta",
        "Telugu": "tel te",
        "Kannada": "kan kn",
        "Malayalam": "mal ml",
        "Gujarati": "guj gu",
        "Gurmukhi": "pan pa",
        "Oriya": "ori or",
        "Thai": "tha th",
        "Lao": "lao lo",
        "Khmer": "khm km",
        "Myanmar": "mya my",
        "Sinhala": "sin si",
        "Georgian": "kat ka",
        "Armenian": "hye hy",
        "Ethiopic": "amh am",
        "Han": "chi_sim zh chi_tra zh",
        "Japanese": "jpn ja",
        "Hangul": "kor ko",
    }.items()
    for code, iso in zip(pairs.split()[::2], pairs.split()[1::2], strict=True)
}
#: OSD's other names for the scripts above (it names Chinese, Japanese and Korean variously).
_SCRIPT_ALIASES = {
    "HanS": "Han",
    "HanT": "Han",
    "Katakana": "Japanese",
    "Hiragana": "Japanese",
    "Korean": "Hangul",
}
#: Japanese pages mix Han characters with kana: OSD may call them either.
_ALSO = {"Han": ("Japanese",), "Japanese": ("Han",)}

#: A text with fewer letters than this says too little about its language.
MIN_LETTERS = 20
#: py3langid's probability (normalized over the candidates) under which its answer is a guess:
#: on the eight-language invoice set, right answers scored 0.64 to 0.99.
MIN_PROBABILITY = 0.5


def languages_of_script(script: str | None, installed: Collection[str]) -> list[str]:
    """The ``installed`` Tesseract languages that write ``script`` (an OSD script name; None:
    Latin), ``FALLBACK`` first, then by code."""
    script = _SCRIPT_ALIASES.get(script or LATIN, script or LATIN)
    scripts = {script, *_ALSO.get(script, ())}
    found = sorted(code for code in installed if code in LANGUAGES and LANGUAGES[code].script in scripts)
    return sorted(found, key=lambda code: code != FALLBACK)


def scripts_of(installed: Collection[str]) -> set[str]:
    """The scripts the ``installed`` Tesseract languages write (of those in ``LANGUAGES``)."""
    return {LANGUAGES[code].script for code in installed if code in LANGUAGES}


def language_of(text: str, candidates: list[str]) -> tuple[str, float] | None:
    """The language of ``text`` among ``candidates`` (Tesseract codes), with py3langid's
    probability; None when the text has too few letters, no candidate is likely enough, or
    there is none. A single candidate is the answer without a look."""
    if len(candidates) <= 1:
        return (candidates[0], 1.0) if candidates else None
    if sum(char.isalpha() for char in text) < MIN_LETTERS:
        return None
    by_iso: dict[str, str] = {}
    for code in candidates:
        by_iso.setdefault(LANGUAGES[code].iso, code)
    iso, probability = _identifier(frozenset(by_iso)).classify(text)
    if probability < MIN_PROBABILITY:
        return None
    return by_iso[iso], probability


def prepare(candidates: list[str]) -> None:
    """Load the model restricted to ``candidates`` now (1.5 s for the eight languages of the
    invoice set), rather than on the first page: a worker does it once, before its jobs fork."""
    if len(candidates) > 1:
        _identifier(frozenset(LANGUAGES[code].iso for code in candidates))


_lock = threading.Lock()
_model: Any = None
_identifiers: dict[frozenset[str], Any] = {}


def _identifier(isos: frozenset[str]) -> Any:
    """A py3langid identifier restricted to ``isos``: the model is loaded once per process
    (0.7 s), and each restriction made once, on a copy (``set_languages`` changes the
    identifier it is called on, which other threads may be using)."""
    global _model
    with _lock:
        if isos not in _identifiers:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped, unused-ignore]

            if _model is None:
                _model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            restricted = copy.copy(_model)
            restricted.set_languages(sorted(isos))
            _identifiers[isos] = restricted
        return _identifiers[isos]
