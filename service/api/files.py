"""File conversions: a document to another format, answered at once or queued, and its
download (with the key, or from a signed URL without one); the catalogue of formats.

A queued file conversion is a conversion like any other (one job model): its status is
``GET /api/convert-async/status/{id}``, which shows the file once it exists.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter, QueryParameter

from service.api.auth import KeyController
from service.api.bodies import ConvertFileAsyncOperation, ConvertFileOperation, DownloadOperation
from service.api.downloads import (
    DOWNLOAD_ROUTE,
    SIGNED_ROUTE,
    RangeHeader,
    download_response,
    file_response,
)
from service.api.now import convert_at_once
from service.api.queued import queue_one
from service.api.responses import AUTH_ERRORS, LIMIT_ERRORS, error_spec
from service.api.services import Lector
from service.api.submissions import read_submission
from service.convert.formats import INPUT_NAMES, MEDIA_TYPES, TARGETS, pairs
from service.errors import Forbidden, NotFound
from service.jobs.intake import storage_errors
from service.lifecycle.steps import with_document
from service.models import FormatCatalogue, Submitted
from service.signing import check
from service.tenants.store import Caller
from service.work import ConvertFile

CONVERT_ERRORS = {
    **LIMIT_ERRORS,
    400: error_spec("A malformed body, or an image_url that could not be fetched or is not allowed"),
    413: error_spec("Document over LECTOR_MAX_UPLOAD_MB, too many pages, or an animation of too many frames"),
    415: error_spec("A Content-Type other than multipart/form-data or application/json"),
    422: error_spec("Validation error (a list of problems), an unreadable document or a bad option"),
}
DOWNLOAD_ERRORS = {
    **AUTH_ERRORS,
    404: error_spec("No such file conversion for this key, or it expired"),
    409: error_spec("The conversion has not finished"),
}
SIGNED_ERRORS = {
    422: error_spec("A missing or overlong `expires` or `signature`"),
    403: error_spec("A changed signature, id or expiry, or signed downloads are off"),
    404: error_spec("No such file, or it expired"),
    410: error_spec("The signed URL has expired"),
}


class FilesController(KeyController):
    """Convert a document to another format; download the result."""

    path = "/api"
    tags = ("File conversion",)

    @post("/convert-file", status_code=200, responses=CONVERT_ERRORS, operation_class=ConvertFileOperation)
    async def convert_now(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Response[bytes]:
        """Convert a document and answer the file itself (a zip for several pages to a
        single-page image format): the same body as `POST /api/convert-file-async`."""
        settings = lector.settings
        submission = await with_document(await read_submission(request, settings, with_target=True), settings)
        output = await anyio.to_thread.run_sync(convert_at_once, submission, lector.here, caller, lector.gate)
        return file_response(output)

    @post(
        "/convert-file-async",
        status_code=202,
        responses=CONVERT_ERRORS,
        operation_class=ConvertFileAsyncOperation,
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Response[Submitted]:
        """Queue a file conversion: the document (multipart `image` or `file`, `image_base64`,
        or `image_url`), `target_format` and its options. Poll the status URL; once SUCCESS,
        it gives the download URLs."""
        submission = await read_submission(request, lector.settings, with_target=True)
        return await queue_one(request, submission, lector.intake, lector.here, caller)

    @get(
        "/convert-async/{conversion_id:str}/download",
        name=DOWNLOAD_ROUTE,
        responses=DOWNLOAD_ERRORS,
        operation_class=DownloadOperation,
    )
    async def download(
        self,
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        conversion_id: FromPath[str],
        range_: RangeHeader = None,
    ) -> Response[Any]:
        """The converted file, for the key that made it: 409 while it runs, 404 once expired.
        A `Range` of bytes gets just those (206)."""
        with storage_errors():
            record = await anyio.to_thread.run_sync(lector.intake.jobs.get, conversion_id)
        if record is None or record.owner != caller.owner or not isinstance(record.work, ConvertFile):
            raise NotFound(
                f"No file conversion {conversion_id[:64]!r} for this API key (it may have expired)."
            )
        return await download_response(record, lector.storage, range_)

    @get("/formats", responses=AUTH_ERRORS)
    async def formats(self) -> FormatCatalogue:
        """Every input format, every target with its media type, and every pair (`png-jpg`),
        as key scopes name them."""
        return FormatCatalogue(
            inputs=list(INPUT_NAMES),
            targets={target: MEDIA_TYPES[target] for target in TARGETS},
            pairs=pairs(),
        )


class SignedDownloadsController(Controller):
    """Downloads from a signed URL: no key, the signature is the permission."""

    path = "/api/downloads"
    tags = ("File conversion",)

    @get(
        "/{conversion_id:str}", name=SIGNED_ROUTE, responses=SIGNED_ERRORS, operation_class=DownloadOperation
    )
    async def signed_download(
        self,
        lector: NamedDependency[Lector],
        conversion_id: FromPath[str],
        expires: Annotated[str, Parameter(max_length=12, description="Epoch seconds the URL ends")],
        signature_: Annotated[str, QueryParameter(name="signature", max_length=64)],
        range_: RangeHeader = None,
    ) -> Response[Any]:
        """The converted file, for whoever holds a valid signed URL (a `Range` of bytes gets
        just those). With `LECTOR_STORAGE_PRESIGN=on` and an S3 store, a redirect to a URL of
        the store's own, valid as long as this one."""
        if lector.settings.secret is None:
            raise Forbidden("Signed downloads are off: LECTOR_SECRET is not set.")
        renew = "ask for the status again for a fresh one"
        check(lector.settings.secret, conversion_id, expires, signature_, url="download", renew=renew)
        with storage_errors():
            record = await anyio.to_thread.run_sync(lector.intake.jobs.get, conversion_id)
        if record is None or not isinstance(record.work, ConvertFile):
            raise NotFound("The file no longer exists (it expired).")
        presign_for = int(expires) - int(time.time()) if lector.settings.storage_presign else None
        return await download_response(record, lector.storage, range_, presign_for=presign_for)
