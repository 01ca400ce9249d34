"""The operator's routes under ``/admin``: managed keys and everyone's usage.

Guarded by LECTOR_ADMIN_KEY alone; the same operations as ``lector keys``, which calls the
same ``KeyStore``.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from service.api.account import USAGE_ERRORS, Format, From, To, UsageOperation, usage_answer
from service.api.auth import SECURITY, require_admin_key
from service.api.bodies import KeyChangesOperation
from service.api.responses import AUTH_ERRORS, error_spec
from service.api.services import Lector
from service.tenants import usage
from service.tenants.aws_credentials import IssuedCredentials
from service.tenants.durations import GRACE_PATTERN, grace_seconds
from service.tenants.keys import KEY_ID_PATTERN
from service.tenants.records import KeyInfo, KeySpec
from service.tenants.usage import UsageReport

ADMIN_ERRORS = {**AUTH_ERRORS, 403: error_spec("Not the admin key, or LECTOR_ADMIN_KEY is unset")}
KEY_ERRORS = {
    **ADMIN_ERRORS,
    400: error_spec("A body that is empty or not JSON"),
    404: error_spec("No key with this id"),
    422: error_spec("A setting out of range, or an unknown document type"),
}
AWS_CREDENTIAL_ERRORS = {
    **KEY_ERRORS,
    403: error_spec("Not the admin key, or LECTOR_ADMIN_KEY or LECTOR_SECRET is unset"),
    409: error_spec("The key holds its two AWS credentials already"),
}
KeyId = Annotated[str, Parameter(pattern=KEY_ID_PATTERN, description="the key's public id")]


class KeyList(msgspec.Struct):
    """Answer of ``GET /admin/keys``."""

    keys: list[KeyInfo]


class AdminController(Controller):
    """Managed API keys: create, list, show, update, revoke, rotate, AWS credentials; usage of
    every key."""

    path = "/admin"
    tags = ("Admin",)
    guards = (require_admin_key,)
    security = SECURITY

    @post("/keys", status_code=201, responses=KEY_ERRORS, sync_to_thread=True)
    def create(self, lector: NamedDependency[Lector], data: JSONBody[KeySpec]) -> KeyInfo:
        """A new key; `key` in this answer is the only time the key is shown."""
        return lector.keys.create(data)

    @get("/keys", responses=ADMIN_ERRORS, sync_to_thread=True)
    def list_keys(self, lector: NamedDependency[Lector]) -> KeyList:
        """Every managed key (never a secret)."""
        return KeyList(keys=lector.keys.list())

    @get("/keys/{key_id:str}", responses=KEY_ERRORS, sync_to_thread=True)
    def show(self, lector: NamedDependency[Lector], key_id: FromPath[KeyId]) -> KeyInfo:
        """One key."""
        return lector.keys.info(lector.keys.get(key_id))

    @patch(
        "/keys/{key_id:str}", responses=KEY_ERRORS, sync_to_thread=True, operation_class=KeyChangesOperation
    )
    def update(
        self, lector: NamedDependency[Lector], key_id: FromPath[KeyId], data: JSONBody[dict[str, Any]]
    ) -> KeyInfo:
        """Change any of the settings of `POST /admin/keys` (a new `quota` counts from now)."""
        return lector.keys.update(key_id, data)

    @post("/keys/{key_id:str}/revoke", status_code=200, responses=KEY_ERRORS, sync_to_thread=True)
    def revoke(self, lector: NamedDependency[Lector], key_id: FromPath[KeyId]) -> KeyInfo:
        """Refuse the key from now on, on every API process (401 "API key revoked.")."""
        return lector.keys.revoke(key_id)

    @post("/keys/{key_id:str}/rotate", status_code=200, responses=KEY_ERRORS, sync_to_thread=True)
    def rotate(
        self,
        lector: NamedDependency[Lector],
        key_id: FromPath[KeyId],
        grace: Annotated[
            str,
            Parameter(
                description="how long the old key keeps working: 0, 90s, 30m, 24h or 7d (at most 90 days)",
                # For the document only: grace_seconds checks it, in its own words.
                schema_extra={"pattern": GRACE_PATTERN},
            ),
        ] = "24h",
    ) -> KeyInfo:
        """A new key for the same id, limits and usage (shown once in `key`); the old key
        works until the grace ends (`grace=0`: at once)."""
        return lector.keys.rotate(key_id, grace_seconds(grace))

    @post(
        "/keys/{key_id:str}/aws-credentials",
        status_code=201,
        responses=AWS_CREDENTIAL_ERRORS,
        sync_to_thread=True,
    )
    def aws_credentials(self, lector: NamedDependency[Lector], key_id: FromPath[KeyId]) -> IssuedCredentials:
        """An AWS access key id and secret access key for the key, for clients that sign their
        requests with AWS Signature Version 4 (boto3 on `/textract`); the secret is shown in this
        answer only. A key holds two at most; rotating the key gives them its grace, revoking
        it withdraws them."""
        return lector.aws_credentials.create(key_id)

    @get(
        "/keys/{key_id:str}/usage",
        responses={**KEY_ERRORS, **USAGE_ERRORS},
        sync_to_thread=True,
        operation_class=UsageOperation,
    )
    def key_usage(
        self,
        lector: NamedDependency[Lector],
        key_id: FromPath[KeyId],
        start: From = None,
        end: To = None,
        format: Format = "json",
    ) -> Response[UsageReport] | Response[str]:
        """One key's usage, one row per UTC day."""
        lector.keys.get(key_id)  # 404 for an unknown id
        first, last = usage.span(start, end, lector.settings.usage_days)
        rows = usage.days(lector.redis, key_id, first, last, key_id=key_id)
        return usage_answer(rows, first, last, format, key_id)

    @get(
        "/usage",
        responses={**ADMIN_ERRORS, **USAGE_ERRORS},
        sync_to_thread=True,
        operation_class=UsageOperation,
    )
    def all_usage(
        self, lector: NamedDependency[Lector], start: From = None, end: To = None, format: Format = "json"
    ) -> Response[UsageReport] | Response[str]:
        """Every key's usage (static keys by their hashed owner id), one row per key and day
        that used anything."""
        first, last = usage.span(start, end, lector.settings.usage_days)
        rows = [
            row
            for owner in usage.owners(lector.redis)
            for row in usage.days(lector.redis, owner, first, last, key_id=owner)
            if row.requests or row.failures or row.pages_ocr or row.pages_text_layer
        ]
        return usage_answer(rows, first, last, format, "all")
