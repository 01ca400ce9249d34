"""``lang=auto``: each page read in the language detected on it (``DetectedLanguage``).

A page is first read as an English page would be, by the engine that reads the document type
in English (``Engines.ocr_engine``: Tesseract's ``eng``, or ppocr for receipts and invoices).
py3langid then names the language of that text among the installed Tesseract languages of
the Latin script (``service.languages``). When the first reading is unsure (its mean word
confidence under ``MIN_CONFIDENCE``, as Latin letters guessed on another script are) and a
language of another script is installed, Tesseract's OSD names the page's script first, and
the candidates are the installed languages of that script. Tesseract reads the page again,
in the language found, only when that is not the one the first reading used: an English page
costs one reading and a look-up of under a millisecond (the model loads once per process:
1.5 s with the invoice set's eight languages installed, ``prepare``). A page whose language
cannot be told is kept as it was read (in ``eng``, or in the first installed language of its
script), and the answer says so; a page with no words is ``eng`` without a word.
"""

from __future__ import annotations

import msgspec

from service import languages
from service.engines.base import Engine, Reading, ReadOptions
from service.engines.tesseract import TesseractEngine, installed_languages
from service.languages import FALLBACK, LATIN, MIN_LETTERS, language_of, languages_of_script, scripts_of
from service.pages import Page

#: A first reading whose mean word confidence (0 to 100) is under this may be of another
#: script: OSD is asked. Tesseract's eng read the invoice set's scans, in eight Latin-script
#: languages, at 83 to 95.
MIN_CONFIDENCE = 60.0


class DetectedLanguage:
    """An engine that reads each page in its own language: ``first`` reads it as English,
    ``tesseract`` again in the language detected when that is another. It takes the name,
    concurrency and pool of ``first``, in whose place it stands."""

    def __init__(self, first: Engine, tesseract: TesseractEngine) -> None:
        self.name = first.name
        self.concurrency = first.concurrency
        self._first, self._tesseract = first, tesseract

    @classmethod
    def check(cls, options: ReadOptions) -> None:
        """Nothing more than the engines it stands for check (``Engines.check``)."""

    def read(self, page: Page, options: ReadOptions) -> Reading:
        """Read ``page`` in its language; the result's ``language`` names it."""
        installed = installed_languages()
        used = FALLBACK if FALLBACK in installed else min(installed, default=FALLBACK)
        reading = self._first.read(page, msgspec.structs.replace(options, lang=used))
        if not reading.result.text.strip():
            reading.result.language = used
            return reading
        script = LATIN
        confidence = reading.result.confidence
        # OSD costs more than the reading (0.4 to 0.75 s a page): asked only when the reading
        # is unsure, when another script than Latin could change what the page is read in, and
        # when the page has text enough to tell a language by (a label or a logo does not).
        unsure = confidence is not None and confidence < MIN_CONFIDENCE
        wordy = sum(char.isalpha() for char in reading.result.text) >= MIN_LETTERS
        if unsure and wordy and scripts_of(installed) - {LATIN}:
            script = self._tesseract.script(page) or LATIN
        candidates = languages_of_script(script, installed)
        if not candidates:
            reading.result.language = used
            reading.warnings.append(
                f"Page {page.number} looks written in the {script} script, for which no Tesseract "
                f"language is installed; it was read as {used}."
            )
            return reading
        if used not in candidates:  # another script: read in one of its languages first
            other = self._tesseract.read(page, msgspec.structs.replace(options, lang=candidates[0]))
            # OSD takes a smudged Latin page for Cyrillic now and then (3 of sroie-dev's 157
            # receipts): the other script's reading stands only when Tesseract is surer of it.
            if (other.result.confidence or 0.0) <= (confidence or 0.0):
                reading.result.language = used
                return reading
            used, reading = candidates[0], other
        found = language_of(reading.result.text, candidates)
        if found is None:
            reading.result.language = used
            reading.warnings.append(
                f"The language of page {page.number} could not be told; it was read as {used}."
            )
            return reading
        language = found[0]
        # ppocr reads every Latin-script language as well as English: only Tesseract, whose
        # models are per language, reads the page again (ppocr's reading kept measured better
        # on the invoice set's scans than Tesseract's in their own language).
        if language != used and isinstance(self._first, TesseractEngine):
            reading = self._tesseract.read(page, msgspec.structs.replace(options, lang=language))
        reading.result.language = language
        return reading


def text_language(text: str) -> str | None:
    """The language of a page's own text (its text layer) among the installed Latin-script
    languages; None when it cannot be told."""
    found = language_of(text, languages_of_script(LATIN, installed_languages()))
    return found[0] if found else None


def prepare() -> None:
    """Load the language model for the installed Latin-script languages, which every page
    ``lang=auto`` reads is first looked up among (nothing when ``eng`` is the only one)."""
    languages.prepare(languages_of_script(LATIN, installed_languages()))
