"""The addresses of a queued job's status and of a file conversion's file, as clients reach them.

The API builds them on ``LECTOR_PUBLIC_URL`` when it is set, else on the address each request
came to (``service.api.addresses``); a worker, which has no request, only on
``LECTOR_PUBLIC_URL``: without it, the webhook events it sends carry no status URL and no file.

The paths are the API's routes, written here because a worker builds them without the web
application; a test holds them to the routes.
"""

from __future__ import annotations

import time

import msgspec

from service.jobs.record import Conversion
from service.models import FileInfo, Status
from service.settings import Settings
from service.signing import signature
from service.work import Identify

STATUS_PATH = "/api/convert-async/status/{conversion_id}"
IDENTIFY_STATUS_PATH = "/api/identify-async/status/{identification_id}"
DOWNLOAD_PATH = "/api/convert-async/{conversion_id}/download"
SIGNED_PATH = "/api/downloads/{conversion_id}"


class Links(msgspec.Struct, frozen=True):
    """URLs under ``base``: ``scheme://host[:port][/prefix]``, with no final slash."""

    base: str

    @classmethod
    def public(cls, settings: Settings) -> Links | None:
        """Links under LECTOR_PUBLIC_URL; None when it is unset."""
        return None if settings.public_url is None else cls(settings.public_url.rstrip("/"))

    def status_url(self, record: Conversion) -> str:
        """Where the job's status is read: an identification's, or any other job's."""
        if isinstance(record.work, Identify):
            return self.base + IDENTIFY_STATUS_PATH.format(identification_id=record.conversion_id)
        return self.base + STATUS_PATH.format(conversion_id=record.conversion_id)

    def file_info(self, record: Conversion, settings: Settings) -> FileInfo | None:
        """A finished file conversion's file with its download URLs: with the key, and signed
        (when LECTOR_SECRET is set) for LECTOR_DOWNLOAD_URL_HOURS. None for any other job."""
        if record.output is None or record.status is not Status.SUCCESS:
            return None
        conversion_id = record.conversion_id
        signed = None
        if settings.secret is not None:
            expires = int(time.time()) + settings.download_url_hours * 3600
            mark = signature(settings.secret, conversion_id, expires)
            url = self.base + SIGNED_PATH.format(conversion_id=conversion_id)
            signed = f"{url}?expires={expires}&signature={mark}"
        return FileInfo(
            name=record.output.name,
            media_type=record.output.media_type,
            size=record.output.size,
            download_url=self.base + DOWNLOAD_PATH.format(conversion_id=conversion_id),
            signed_url=signed,
        )
