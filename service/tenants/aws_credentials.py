"""AWS credentials of a managed key: an access key id and a secret access key, for clients
that sign their requests with AWS Signature Version 4 rather than send the key.

- The access key id is ``LKIA`` and 16 capitals and digits: 20 characters, as AWS's. Every
  prefix AWS gives its own ids starts with ``A`` (``AKIA``, ``ASIA``, ``AIDA``...), so a
  Lector id is never mistaken for an AWS one: not by a reader, not by Lector, and not by the
  secret scanners that report leaked AWS keys to AWS.
- The secret access key is 40 random characters of the base64 alphabet (240 bits), as AWS's.
  It is shown once. SigV4 needs the secret itself to check a signature, so a hash will not
  do: the key's record keeps it sealed with LECTOR_SECRET (``service.sealing``), bound to its
  access key id, and without LECTOR_SECRET no credentials are made.
- A key holds at most two at a time, as an AWS user may; revoking the key withdraws them;
  rotating it lets them work until the old key's grace ends, then they go with it.

A lookup reads the key's record each time (as a key's own requests do), so a revoked or
expired key's credentials are refused on every API process at once.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import msgspec
from msgspec import Meta
from redis import Redis
from redis.client import Pipeline

from service import sealing
from service.errors import Conflict, Forbidden, InvalidOption, SettingsError, Unauthorized
from service.tenants.records import AwsCredential, KeyRecord, has_passed
from service.tenants.store import Caller, KeyStore, aws_access_key_key

ACCESS_KEY_PREFIX = "LKIA"
_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"
_SECRET_LENGTH = 40
_ACCESS_KEY_ID = re.compile(rf"{ACCESS_KEY_PREFIX}[A-Z0-9]{{16}}")
#: Credentials a key may hold at once (besides those of its previous key during a rotation).
MAX_PER_KEY = 2
_PURPOSE = "aws-secret-access-key"


class IssuedCredentials(msgspec.Struct):
    """New AWS credentials of a key, shown once: boto3's ``aws_access_key_id`` and
    ``aws_secret_access_key``."""

    access_key_id: Annotated[str, Meta(description="the access key id (20 characters, `LKIA...`)")]
    secret_access_key: Annotated[
        str, Meta(description="the secret access key: shown once, in the answer that made it")
    ]


@dataclass(frozen=True)
class Holder:
    """Who holds an access key id: the key's caller, and the secret to check a signature with."""

    caller: Caller
    secret_access_key: str


def is_access_key_id(text: str) -> bool:
    """Whether ``text`` has the shape of a Lector access key id."""
    return _ACCESS_KEY_ID.fullmatch(text) is not None


class AwsCredentials:
    """Managed keys' AWS credentials, on the key store's Redis."""

    def __init__(self, keys: KeyStore, redis: Redis, secret: str | None) -> None:
        self._keys = keys
        self._redis = redis
        self._secret = secret

    def create(self, key_id: str) -> IssuedCredentials:
        """New credentials for ``key_id`` (NotFound without such a key): Forbidden without
        LECTOR_SECRET to seal the secret with, Conflict when the key holds its most already."""
        if not self._secret:
            raise Forbidden(
                "This server makes no AWS credentials, as it has no secret (LECTOR_SECRET) to "
                "encrypt them with; set one, the same on every API process."
            )
        secret = self._secret
        issued = IssuedCredentials(
            access_key_id=ACCESS_KEY_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(16)),
            secret_access_key="".join(secrets.choice(_SECRET_ALPHABET) for _ in range(_SECRET_LENGTH)),
        )

        def change(record: KeyRecord, pipe: Pipeline) -> KeyRecord:
            if record.revoked_at:
                raise InvalidOption("A revoked key cannot be given AWS credentials; create a new key.")
            now = datetime.now(UTC)
            kept = [c for c in record.aws_credentials if not has_passed(c.expires_at, now)]
            if sum(c.expires_at is None for c in kept) >= MAX_PER_KEY:
                raise Conflict(
                    f"The key holds {MAX_PER_KEY} AWS credentials already, the most it may; "
                    "rotate the key to replace them."
                )
            spent = [c for c in record.aws_credentials if c not in kept]
            if spent:
                pipe.delete(*(aws_access_key_key(c.access_key_id) for c in spent))
            # 83 random bits never clash in practice; if they did, the older credential would
            # stop working (its id would lead to this record and this secret), nothing worse.
            pipe.set(aws_access_key_key(issued.access_key_id), record.key_id)
            sealed = sealing.seal(
                secret, _PURPOSE, issued.secret_access_key.encode(), bound_to=issued.access_key_id
            )
            made = AwsCredential(
                access_key_id=issued.access_key_id,
                sealed_secret=sealed,
                created_at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            )
            return msgspec.structs.replace(record, aws_credentials=[*kept, made])

        self._keys.change(key_id, change)
        return issued

    def lookup(self, access_key_id: str) -> Holder | None:
        """Who holds ``access_key_id`` and its secret; None when no active key holds it (an
        unknown id, a revoked or expired key, credentials past a rotation's grace).
        SettingsError when this process's LECTOR_SECRET does not open the secret."""
        if not is_access_key_id(access_key_id):
            return None
        key_id = self._redis.get(aws_access_key_key(access_key_id))
        if not isinstance(key_id, bytes):
            return None
        try:
            caller = self._keys.caller_of(key_id.decode())
        except Unauthorized:
            return None
        assert caller.record is not None  # a managed key's caller has its record
        now = datetime.now(UTC)
        credential = next(
            (c for c in caller.record.aws_credentials if c.access_key_id == access_key_id), None
        )
        if credential is None or has_passed(credential.expires_at, now):
            return None
        opened = (
            sealing.unseal(self._secret, _PURPOSE, credential.sealed_secret, bound_to=access_key_id)
            if self._secret
            else None
        )
        if opened is None:
            raise SettingsError(
                "This server cannot decrypt the AWS secret access keys: its LECTOR_SECRET is not "
                "the one they were made with."
            )
        return Holder(caller=caller, secret_access_key=opened.decode())
