"""Convertorio's routes, under ``/v1``: upload URL, the upload itself, confirm, jobs, account.

The upload URL is Lector's own: ``PUT /v1/uploads/{job_id}?expires=&signature=``, which needs
no key (the signature, over the job id and the expiry with LECTOR_SECRET, is the permission)
and takes at most the `file_size` announced. Confirming submits the uploaded file as a file
conversion (``service.jobs.intake``) under the reserved job id; the converted file is then
downloaded from a signed URL as any other (``service.api.files``).

A confirmed job is remembered (``service.jobs.remembered``) as it stood when last confirmed
or answered finished, for 30 days after its record expires: asked for then, it answers with
`is_expired: true` and no download, not 404.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import anyio
from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter, QueryParameter

from service.api.addresses import url_for
from service.api.auth import SECURITY, require_api_key
from service.api.dialects.convertorio.wire import (
    AUTH,
    ERRORS,
    JOB_STATUS,
    MAX_FILE_BYTES,
    UNLIMITED,
    UPLOAD_URL_S,
    AccountAnswer,
    AccountInfo,
    Confirmed,
    ConfirmRequest,
    Job,
    JobAnswer,
    JobList,
    JobStatus,
    Page,
    UploadUrl,
    UploadUrlRequest,
    failure_spec,
    job_id_of,
    job_of,
    shown_id,
    target_name,
    wanted,
)
from service.api.downloads import file_info
from service.api.services import Lector
from service.errors import Forbidden, InvalidOption, NotFound, TooLarge
from service.jobs.intake import Intake, Submission, storage_errors
from service.jobs.record import Conversion
from service.jobs.remembered import Remembered
from service.jobs.uploads import PendingUpload, UploadStore
from service.lifecycle.steps import Here
from service.lifecycle.submit import submit
from service.logging import get_logger
from service.settings import Settings
from service.signing import check, signature
from service.tenants.accounts import account_of
from service.tenants.store import Caller
from service.work import ConvertFile

UPLOAD_ROUTE = "convertorio-upload"
REQUEST_ERRORS = {**AUTH, 400: failure_spec("A bad parameter, or a file over 20 MB")}
CONFIRM_ERRORS = {
    **REQUEST_ERRORS,
    402: failure_spec("The key's quota is spent"),
    403: failure_spec("The key may not convert this pair"),
    404: failure_spec("No such job for this key"),
    429: failure_spec("A rate limit; try again after Retry-After seconds"),
}
JOB_ERRORS = {
    **AUTH,
    400: failure_spec("A bad parameter, or a job id that is not a UUID"),
    404: failure_spec("No such job for this key (nor one expired in the last 30 days)"),
}
UPLOAD_ERRORS = {
    400: failure_spec("The body is larger than the file_size announced"),
    403: failure_spec("The URL's signature does not match it"),
    404: failure_spec("No such job waiting for its file"),
    410: failure_spec("The upload URL has expired"),
    500: failure_spec("Unexpected error (logged)"),
}
_UPLOAD_PURPOSE = "upload."

log = get_logger("lector.convertorio")


class ConvertorioController(Controller):
    """Convertorio's file conversions: upload URL, upload, confirm, jobs and account."""

    path = "/v1"
    tags = ("Convertorio",)
    exception_handlers = ERRORS

    @post(
        "/convert/upload-url",
        status_code=200,
        guards=[require_api_key],
        security=SECURITY,
        responses=REQUEST_ERRORS,
        sync_to_thread=True,
    )
    def upload_url(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        data: JSONBody[UploadUrlRequest],
        caller: NamedDependency[Caller],
    ) -> UploadUrl:
        """Reserve a job for a file and answer the URL to PUT it to (valid 600 s)."""
        secret = _secret(lector.settings)
        limit = min(MAX_FILE_BYTES, lector.settings.max_upload_bytes)
        if data.file_size > limit:
            raise InvalidOption(f"file_size is over the limit of {limit // (1024 * 1024)} MB.")
        target, options, warnings = wanted(data)
        if warnings:
            log.info("conversion_metadata keys ignored", count=len(warnings))
        with storage_errors():
            pending = lector.uploads.reserve(
                caller.owner, data.filename, data.source_format.lower(), data.file_size, target, options
            )
        expires = int(time.time()) + UPLOAD_URL_S
        mark = signature(secret, _UPLOAD_PURPOSE + pending.job_id, expires)
        url = url_for(request, UPLOAD_ROUTE, job_id=pending.job_id)
        return UploadUrl(
            success=True,
            job_id=shown_id(pending.job_id),
            upload_url=f"{url}?expires={expires}&signature={mark}",
            expires_in=UPLOAD_URL_S,
            warnings=warnings,
        )

    @put("/uploads/{job_id:str}", name=UPLOAD_ROUTE, status_code=200, responses=UPLOAD_ERRORS)
    async def upload(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        job_id: FromPath[str],
        expires: Annotated[str, Parameter(max_length=12, description="Epoch seconds the URL ends")],
        signature_: Annotated[str, QueryParameter(name="signature", max_length=64)],
    ) -> None:
        """The file itself, as the body (any Content-Type: Lector reads the bytes)."""
        secret = _secret(lector.settings)
        check(secret, _UPLOAD_PURPOSE + job_id, expires, signature_, url="upload", renew="ask for a new one")
        with storage_errors():
            pending = await anyio.to_thread.run_sync(lector.uploads.get, job_id)
        if pending is None:
            raise NotFound("No job is waiting for this file (it was confirmed, or it expired).")
        # The body goes to a private temporary file as it arrives, then to the store in parts.
        with tempfile.TemporaryFile(prefix="lector-upload-") as spool:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > pending.file_size:
                    raise TooLarge(
                        f"The upload is larger than the file_size announced ({pending.file_size} bytes)."
                    )
                spool.write(chunk)
            spool.seek(0)
            with storage_errors():
                await anyio.to_thread.run_sync(lector.uploads.receive, pending, spool, size)

    @post(
        "/convert/confirm",
        status_code=200,
        guards=[require_api_key],
        security=SECURITY,
        responses=CONFIRM_ERRORS,
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        data: JSONBody[ConfirmRequest],
        caller: NamedDependency[Caller],
    ) -> Confirmed:
        """Queue the uploaded file's conversion."""
        job_id = job_id_of(data.job_id)
        with storage_errors():
            pending = await anyio.to_thread.run_sync(lector.uploads.take, job_id)
        if pending is None or pending.owner != caller.owner:
            if pending is not None:
                await anyio.to_thread.run_sync(lector.uploads.restore, pending)
            raise NotFound(f"No job {data.job_id[:64]!r} waiting for confirmation for this API key.")
        try:
            await _queue(request, pending, lector.intake, lector.here, caller, lector.uploads)
        except BaseException:
            await anyio.to_thread.run_sync(lector.uploads.restore, pending)
            raise
        await anyio.to_thread.run_sync(lector.uploads.discard, pending)
        await anyio.to_thread.run_sync(_remember, lector, job_id)
        return Confirmed(
            success=True, job_id=shown_id(job_id), status="queued", message="Job queued for processing"
        )

    @get("/jobs/{job_id:str}", guards=[require_api_key], security=SECURITY, responses=JOB_ERRORS)
    async def job(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        job_id: FromPath[str],
    ) -> JobAnswer:
        """A job's status and, once completed, its signed download URL; once expired, how it
        ended, with `is_expired: true` and no download."""
        given, job_id = job_id, job_id_of(job_id)
        with storage_errors():
            record = await anyio.to_thread.run_sync(lector.intake.jobs.get, job_id)
            if _answers(record, caller):
                assert record is not None
                if record.status.finished:  # remembered as it ended, for when it expires
                    await anyio.to_thread.run_sync(_memory(lector).keep, record)
                return JobAnswer(success=True, job=_job(request, record, lector.settings))
            pending = await anyio.to_thread.run_sync(lector.uploads.get, job_id)
            if pending is not None and pending.owner == caller.owner:
                return JobAnswer(success=True, job=_waiting(pending))
            remembered = await anyio.to_thread.run_sync(_memory(lector).get, job_id)
        if record is None and _answers(remembered, caller):
            assert remembered is not None
            return JobAnswer(success=True, job=job_of(remembered, None, expired=True))
        raise NotFound(f"No job {given[:64]!r} for this API key.")

    @get("/jobs", guards=[require_api_key], security=SECURITY, responses=JOB_ERRORS, sync_to_thread=True)
    def jobs(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
        offset: Annotated[int, Parameter(ge=0, le=100_000)] = 0,
        status: Annotated[JobStatus | None, Parameter(description="Only the jobs in this status")] = None,
    ) -> JobList:
        """The key's file conversions, newest first (jobs still waiting for their file are not listed)."""

        def keep(record: Conversion) -> bool:
            return isinstance(record.work, ConvertFile) and (
                status is None or JOB_STATUS.get(record.status) == status
            )

        with storage_errors():
            records = lector.intake.jobs.of_owner(caller.owner, offset=offset, limit=limit, keep=keep)
        found = [_job(request, record, lector.settings) for record in records]
        return JobList(
            success=True, jobs=found, count=len(found), pagination=Page(limit=limit, offset=offset)
        )

    @get("/account", guards=[require_api_key], security=SECURITY, responses=AUTH, sync_to_thread=True)
    def account(self, lector: NamedDependency[Lector], caller: NamedDependency[Caller]) -> AccountAnswer:
        """The key as an account: its name, its quota left as points, today's requests left."""
        account = account_of(caller, lector.keys, lector.redis)
        left_today = UNLIMITED if account.per_day < 0 else max(account.per_day - account.today.requests, 0)
        return AccountAnswer(
            success=True,
            account=AccountInfo(
                id=account.key_id or "static",
                email=account.email,
                name=account.name,
                plan="self-hosted",
                points=UNLIMITED if account.quota_remaining < 0 else account.quota_remaining,
                daily_conversions_remaining=left_today,
                total_conversions=account.totals.documents,
            ),
        )


