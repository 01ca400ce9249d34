"""Signed download URLs: valid, tampered, expired, and whatever a client sends instead."""

from __future__ import annotations

import pytest

from service.signing import signature, verify

SECRET = "s" * 32


def test_a_signed_url_is_valid_until_it_expires():
    mark = signature(SECRET, "abc", 2_000)
    assert verify(SECRET, "abc", "2000", mark, now=1_999) == "valid"
    assert verify(SECRET, "abc", "2000", mark, now=2_000) == "expired"


@pytest.mark.parametrize(
    ("conversion_id", "expires", "given"),
    [
        ("abd", "2000", None),  # another job
        ("abc", "2001", None),  # a longer life
        ("abc", "2000", "x"),  # another signature
        ("abc", "2000", "\u00f6\u0095x}"),  # not ASCII at all
        ("abc", "-1", None),
        ("abc", "9" * 13, None),
        ("\u00f6d\U000c530d", "0", "\u0095x"),
    ],
)
def test_anything_changed_is_tampered(conversion_id, expires, given):
    mark = given if given is not None else signature(SECRET, "abc", 2_000)
    assert verify(SECRET, conversion_id, expires, mark, now=1_000) == "tampered"
