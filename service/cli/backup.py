"""``lector backup FILE`` and ``lector restore FILE``: the tenants' durable data as one file.

A backup holds every key of ``PATTERNS``: the managed keys, their quota left, tokens spent,
usage and rate windows, their own document types, the client registrations
(``service.tenants.durable``) and each key's webhook settings with its signing secret. Jobs,
queues and results are not in it.

Each key is copied with Redis's ``DUMP`` and written back with ``RESTORE``: exact for every
Redis type, without code per kind of record, and with the key's expiry kept as an absolute
time, so a usage day or a rate window ends when it would have, and one that ended since the
backup is not restored. The price: a ``DUMP`` value is Redis's own serialization, which a
Redis of the same or a newer version reads, never an older one (the file names the version
that made it).

The file is JSON lines, gzip-compressed when its name ends in ``.gz`` (``restore`` reads
either): a header, one line per key, and a last line with the count, so a file cut short is
refused whole instead of half restored. It holds webhook secrets and the hashes of keys and
passwords, so it is written readable by its owner only, and appears under its name only once
complete. Keys are copied one batch at a time while Lector runs, so a backup taken under load
is per key, not one instant; stop the API for a single instant.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final, Literal

import msgspec

from service.settings import Settings

if TYPE_CHECKING:  # the client is imported only when a command runs (``lector ocr`` needs none)
    from redis import Redis

#: The file's format, and the version of it this code writes and reads.
FORMAT: Final = "lector-backup"
VERSION: Final = 1
#: Keys read or written per Redis round trip.
BATCH = 500
#: The longest line a backup may hold (a key's value; tenant values are kilobytes).
MAX_LINE = 64 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


class Header(msgspec.Struct, tag="header", tag_field="line", forbid_unknown_fields=True):
    """The first line: what the file is, when and from which Redis it was made."""

    format: Literal["lector-backup"]
    version: Literal[1]
    created_at: str
    redis_version: str
    patterns: list[str]


class Entry(msgspec.Struct, tag="key", tag_field="line", forbid_unknown_fields=True):
    """One key: its name, its ``DUMP`` value (base64 in JSON) and when it expires."""

    key: str
    value: bytes
    #: Unix time in milliseconds (None: never).
    expires_at_ms: int | None = None


class End(msgspec.Struct, tag="end", tag_field="line", forbid_unknown_fields=True):
    """The last line: how many keys came before it."""

    keys: int


_encode = msgspec.json.Encoder().encode
_decoder: msgspec.json.Decoder[Header | Entry | End] = msgspec.json.Decoder(Header | Entry | End)


class BackupError(Exception):
    """A file that cannot be written, or read as a whole backup; the message is the sentence."""


class RefusedError(Exception):
    """Redis holds what a restore would overwrite, or refuses a value; the message says which."""


def patterns() -> tuple[str, ...]:
    """What a backup holds: the tenants' durable keys and each key's webhook settings."""
    from service.jobs.webhooks import CONFIG_PREFIX
    from service.tenants.durable import PATTERNS

    return (*PATTERNS, CONFIG_PREFIX + "*")


def add_backup_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``lector backup FILE`` and ``lector restore FILE``."""
    backup = commands.add_parser(
        "backup", help="write the keys, usage, webhook secrets and own document types to FILE"
    )
    backup.add_argument("file", type=Path, metavar="FILE", help="JSON lines; gzip-compressed for *.gz")
    backup.add_argument("--overwrite", action="store_true", help="replace an existing FILE")
    restore = commands.add_parser("restore", help="write a backup's keys back into Redis")
    restore.add_argument("file", type=Path, metavar="FILE")
    restore.add_argument("--replace", action="store_true", help="overwrite keys Redis already holds")


