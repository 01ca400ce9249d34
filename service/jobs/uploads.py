"""Documents uploaded before their job exists: reserve, receive, then confirm.

Convertorio's clients ask for an upload URL, PUT the file there, and confirm. Until the
confirmation, the job is a ``PendingUpload`` (``lector:upload:<job id>``, for
``UPLOAD_KEEP_S``) and the received file an object in the store (``uploads/``, swept after
``UPLOAD_KEEP_S``); confirming takes the pending upload once
(GETDEL, so two confirmations cannot queue it twice) and submits it as an ordinary
conversion under the same id. Nothing here knows about HTTP.
"""

from __future__ import annotations

from typing import IO

import msgspec
from redis import Redis

from service.convert.target import Target
from service.jobs.record import new_id, now_iso
from service.options import Options
from service.storage import Space, Storage, new_key

#: How long a reserved upload waits for its file and its confirmation.
UPLOAD_KEEP_S = 3600
_KEY = "lector:upload:"


class PendingUpload(msgspec.Struct, kw_only=True):
    """A job reserved for a document that is still to arrive."""

    job_id: str
    owner: str
    filename: str
    #: What the client said the file is (its extension); Lector sniffs the bytes anyway.
    source_format: str
    #: The size the client announced: the upload may not be larger.
    file_size: int
    target: Target
    options: Options
    created_at: str
    #: The received file's key in the store.
    key: str | None = None
    size: int | None = None


class UploadStore:
    """Pending uploads and their files."""

    def __init__(self, redis: Redis, storage: Storage) -> None:
        self._redis = redis
        self._storage = storage

    def reserve(
        self, owner: str, filename: str, source_format: str, file_size: int, target: Target, options: Options
    ) -> PendingUpload:
        """A new pending upload, with a fresh job id."""
        upload = PendingUpload(
            job_id=new_id(),
            owner=owner,
            filename=filename,
            source_format=source_format,
            file_size=file_size,
            target=target,
            options=options,
            created_at=now_iso(),
        )
        self._save(upload)
        return upload

    def get(self, job_id: str) -> PendingUpload | None:
        """The pending upload, or None (never reserved, confirmed already, or expired)."""
        raw = self._redis.get(_KEY + job_id)
        return msgspec.json.decode(raw, type=PendingUpload) if raw else None

    def receive(self, upload: PendingUpload, file: IO[bytes], size: int) -> PendingUpload:
        """Keep the uploaded file of ``size`` bytes, read from ``file`` piece by piece (a
        second upload replaces the first)."""
        key = new_key(Space.UPLOADS)
        self._storage.put(key, file)
        if upload.key:
            self._storage.delete(upload.key)
        received = msgspec.structs.replace(upload, key=key, size=size)
        self._save(received)
        return received

    def take(self, job_id: str) -> PendingUpload | None:
        """Remove and return the pending upload: only one confirmation gets it."""
        raw = self._redis.getdel(_KEY + job_id)
        return msgspec.json.decode(raw, type=PendingUpload) if raw else None

    def copy_to(self, upload: PendingUpload, target: IO[bytes]) -> bool:
        """Write the uploaded file into ``target``, piece by piece; False when it was never
        uploaded, or expired."""
        return self._storage.copy_to(upload.key, target) if upload.key else False

    def restore(self, upload: PendingUpload) -> None:
        """Put back an upload taken for a confirmation that was refused (a limit, the store)."""
        self._save(upload)

    def discard(self, upload: PendingUpload) -> None:
        """Forget the uploaded file, once its conversion holds its own copy."""
        if upload.key:
            self._storage.delete(upload.key)

    def _save(self, upload: PendingUpload) -> None:
        self._redis.set(_KEY + upload.job_id, msgspec.json.encode(upload), ex=UPLOAD_KEEP_S)
