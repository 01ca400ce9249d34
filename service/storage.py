"""Where documents, converted files and large results live: an object store named by a URL.

``LECTOR_STORAGE_URL`` names it: ``s3://bucket/prefix`` for any S3-compatible store (endpoint
and credentials from the standard ``AWS_*`` variables), ``file:///path`` for a directory, and
nothing for a private directory under ``./var`` on one host. Redis holds records, queues and
limits; the bytes are here, each object under a key of one of the ``Space``s below, which say
how long it may live.

The client is obstore (Rust's object_store): one API for S3 and a directory, sync, streaming
in both directions, multipart uploads and retries built in. Nothing here holds a whole large
object in memory but ``read``, which is meant for small ones (a result of a few kilobytes).
Every failure of the store but a missing object is StoreUnavailable (503, try again).

obstore runs its requests on a runtime of threads started on first use, and threads do not
survive a fork: a process that forks children to run jobs (the worker) must not use the store
before it forks (``service.jobs.runtime.with_storage``). A ``Storage`` touches obstore only when
an operation runs, never when it is made.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast
from urllib.parse import urlsplit

import obstore
from obstore.exceptions import BaseError, NotFoundError
from obstore.store import LocalStore, S3Store

from service.errors import SettingsError, StoreUnavailable

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

#: Where the store is when ``LECTOR_STORAGE_URL`` is unset (relative to the working directory).
DEFAULT_DIRECTORY = Path("var") / "store"
#: Objects at least this large are uploaded in parts of this size.
PART_BYTES = 8 * 1024 * 1024
#: A download is read in pieces of this size, whatever the object's size.
CHUNK_BYTES = 1024 * 1024
#: obstore's S3 settings, by the standard variable each is read from.
_AWS = {
    "endpoint": "AWS_ENDPOINT_URL",
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "session_token": "AWS_SESSION_TOKEN",
    "region": "AWS_REGION",
}


class Space(Enum):
    """The kinds of object, by the key prefix they live under."""

    #: A submitted document, deleted when its job ends (or swept after the retention).
    DOCUMENTS = "documents"
    #: A file uploaded for a job not confirmed yet (``service.jobs.uploads``).
    UPLOADS = "uploads"
    #: A finished file conversion's file, kept for the retention.
    FILES = "files"
    #: A finished job's result too large for its record, kept for the retention.
    RESULTS = "results"


def new_key(space: Space) -> str:
    """A new random, unguessable key in ``space``."""
    return f"{space.value}/{secrets.token_hex(16)}"


class Storage:
    """One object store, with what Lector does with it."""

    def __init__(
        self,
        open_store: Callable[[], LocalStore | S3Store],
        where: str,
        *,
        bucket: str | None = None,
        prefix: str = "",
    ) -> None:
        self._open_store = open_store
        self._opened: LocalStore | S3Store | None = None
        #: The store as an operator recognises it, with no credentials (for logs and messages).
        self.where = where
        #: An S3 store's bucket (None: a directory), and the prefix its keys live under there
        #: ("" or ending in "/"): object ``prefix + key`` of the bucket is ``key`` here.
        self.bucket = bucket
        self.prefix = prefix

    @property
    def _store(self) -> LocalStore | S3Store:
        if self._opened is None:
            self._opened = self._open_store()
        return self._opened

    def put(self, key: str, source: bytes | Path | IO[bytes]) -> None:
        """Store ``source`` under ``key``; a large one is sent in parts, as it is read."""
        with _unavailable():
            obstore.put(self._store, key, source, chunk_size=PART_BYTES, max_concurrency=4)

    def read(self, key: str) -> bytes | None:
        """A small object's bytes, or None when there is no such object."""
        with _unavailable():
            try:
                return bytes(obstore.get(self._store, key).bytes())
            except (NotFoundError, FileNotFoundError):
                return None

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no such object."""
        with _unavailable():
            try:
                return int(obstore.head(self._store, key)["size"])
            except (NotFoundError, FileNotFoundError):
                return None

    def chunks(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes] | None:
        """The object's bytes from ``start`` to ``end`` (exclusive; None: its end) as pieces
        of at most CHUNK_BYTES, or None when there is no such object. Errors while the pieces
        are read are StoreUnavailable too."""
        with _unavailable():
            try:
                if end is None:
                    got = obstore.get(self._store, key, options={"range": {"offset": start}})
                else:
                    got = obstore.get(self._store, key, options={"range": (start, end)})
            except (NotFoundError, FileNotFoundError):
                return None
        return _pieces(got.stream(min_chunk_size=CHUNK_BYTES))

    def copy_to(self, key: str, target: IO[bytes]) -> bool:
        """Write the object into ``target`` piece by piece; False when there is no such object."""
        pieces = self.chunks(key)
        if pieces is None:
            return False
        for piece in pieces:
            target.write(piece)
        target.flush()
        return True

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path | None]:
        """The object downloaded piece by piece into a private temporary file, removed
        afterwards (None: there is no such object)."""
        with tempfile.NamedTemporaryFile(prefix="lector-document-") as file:
            yield Path(file.name) if self.copy_to(key, file) else None

    def delete(self, *keys: str) -> None:
        """Remove the objects (a missing one is no error)."""
        if not keys:
            return
        with _unavailable():
            for key in keys:  # one by one: a directory store has no batch delete
                with suppress(NotFoundError, FileNotFoundError):
                    obstore.delete(self._store, key)

    def sweep(self, space: Space, older_than: timedelta) -> int:
        """Remove the objects of ``space`` last written more than ``older_than`` ago; returns
        how many."""
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        with _unavailable():
            for page in obstore.list(self._store, prefix=space.value + "/", chunk_size=1000):
                old = [meta["path"] for meta in page if meta["last_modified"] < cutoff]
                self.delete(*old)
                removed += len(old)
        return removed

    def signed_url(self, key: str, expires_in: timedelta) -> str | None:
        """A URL that downloads the object without credentials until it expires (S3 only;
        None for a directory)."""
        store = self._store
        if not isinstance(store, S3Store):
            return None
        with _unavailable():
            return str(obstore.sign(store, "GET", key, expires_in))

    def check(self) -> str | None:
        """Write, read and delete a small object; None when all three work, else the step
        that failed and why, in one sentence."""
        key = f"ready/{secrets.token_hex(8)}"
        probe = secrets.token_bytes(16)
        steps = (
            ("write", lambda: self.put(key, probe)),
            ("read", lambda: self.read(key) == probe or _raise("it read back different bytes")),
            ("delete", lambda: self.delete(key)),
        )
        for step, run in steps:
            try:
                run()
            except StoreUnavailable as exc:
                return f"The store ({self.where}) failed to {step} a test object: {exc.reason}."
            except ValueError as exc:
                return f"The store ({self.where}) failed to {step} a test object: {exc}."
        return None


def storage_location(url: str | None, environ: Mapping[str, str] = os.environ) -> str:
    """The store ``url`` names, as ``Storage.where`` says it, without opening it."""
    parts = urlsplit(url or "")
    if parts.scheme == "s3":
        endpoint = environ.get("AWS_ENDPOINT_URL")
        return f"s3://{parts.netloc}/{parts.path.strip('/')}" + (f" at {endpoint}" if endpoint else "")
    return f"file://{Path(parts.path) if url else DEFAULT_DIRECTORY.resolve()}"


def open_storage(url: str | None, environ: Mapping[str, str] = os.environ) -> Storage:
    """The store ``url`` names (None: the private directory under ./var); an S3 store's
    endpoint and credentials come from the ``AWS_*`` variables of ``environ``. A URL it
    cannot use is a SettingsError that says why."""
    if not url:
        return _directory(DEFAULT_DIRECTORY.resolve(), storage_location(url), private=True)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise SettingsError(
                f"A file:// LECTOR_STORAGE_URL names a directory on this host, not {parts.netloc!r}."
            )
        return _directory(Path(parts.path), storage_location(url), private=False)
    if parts.scheme == "s3":
        return _s3(parts.netloc, parts.path.strip("/"), storage_location(url, environ), environ)
    raise SettingsError(f"LECTOR_STORAGE_URL must start with s3:// or file://, not {url!r}.")


def _directory(path: Path, where: str, *, private: bool) -> Storage:
    try:
        path.mkdir(parents=True, exist_ok=True)
        if private:  # only this user's processes may read the documents
            os.chmod(path, 0o700)
    except OSError as exc:
        raise SettingsError(f"The store's directory {path} cannot be made: {exc.strerror}.") from None
    return Storage(lambda: LocalStore(path, automatic_cleanup=True), where)


def _s3(bucket: str, prefix: str, where: str, environ: Mapping[str, str]) -> Storage:
    if not bucket:
        raise SettingsError("An s3:// LECTOR_STORAGE_URL names a bucket: s3://bucket/prefix.")
    config = cast("S3Config", {key: environ[name] for key, name in _AWS.items() if environ.get(name)})
    # A plain-HTTP endpoint (a store on the same private network) must be allowed explicitly.
    endpoint = environ.get("AWS_ENDPOINT_URL", "")
    client: ClientConfig = {"allow_http": endpoint.startswith("http://"), "connect_timeout": "5s"}
    # obstore's default retries a failing store for 3 minutes; a request should not wait so long.
    retry: RetryConfig = {"max_retries": 3, "retry_timeout": timedelta(seconds=15)}
    return Storage(
        lambda: S3Store(
            bucket, prefix=prefix or None, config=config, client_options=client, retry_config=retry
        ),
        where,
        bucket=bucket,
        prefix=f"{prefix}/" if prefix else "",
    )


def _pieces(stream: Iterator[bytes]) -> Iterator[bytes]:
    with _unavailable():
        yield from (bytes(piece) for piece in stream)


def _raise(message: str) -> bool:
    raise ValueError(message)


@contextmanager
def _unavailable() -> Iterator[None]:
    """The store's failures (a missing object aside) as StoreUnavailable, saying which."""
    try:
        yield
    except NotFoundError:
        raise
    except (BaseError, OSError) as exc:
        reason = _reason(exc)
        message = f"The document store is unavailable ({reason}); try again shortly."
        raise StoreUnavailable(message, reason=reason) from None


def _reason(exc: BaseException) -> str:
    """The first line of the store's error, short, with no URL query (a signature)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first.split("?", 1)[0][:160]