def run_backup_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``lector backup`` or ``lector restore``; returns the exit status (2 for a file that
    cannot be written or read, 1 when Redis refuses)."""
    from redis import Redis
    from redis.exceptions import RedisError

    from service.redis_access import failure

    redis = Redis.from_url(settings.redis_url, socket_connect_timeout=2, socket_timeout=30)
    try:
        if args.command == "backup":
            count = backup(redis, args.file, overwrite=args.overwrite)
            print(f"lector: wrote {count} keys to {args.file}", file=sys.stderr)
        else:
            restored, expired = restore(redis, args.file, replace=args.replace)
            gone = f" ({expired} had expired since the backup)" if expired else ""
            print(f"lector: restored {restored} keys from {args.file}{gone}", file=sys.stderr)
        return 0
    except BackupError as exc:
        print(f"lector: {exc}", file=sys.stderr)
        return 2
    except RefusedError as exc:
        print(f"lector: {exc}", file=sys.stderr)
        return 1
    except RedisError as exc:
        print(f"lector: {failure(exc, settings.redis_url)}", file=sys.stderr)
        return 1
    finally:
        redis.close()


# --- backup ------------------------------------------------------------------------------


def backup(redis: Redis, path: Path, *, overwrite: bool = False) -> int:
    """Write every key of ``patterns()`` to ``path``; returns how many."""
    if path.exists() and not overwrite:
        raise BackupError(f"{path} already exists; give --overwrite to replace it, or name another file.")
    names = sorted({name for pattern in patterns() for name in redis.scan_iter(match=pattern, count=1000)})
    header = Header(
        format=FORMAT,
        version=VERSION,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        redis_version=str(redis.info("server").get("redis_version", "unknown")),
        patterns=list(patterns()),
    )
    count = 0
    with _written(path) as out:
        out.write(_encode(header) + b"\n")
        for start in range(0, len(names), BATCH):
            for entry in _dumped(redis, names[start : start + BATCH]):
                out.write(_encode(entry) + b"\n")
                count += 1
        out.write(_encode(End(keys=count)) + b"\n")
    return count


def _dumped(redis: Redis, names: list[bytes]) -> Iterator[Entry]:
    """The ``DUMP`` of each key of ``names`` that still exists, with its absolute expiry."""
    pipe = redis.pipeline(transaction=False)
    pipe.time()
    for name in names:
        pipe.dump(name)
        pipe.pttl(name)
    (seconds, micros), *replies = pipe.execute()
    # The server's clock, as RESTORE's absolute expiry is read by a server's clock.
    now_ms = seconds * 1000 + micros // 1000
    for name, value, ttl in zip(names, replies[::2], replies[1::2], strict=True):
        if value is None or ttl == -2:  # gone since the scan, or expired between the two replies
            continue
        yield Entry(key=name.decode(), value=value, expires_at_ms=now_ms + ttl if ttl >= 0 else None)


@contextmanager
def _written(path: Path) -> Iterator[IO[bytes] | gzip.GzipFile]:
    """A file that appears at ``path`` (mode 0600) only once everything was written to it."""
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise BackupError(f"cannot write {path}: {exc.strerror}.") from None
    try:
        with os.fdopen(handle, "wb") as raw:
            if path.name.endswith(".gz"):
                with gzip.GzipFile(filename=path.name[:-3], mode="wb", fileobj=raw) as out:
                    yield out
            else:
                yield raw
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- restore -----------------------------------------------------------------------------


def restore(redis: Redis, path: Path, *, replace: bool = False) -> tuple[int, int]:
    """Write the keys of the backup at ``path`` into Redis; returns how many were restored and
    how many were left out because they expired since. The whole file is checked first, and
    nothing is written when it is damaged or, without ``replace``, when Redis holds any of its
    keys already."""
    header, names = _checked(path)
    if not replace:
        existing = _existing(redis, names)
        if existing:
            shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
            raise RefusedError(
                f"Redis already holds {len(existing)} of the backup's {len(names)} keys ({shown}); restore "
                "into an empty Redis, or give --replace to overwrite them."
            )
    restored = expired = 0
    batch: list[Entry] = []
    for line in _lines(path):
        if isinstance(line, Entry):
            batch.append(line)
        if len(batch) == BATCH or (isinstance(line, End) and batch):
            done, gone = _restore_batch(redis, batch, header, replace=replace)
            restored, expired, batch = restored + done, expired + gone, []
    return restored, expired


def _restore_batch(redis: Redis, batch: list[Entry], header: Header, *, replace: bool) -> tuple[int, int]:
    from redis.exceptions import ResponseError

    (seconds, micros) = redis.time()
    now_ms = seconds * 1000 + micros // 1000
    live = [entry for entry in batch if entry.expires_at_ms is None or entry.expires_at_ms > now_ms]
    pipe = redis.pipeline(transaction=False)
    for entry in live:
        absolute = entry.expires_at_ms is not None
        pipe.restore(entry.key, entry.expires_at_ms or 0, entry.value, replace=replace, absttl=absolute)
    for entry, reply in zip(live, pipe.execute(raise_on_error=False), strict=True):
        if isinstance(reply, ResponseError):
            if str(reply).startswith("BUSYKEY"):
                raise RefusedError(
                    f"{entry.key} appeared in Redis during the restore; give --replace to overwrite it."
                )
            raise RefusedError(
                f"Redis refused the value of {entry.key} ({reply}); the backup was made by Redis "
                f"{header.redis_version}, and a Redis reads only what its own or an older version dumped."
            )
        if isinstance(reply, Exception):
            raise reply
    return len(live), len(batch) - len(live)


def _existing(redis: Redis, names: list[str]) -> list[str]:
    found: list[str] = []
    for start in range(0, len(names), BATCH):
        chunk = names[start : start + BATCH]
        pipe = redis.pipeline(transaction=False)
        for name in chunk:
            pipe.exists(name)
        found.extend(name for name, present in zip(chunk, pipe.execute(), strict=True) if present)
    return found


def _checked(path: Path) -> tuple[Header, list[str]]:
    """The backup's header and key names, once every line of it was read and found whole."""
    header: Header | None = None
    names: list[str] = []
    for line in _lines(path):
        if isinstance(line, Header):
            header = line
        elif isinstance(line, Entry):
            names.append(line.key)
        elif line.keys != len(names):
            raise BackupError(
                f"{path} is damaged: its last line counts {line.keys} keys, and it holds {len(names)}."
            )
    assert header is not None  # _lines starts with it or raises
    return header, names


