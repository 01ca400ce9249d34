"""What every handler works with, as one object: ``Lector``, injected as ``lector``.

One instance per API process, built by ``create_app`` from the settings. A handler takes it
and, when it serves a key, the request's ``caller``; nothing else is injected.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from service.api.gate import SyncGate
from service.engines import Engines
from service.jobs.intake import Intake
from service.jobs.uploads import UploadStore
from service.lifecycle.steps import Here
from service.settings import Settings
from service.storage import Storage, open_storage
from service.tenants.aws_credentials import AwsCredentials
from service.tenants.billing import Tenancy
from service.tenants.store import KeyStore
from service.tenants.types import OwnTypes


@dataclass(frozen=True)
class Lector:
    """The API process's settings, stores and lifecycle."""

    settings: Settings
    #: One synchronous client (RQ is synchronous); handlers call it from worker threads.
    redis: Redis
    intake: Intake
    keys: KeyStore
    #: The managed keys' AWS credentials (SigV4-signed requests).
    aws_credentials: AwsCredentials
    own_types: OwnTypes
    uploads: UploadStore
    gate: SyncGate
    #: Where documents, converted files and large results are kept.
    storage: Storage
    #: What the lifecycle runs with here: the settings, engines, tenancy and Redis.
    here: Here

    @classmethod
    def build(cls, settings: Settings, engines: Engines, redis: Redis) -> Lector:
        """Everything, built once from ``settings`` over ``redis``."""
        storage = open_storage(settings.storage_url)
        keys = KeyStore(redis)
        return cls(
            settings=settings,
            redis=redis,
            intake=Intake(redis, storage, settings),
            keys=keys,
            aws_credentials=AwsCredentials(keys, redis, settings.secret),
            own_types=OwnTypes(redis),
            uploads=UploadStore(redis, storage),
            gate=SyncGate.from_settings(settings),
            storage=storage,
            here=Here(settings, engines, Tenancy(redis, settings), redis, storage),
        )
