"""Which language a text is in, among the installed Tesseract languages (service.languages)."""

from __future__ import annotations

import pytest

from service.languages import FALLBACK, LANGUAGES, language_of, languages_of_script

INSTALLED = {"osd", "eng", "deu", "fra", "pol", "rus", "chi_sim", "jpn"}


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (None, ["eng", "deu", "fra", "pol"]),  # OSD could not tell: the Latin script, English first
        ("Latin", ["eng", "deu", "fra", "pol"]),
        ("Cyrillic", ["rus"]),
        ("HanS", ["chi_sim", "jpn"]),  # OSD's names vary; Japanese writes Han characters too
        ("Arabic", []),
    ],
)
def test_the_candidates_are_the_installed_languages_of_the_script(script, expected):
    assert languages_of_script(script, INSTALLED) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Vielen Dank für Ihre Bestellung. Bitte überweisen Sie den Gesamtbetrag bis zum Monatsende.", "deu"),
        ("Thank you for your order. Please pay the amount due by the end of the month.", "eng"),
        ("Merci pour votre commande. Veuillez régler le montant dû avant la fin du mois.", "fra"),
        ("Dziękujemy za zamówienie. Prosimy o zapłatę kwoty do końca miesiąca.", "pol"),
    ],
)
def test_a_text_is_found_in_its_language(text, expected):
    language, probability = language_of(text, ["eng", "deu", "fra", "pol"]) or ("none", 0)
    assert language == expected and 0.5 <= probability <= 1


def test_a_language_that_is_not_a_candidate_is_never_answered():
    german = "Vielen Dank für Ihre Bestellung. Bitte überweisen Sie den Gesamtbetrag bis zum Monatsende."
    found = language_of(german, ["eng", "fra"])
    assert found is None or found[0] in ("eng", "fra")


def test_too_few_letters_or_no_candidate_say_nothing_and_one_candidate_is_the_answer_unseen():
    assert language_of("INV-2024-0042 12.03.2024 1.234,56", ["eng", "deu"]) is None
    assert language_of("", [FALLBACK]) == (FALLBACK, 1.0)
    assert language_of("Thank you for your order. Please pay the amount due.", []) is None


def test_every_language_of_the_table_is_one_the_identifier_knows():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    known = set(LanguageIdentifier.from_model_file(MODEL_FILE).labels)
    assert {language.iso for language in LANGUAGES.values()} <= known
