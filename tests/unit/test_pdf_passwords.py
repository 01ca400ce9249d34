"""A queued job's PDF password opens only with the secret it was sealed with, and only for its job."""

from __future__ import annotations

import pytest
from redis import Redis

from service.errors import InvalidOption, SettingsError
from service.jobs import passwords
from tests.helpers import SECRET


def test_a_password_opens_only_with_its_secret_and_for_its_job(redis_url):
    redis = Redis.from_url(redis_url)
    passwords.keep(redis, "job-a", "s3cret ü", 60, SECRET)
    sealed = redis.get("lector:password:job-a")
    assert b"s3cret" not in sealed
    assert passwords.read(redis, "job-a", SECRET) == "s3cret ü"
    passwords.keep(redis, "job-b", "s3cret ü", 60, SECRET)
    assert redis.get("lector:password:job-b") != sealed  # a fresh nonce each time

    with pytest.raises(SettingsError, match="LECTOR_SECRET"):
        passwords.read(redis, "job-a", "another-secret-of-thirty-two-chars!")
    with pytest.raises(SettingsError):
        passwords.read(redis, "job-a", None)
    redis.set("lector:password:job-b", sealed)  # moved to another job
    with pytest.raises(SettingsError):
        passwords.read(redis, "job-b", SECRET)
    flipped = bytearray(sealed)
    flipped[20] ^= 1
    redis.set("lector:password:job-a", bytes(flipped))
    with pytest.raises(SettingsError):
        passwords.read(redis, "job-a", SECRET)

    assert passwords.read(redis, "job-none", SECRET) is None
    with pytest.raises(InvalidOption, match="LECTOR_SECRET"):
        passwords.keep(redis, "job-c", "s3cret", 60, None)
    assert not redis.exists("lector:password:job-c")
    passwords.forget(redis, "job-a")
    passwords.forget(redis, "job-b")


def test_a_password_kept_by_an_earlier_version_is_refused_by_name(redis_url):
    redis = Redis.from_url(redis_url)
    redis.set("lector:password:job-old", b"\x01" + bytes(16) + b"pw" + bytes(32))
    with pytest.raises(SettingsError, match="earlier Lector version"):
        passwords.read(redis, "job-old", SECRET)
    passwords.forget(redis, "job-old")
