"""A finished file conversion's file: its download URLs, and the file as an answer, streamed
from the store with ``Range`` honoured (or, with ``LECTOR_STORAGE_PRESIGN``, a redirect to the
store). Lector's own routes and the dialects answer files through here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import anyio
from litestar import Request, Response
from litestar.background_tasks import BackgroundTask
from litestar.params import HeaderParameter
from litestar.response import Redirect, Stream

from service.api.addresses import links
from service.api.responses import error_response
from service.convert.output import OutputFile
from service.errors import NotFound, NotReady
from service.jobs.record import Conversion, StoredFile
from service.models import FileInfo
from service.settings import Settings
from service.storage import CHUNK_BYTES, Storage

#: The names of the routes a file is downloaded at: with the key, and from a signed URL.
DOWNLOAD_ROUTE = "conversion-download"
SIGNED_ROUTE = "signed-download"
#: One range of bytes, as a download's ``Range`` header asks: ``bytes=0-99``, ``bytes=100-``,
#: ``bytes=-100`` (the last 100). Several ranges, or another unit, get the whole file.
_RANGE = re.compile(r"bytes=(?P<start>[0-9]{0,19})-(?P<end>[0-9]{0,19})")
#: The longest ``Range`` read; a longer one is no single range, and is ignored.
_LONGEST_RANGE = 64
#: A download route's ``Range`` header.
RangeHeader = Annotated[
    str | None,
    HeaderParameter(
        name="Range",
        description="one range of bytes (`bytes=0-1023`, `bytes=1024-`, `bytes=-1024`): answered 206; "
        "any other value is ignored",
    ),
]


def file_info(request: Request[Any, Any, Any], record: Conversion, settings: Settings) -> FileInfo | None:
    """The file of a finished file conversion, with its download URLs (``service.jobs.links``)."""
    return links(request).file_info(record, settings)


def stored_file(record: Conversion) -> StoredFile:
    """A finished file conversion's file: NotReady while it runs, NotFound once it failed."""
    if not record.status.finished:
        raise NotReady(f"The conversion is {record.status.value}; download it once it is SUCCESS.")
    if record.output is None:
        raise NotFound("The conversion failed, so there is no file; its status says why.")
    return record.output


def output_of(record: Conversion, storage: Storage) -> bytes:
    """A finished file conversion's file, whole (for files bundled into a zip)."""
    content = storage.read(stored_file(record).key)
    if content is None:
        raise NotFound("The file no longer exists (it expired).")
    return content


async def download_response(
    record: Conversion, storage: Storage, range_header: str | None, *, presign_for: int | None = None
) -> Response[Any]:
    """The conversion's file as an answer: streamed from the store, all of it or the one range
    asked (206); with ``presign_for`` seconds and a store that signs URLs, a redirect to the
    store itself."""
    file = stored_file(record)
    if presign_for is not None:
        url = await anyio.to_thread.run_sync(storage.signed_url, file.key, timedelta(seconds=presign_for))
        if url is not None:
            return Redirect(url, status_code=307)
    try:
        asked = _range_of(range_header, file.size)
    except _Unsatisfiable:
        return error_response(
            416,
            f"The Range asked starts past the end of the file ({file.size} bytes).",
            headers={"Content-Range": f"bytes */{file.size}"},
        )
    start, end = asked or (0, file.size)
    chunks = await anyio.to_thread.run_sync(storage.chunks, file.key, start, end)
    if chunks is None:
        raise NotFound("The file no longer exists (it expired).")
    headers = {
        "Content-Disposition": _disposition(file.name),
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
    }
    if asked is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{file.size}"
    return Stream(
        _closing(chunks), media_type=file.media_type, headers=headers, status_code=206 if asked else 200
    )


def file_response(output: OutputFile) -> Response[Any]:
    """A file made here and now, as an attachment: a large one (audio, video) is streamed from
    its file, which is removed once sent."""
    headers = {"Content-Disposition": _disposition(output.name)}
    if isinstance(output.content, bytes):
        return Response(output.content, media_type=output.media_type, headers=headers)
    path = output.content
    headers["Content-Length"] = str(output.size)
    return Stream(
        _pieces(path),
        media_type=output.media_type,
        headers=headers,
        background=BackgroundTask(output.discard),
    )


def _pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as file:
        while piece := file.read(CHUNK_BYTES):
            yield piece


def _disposition(name: str) -> str:
    safe = "".join(char if char.isascii() and char not in '"\\\r\n' else "_" for char in name)
    return f'attachment; filename="{safe}"'


class _Unsatisfiable(Exception):
    """The range asked starts past the end of the file."""


def _range_of(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range ``header`` asks of a file of ``size`` bytes, as (start, end exclusive);
    None for the whole file (no header, or one this does not serve: RFC 9110 lets a server
    ignore it). _Unsatisfiable when it starts past the end."""
    match = _RANGE.fullmatch(header.strip()) if header and len(header) <= _LONGEST_RANGE else None
    if match is None or not (match["start"] or match["end"]):
        return None
    if not match["start"]:  # the last N bytes
        suffix = int(match["end"])
        if not (suffix and size):
            raise _Unsatisfiable
        return max(size - suffix, 0), size
    start = int(match["start"])
    end = min(int(match["end"]) + 1, size) if match["end"] else size
    if start >= size:
        raise _Unsatisfiable
    if end <= start:
        return None  # last before first: not a valid range, so ignored
    return start, end


def _closing(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The pieces, and the store's stream closed when the client goes away mid-download."""
    try:
        yield from chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
