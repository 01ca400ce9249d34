"""A managed key's AWS credentials on a real Redis: made, found, sealed at rest, bounded,
withdrawn with the key, and given its grace when it is rotated."""

from __future__ import annotations

import re

import pytest
from redis import Redis

from service.errors import Conflict, Forbidden, InvalidOption, NotFound, SettingsError
from service.tenants.aws_credentials import MAX_PER_KEY, AwsCredentials
from service.tenants.records import KeySpec
from service.tenants.store import KeyStore, record_key
from tests.helpers import SECRET

ACCESS_KEY_ID = re.compile(r"^LKIA[A-Z0-9]{16}$")
SECRET_ACCESS_KEY = re.compile(r"^[A-Za-z0-9+/]{40}$")


@pytest.fixture
def stores(redis_url):
    redis = Redis.from_url(redis_url)
    keys = KeyStore(redis)
    yield redis, keys, AwsCredentials(keys, redis, SECRET)
    redis.close()


def everything_stored(redis: Redis) -> bytes:
    """Every string value under ``lector:`` on ``redis``, concatenated."""
    return b"".join(
        redis.get(name) or b""
        for name in redis.scan_iter("lector:*", count=1000)
        if redis.type(name) == b"string"
    )


def test_credentials_are_made_found_and_kept_only_sealed(stores):
    redis, keys, credentials = stores
    key = keys.create(KeySpec(name="aws", per_minute=30, types=["receipt"]))
    made = credentials.create(key.key_id)
    assert ACCESS_KEY_ID.match(made.access_key_id) and SECRET_ACCESS_KEY.match(made.secret_access_key)

    holder = credentials.lookup(made.access_key_id)
    assert holder is not None and holder.secret_access_key == made.secret_access_key
    assert holder.caller.owner == key.key_id and holder.caller.key_id == key.key_id
    assert holder.caller.reading.limits.per_minute == 30 and holder.caller.document_types == ["receipt"]
    assert keys.info(keys.get(key.key_id)).aws_access_key_ids == [made.access_key_id]

    stored = everything_stored(redis)
    assert made.access_key_id.encode() in stored  # the index and the record name it...
    assert made.secret_access_key.encode() not in stored  # ...but never the secret
    assert made.secret_access_key[:20].encode() not in stored

    # Another server secret cannot open it, and says why rather than refuse the client's key.
    with pytest.raises(SettingsError, match="LECTOR_SECRET"):
        AwsCredentials(keys, redis, "another-secret-of-thirty-two-chars!").lookup(made.access_key_id)
    for unknown in ("LKIA" + "Z" * 16, "AKIA" + "Z" * 16, "lkia", "", "LKIA" + "Z" * 16 + "\x00"):
        assert credentials.lookup(unknown) is None


def test_without_a_server_secret_none_are_made(stores):
    redis, keys, _ = stores
    key = keys.create(KeySpec(name="no secret"))
    with pytest.raises(Forbidden, match="LECTOR_SECRET"):
        AwsCredentials(keys, redis, None).create(key.key_id)
    assert keys.get(key.key_id).aws_credentials == []


def test_a_key_holds_two_and_an_unknown_or_revoked_key_none(stores):
    redis, keys, credentials = stores
    with pytest.raises(NotFound):
        credentials.create("zzzzzzzzzzzz")
    key = keys.create(KeySpec(name="bounded"))
    made = [credentials.create(key.key_id) for _ in range(MAX_PER_KEY)]
    assert len({m.access_key_id for m in made}) == MAX_PER_KEY
    with pytest.raises(Conflict, match="rotate the key"):
        credentials.create(key.key_id)
    assert all(credentials.lookup(m.access_key_id) for m in made)

    keys.revoke(key.key_id)
    assert [credentials.lookup(m.access_key_id) for m in made] == [None, None]
    assert not any(redis.exists(f"lector:aws-access-key:{m.access_key_id}") for m in made)
    assert b'aws_credentials":[]' in redis.get(record_key(key.key_id))
    with pytest.raises(InvalidOption, match="revoked"):
        credentials.create(key.key_id)


def test_a_revocation_written_elsewhere_holds_at_once(stores):
    """The lookup reads the record: a record revoked behind this store's back is refused too."""
    redis, keys, credentials = stores
    key = keys.create(KeySpec(name="revoked elsewhere"))
    made = credentials.create(key.key_id)
    raw = redis.get(record_key(key.key_id))
    redis.set(
        record_key(key.key_id), raw.replace(b'"revoked_at":null', b'"revoked_at":"2020-01-01T00:00:00Z"')
    )
    assert credentials.lookup(made.access_key_id) is None


def test_a_rotation_gives_the_credentials_the_old_key_s_grace(stores):
    redis, keys, credentials = stores
    key = keys.create(KeySpec(name="rotated"))
    first = [credentials.create(key.key_id) for _ in range(MAX_PER_KEY)]

    keys.rotate(key.key_id, 3600)  # the old key, and its credentials, work one hour more
    assert all(credentials.lookup(m.access_key_id) for m in first)
    second = [credentials.create(key.key_id) for _ in range(MAX_PER_KEY)]  # the new key's own
    shown = keys.info(keys.get(key.key_id)).aws_access_key_ids
    assert shown == [m.access_key_id for m in first + second]

    keys.rotate(key.key_id, 0)  # the first ones go with the older key; the second stop at once
    assert all(credentials.lookup(m.access_key_id) is None for m in first + second)
    assert not any(redis.exists(f"lector:aws-access-key:{m.access_key_id}") for m in first)
    assert keys.info(keys.get(key.key_id)).aws_access_key_ids == []
    third = credentials.create(key.key_id)  # the spent ones are dropped, and count no more
    assert credentials.lookup(third.access_key_id) is not None
    assert [c.access_key_id for c in keys.get(key.key_id).aws_credentials] == [third.access_key_id]
    assert not any(redis.exists(f"lector:aws-access-key:{m.access_key_id}") for m in second)


def test_an_update_keeps_the_credentials(stores):
    _, keys, credentials = stores
    key = keys.create(KeySpec(name="updated"))
    made = credentials.create(key.key_id)
    keys.update(key.key_id, {"per_day": 5})
    holder = credentials.lookup(made.access_key_id)
    assert holder is not None and holder.caller.reading.limits.per_day == 5
