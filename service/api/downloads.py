"""A finished file conversion's file: its download URLs, its bytes from the blob store, and
the file as an answer. Lector's own routes and the dialects answer files through here."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from redis import Redis

from service.api.addresses import links
from service.blobs import blob_store
from service.errors import NotFound, NotReady
from service.jobs.intake import storage_errors
from service.jobs.record import Conversion
from service.models import FileInfo
from service.settings import Settings

#: The names of the routes a file is downloaded at: with the key, and from a signed URL.
DOWNLOAD_ROUTE = "conversion-download"
SIGNED_ROUTE = "signed-download"


def file_info(request: Request[Any, Any, Any], record: Conversion, settings: Settings) -> FileInfo | None:
    """The file of a finished file conversion, with its download URLs (``service.jobs.links``)."""
    return links(request).file_info(record, settings)


def output_of(record: Conversion, redis: Redis, settings: Settings) -> bytes:
    """A finished file conversion's file: NotReady while it runs, NotFound once it failed or
    its file expired."""
    if not record.status.finished:
        raise NotReady(f"The conversion is {record.status.value}; download it once it is SUCCESS.")
    if record.output is None:
        raise NotFound("The conversion failed, so there is no file; its status says why.")
    with storage_errors():
        content = blob_store(redis, settings.blob_dir).get(record.output.blob_id)
    if content is None:
        raise NotFound("The file no longer exists (it expired).")
    return content


def file_response(content: bytes, name: str, media_type: str) -> Response[bytes]:
    safe = "".join(char if char.isascii() and char not in '"\\\r\n' else "_" for char in name)
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'attachment; filename="{safe}"'}
    )