def _lines(path: Path) -> Iterator[Header | Entry | End]:
    """Every line of the backup at ``path``, decoded; BackupError when the file cannot be read,
    is not a backup, is damaged or was cut short."""
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror}.") from None
    with raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        source: IO[bytes] | gzip.GzipFile = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        number, ended = 0, False
        try:
            while text := source.readline(MAX_LINE + 1):
                number += 1
                if len(text) > MAX_LINE:
                    raise BackupError(f"{path} is damaged: line {number} is longer than any backup writes.")
                line = _decode(text, path, number)
                if ended:
                    raise BackupError(f"{path} is damaged: there is more after its last line.")
                if (number == 1) != isinstance(line, Header):
                    raise BackupError(f"{path} is damaged: line {number} is out of place.")
                ended = isinstance(line, End)
                yield line
        except (OSError, EOFError, zlib.error) as exc:  # gzip's damaged or truncated stream
            raise BackupError(f"{path} is damaged: {str(exc).rstrip('.') or 'it ends early'}.") from None
    if number == 0:
        raise BackupError(f"{path} is empty; it is not a Lector backup.")
    if not ended:
        raise BackupError(f"{path} is incomplete: it stops after line {number}, before its last line.")


def _decode(text: bytes, path: Path, number: int) -> Header | Entry | End:
    try:
        return _decoder.decode(text)
    except msgspec.DecodeError as exc:
        if number == 1:
            raise BackupError(f"{path} is not a Lector backup ({FORMAT} version {VERSION}).") from None
        raise BackupError(f"{path} is damaged at line {number}: {exc}.") from None
