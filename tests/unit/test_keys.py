"""The managed key format, grace durations and the RateLimit header fields, without Redis."""

from __future__ import annotations

import pytest

from service.api.ratelimit import headers_for
from service.errors import InvalidOption
from service.tenants import keys
from service.tenants.durations import grace_seconds
from service.tenants.limits import Limits, Reading, windows
from service.tenants.records import KeySettings, check_scopes


def test_a_key_has_its_prefix_id_secret_and_checksum():
    key_id = keys.new_key_id()
    key = keys.new_key(key_id)
    assert key.startswith(f"lec_{key_id}_") and len(key) == 4 + 12 + 1 + 22 + 6
    assert keys.key_id_of(key) == key_id
    assert keys.new_key(key_id) != key  # a fresh secret every time


def test_every_single_character_typo_is_caught_by_the_checksum():
    key = keys.new_key(keys.new_key_id())
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    start = len("lec_") + 12 + 1  # the secret and the checksum
    for position in range(start, len(key)):
        for replacement in alphabet[::7]:
            if replacement != key[position]:
                typo = key[:position] + replacement + key[position + 1 :]
                assert keys.key_id_of(typo) is None, typo


@pytest.mark.parametrize("text", ["", "lec_", "lec_abc", "lec_ABCDEFGHIJKL_" + "a" * 28, "sk-" + "a" * 40])
def test_malformed_keys_have_no_id(text):
    assert keys.key_id_of(text) is None


def test_the_stored_hash_is_sha256_of_the_whole_key():
    # sha256("abc"), the FIPS 180-2 test vector
    assert keys.key_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0), ("90", 90), ("90s", 90), ("30m", 1800), ("24h", 86400), ("7D", 604800)]
)
def test_grace_durations(text, seconds):
    assert grace_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "-1", "1w", "24 hours", "91d", "9999999999"])
def test_bad_grace_durations_are_refused(text):
    with pytest.raises(InvalidOption, match="The grace must be a duration"):
        grace_seconds(text)


def test_ratelimit_headers_name_each_window_with_its_remainder_and_reset():
    now = 1_800_000_019.0  # 19 s into a minute
    reading = Reading(Limits(per_minute=60, per_day=100), windows("k", now), minute_used=48, day_used=100)
    assert dict(headers_for(reading, now)) == {
        b"ratelimit-policy": b'"minute";q=60;w=60, "day";q=100;w=86400',
        b"ratelimit": b'"minute";r=12;t=41, "day";r=0;t=' + str(86400 - int(now) % 86400).encode(),
    }


def test_no_ratelimit_headers_without_a_window():
    assert headers_for(Reading(Limits(quota=5), windows("k"))) == []


def test_a_key_may_be_scoped_to_auto_but_not_to_an_unknown_type():
    check_scopes(KeySettings(name="auto only", types=["receipt", "auto"]))
    with pytest.raises(InvalidOption) as refused:
        check_scopes(KeySettings(name="typo", types=["recipt"]))
    assert refused.value.message.endswith("choose from: invoice, receipt, text, auto or *.")