async def _queue(
    request: Request[Any, Any, Any],
    pending: PendingUpload,
    intake: Intake,
    here: Here,
    caller: Caller,
    uploads: UploadStore,
) -> None:
    # The file waits in a private temporary file while it is checked and stored for its job.
    with tempfile.NamedTemporaryFile(prefix="lector-upload-") as copy:
        if not await anyio.to_thread.run_sync(uploads.copy_to, pending, copy):
            raise InvalidOption("The file has not been uploaded to the upload URL yet.")
        work = ConvertFile(pending.target)
        submission = Submission(
            options=pending.options, document=Path(copy.name), filename=pending.filename, work=work
        )
        idempotency_key = request.headers.get("idempotency-key")
        await submit(submission, intake, here, caller, idempotency_key=idempotency_key, job_id=pending.job_id)


def _answers(record: Conversion | None, caller: Caller) -> bool:
    """Whether ``record`` is one of the caller's file conversions (the jobs Convertorio shows)."""
    return record is not None and record.owner == caller.owner and isinstance(record.work, ConvertFile)


def _memory(lector: Lector) -> Remembered:
    return Remembered(lector.redis, lector.settings.result_ttl_s)


def _remember(lector: Lector, job_id: str) -> None:
    """Remember a job just queued, so it is known as expired if nobody asks before it is."""
    try:
        record = lector.intake.jobs.get(job_id)
        if record is not None:
            _memory(lector).keep(record)
    except Exception as exc:  # the job is queued: a failure here must not answer it as failed
        log.warning("job not remembered", job_id=job_id, error=type(exc).__name__)


def _job(request: Request[Any, Any, Any], record: Conversion, settings: Settings) -> Job:
    file = file_info(request, record, settings)
    return job_of(record, file.signed_url if file is not None else None)


def _waiting(pending: PendingUpload) -> Job:
    """A job still waiting for its file."""
    return Job(
        id=shown_id(pending.job_id),
        status="uploading",
        original_filename=pending.filename,
        source_format=pending.source_format,
        target_format=target_name(pending.target.target_format),
        file_size=pending.file_size,
        points_cost=1,
        points_used=0,
        tokens_used=0,
        processing_time_ms=None,
        created_at=pending.created_at,
        completed_at=None,
        download_url=None,
        can_download=False,
        is_expired=False,
    )


def _secret(settings: Settings) -> str:
    """LECTOR_SECRET, which signs the upload and download URLs; without it the dialect is off."""
    if settings.secret is None:
        raise Forbidden(
            "Convertorio's routes are off: their signed URLs need LECTOR_SECRET, which is not set."
        )
    return settings.secret
