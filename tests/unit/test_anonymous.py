"""Client labels become cohorts: normalized, cut, hashed with the secret."""

from service.tenants.anonymous import MAX_LABEL, cohort_of, normalize_label


def test_a_label_is_trimmed_lower_cased_collapsed_and_cut():
    assert normalize_label("  Acme \t Mobile\nPRODUCTION ") == "acme mobile production"
    assert len(normalize_label("x" * 500)) == MAX_LABEL


def test_the_same_label_however_written_is_one_cohort_and_the_secret_matters():
    one = cohort_of("Acme Mobile", "s" * 32)
    assert one == cohort_of("  acme   MOBILE ", "s" * 32)
    assert one.startswith("cohort_") and len(one) == len("cohort_") + 16
    assert cohort_of("Acme Mobile", "t" * 32) != one
    assert cohort_of("a" * 80 + "tail", "s" * 32) == cohort_of("a" * 80, "s" * 32)
