"""The Converter App dialect, at Lector's root: pairs, sync and async conversion, progress,
download; the key in ``X-API-Key``; errors as ``{"detail": "<sentence>"}``.

A translation layer over the file conversions (``service.api.files``) and the batches
(``service.jobs``): an asynchronous job is a batch of file conversions, one per uploaded
file, whose id is the `jobid`. Converter App names a pair ``png2jpg`` where Lector's scopes
say ``png-jpg``, and calls OCR to text ``ocr`` (Lector's ``txt``). The source format comes
from each file's name, as Converter App's does, and must agree with the bytes.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any, Literal

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import FromPath

from service.api.auth import KeyController
from service.api.bodies import FILE_ANSWERS, FILES, operation_with, upload_form
from service.api.downloads import RangeHeader, download_response, file_response, output_of
from service.api.now import convert_at_once
from service.api.payloads import clean_filename
from service.api.responses import in_other_words
from service.api.services import Lector
from service.api.submissions import read_upload
from service.convert.formats import (
    INPUT_NAMES,
    PAGE_FAMILIES,
    SPELLINGS,
    TARGETS,
    family,
    input_name,
    pair,
    targets_of,
)
from service.convert.output import OutputFile, zipped
from service.convert.target import Target
from service.errors import Forbidden, InvalidOption, MalformedBody, NotFound, NotReady, TooLarge
from service.jobs.batches import Batch, summarize
from service.jobs.intake import BatchSubmission, Intake, Submission, storage_errors
from service.jobs.record import Conversion, is_id
from service.lifecycle.submit import submit_batch
from service.models import Status
from service.options import Options, sentence
from service.pages import Source, sniff
from service.settings import Settings
from service.tenants.store import Caller
from service.work import ConvertFile

#: Converter App's names that differ from Lector's: its OCR target, and spellings of formats.
_NAMES = {**SPELLINGS, "ocr": "txt"}
#: The targets as Converter App lists them: Lector's, with ``ocr`` beside ``txt``.
_TARGETS = (*TARGETS, "ocr")
#: At most this many files in one sync request (each is converted while the client waits).
MAX_SYNC_FILES = 20


class Detail(msgspec.Struct):
    """Every error answer."""

    detail: str


class Pair(msgspec.Struct, rename={"source": "from", "target": "to"}):
    """One conversion: from a format, to a format."""

    source: str
    target: str


class Pairs(msgspec.Struct):
    """Answer of ``GET /public/pairs`` and ``GET /pairs``."""

    supported_pairs: list[Pair]


class Started(msgspec.Struct):
    """Answer of ``POST /convert``."""

    status: Literal["success"]
    jobid: str
    pair: str
    remaining_quota: int


class Progress(msgspec.Struct):
    """Answer of ``GET /progress/{jobid}``."""

    jobid: str
    progress: float
    status: Literal["processing", "completed", "failed"]
    error: str | None


#: The error handlers of the dialect's routes: 400 for anything the client must fix.
ERRORS = in_other_words(Detail, lambda exc, status: 400 if status in (413, 415, 422) else status)


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Detail, description=description, generate_examples=False)


AUTH = {401: _spec("Missing or invalid X-API-Key"), 500: _spec("Unexpected error (logged)")}
CONVERT_ERRORS = {
    **AUTH,
    400: _spec("Missing files or target_format, a name that does not match the bytes, a bad option"),
    403: _spec("The key may not use this pair"),
    429: _spec("The key has no quota left, or a rate limit (Retry-After)"),
}
JOB_ERRORS = {
    **AUTH,
    400: _spec("The job id is not in the form POST /convert answers (32 hexadecimal digits)"),
    404: _spec("No such job for this key, or its result is gone"),
    409: _spec("The job is still processing"),
}
_FORM = upload_form(
    {"target_format": Schema(type=OpenAPIType.STRING, enum=list(_TARGETS)), "files": FILES},
    ["target_format", "files"],
)


class PublicPairsController(Controller):
    """The conversions Lector makes, for anyone (no key)."""

    path = "/public"
    tags = ("Converter App",)
    exception_handlers = ERRORS

    @get("/pairs", responses={500: _spec("Unexpected error (logged)")})
    async def public_pairs(self) -> Pairs:
        """Every conversion pair: any input format to any target."""
        return Pairs(supported_pairs=[Pair(source, target) for source, target in _all_pairs()])


class ConverterAppController(KeyController):
    """Converter App's conversions: at once or queued, then progress and download."""

    path = "/"
    tags = ("Converter App",)
    exception_handlers = ERRORS

    @get("/pairs", responses=AUTH)
    async def pairs(self, caller: NamedDependency[Caller]) -> Pairs:
        """The pairs this key may use."""
        allowed = [
            Pair(source, target)
            for source, target in _all_pairs()
            if caller.record is None or caller.record.allows_pair(pair(source, _NAMES.get(target, target)))
        ]
        return Pairs(supported_pairs=allowed)

    @post(
        "/convert/sync",
        status_code=200,
        responses=CONVERT_ERRORS,
        operation_class=operation_with(_FORM, answers=FILE_ANSWERS),
    )
    async def convert_sync(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Response[bytes]:
        """Convert the files now and answer the result: the file itself, or a zip of several."""
        submissions, _ = await _read(request, lector.settings, caller, limit=MAX_SYNC_FILES)

        def run() -> OutputFile:
            outputs = [
                convert_at_once(submission, lector.here, caller, lector.gate) for submission in submissions
            ]
            if len(outputs) == 1:
                return outputs[0]
            members = []
            for output in outputs:  # a zip of several is made in memory: each file is small
                members.append((output.name, output.read()))
                output.discard()
            return zipped("converted", _unique(members))

        output = await anyio.to_thread.run_sync(run)
        return file_response(output)

    @post("/convert", status_code=200, responses=CONVERT_ERRORS, operation_class=operation_with(_FORM))
    async def convert(
        self,
        request: Request[Any, Any, Any],
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
    ) -> Started:
        """Queue the files' conversion as one job; poll `/progress/{jobid}`, then download."""
        limit = lector.settings.max_batch_items
        submissions, names = await _read(request, lector.settings, caller, limit=limit)
        batch = BatchSubmission(options=submissions[0].options, items=submissions)
        created, charge = await submit_batch(batch, lector.intake, lector.here, caller)
        return Started(
            status="success", jobid=created.batch_id, pair=names[0], remaining_quota=charge.quota_left
        )

    @get("/progress/{jobid:str}", responses=JOB_ERRORS)
    async def progress(
        self, lector: NamedDependency[Lector], caller: NamedDependency[Caller], jobid: FromPath[str]
    ) -> Progress:
        """How far the job is, from 0.0 to 1.0, and why it failed if it did."""
        batch = await _owned(lector.intake, caller, jobid)
        with storage_errors():
            summary = await anyio.to_thread.run_sync(summarize, batch, lector.intake.jobs)
        if not summary.status.finished:
            return Progress(jobid=jobid, progress=summary.progress, status="processing", error=None)
        if summary.status is Status.SUCCESS:
            return Progress(jobid=jobid, progress=1.0, status="completed", error=None)
        failures = [item for item in summary.items if item.status is Status.FAILED]
        first = failures[0]
        reason = (first.error or {}).get("message", "it failed")
        error = f"{len(failures)} of {summary.total} files failed; {first.filename or 'the first'}: {reason}"
        return Progress(jobid=jobid, progress=1.0, status="failed", error=error)

    @get("/download/{jobid:str}", responses=JOB_ERRORS, operation_class=operation_with(answers=FILE_ANSWERS))
    async def download(
        self,
        lector: NamedDependency[Lector],
        caller: NamedDependency[Caller],
        jobid: FromPath[str],
        range_: RangeHeader = None,
    ) -> Response[Any]:
        """The converted file (a zip for several files), once the job has completed; one file
        is streamed from the store, and a `Range` of its bytes gets just those."""
        batch = await _owned(lector.intake, caller, jobid)

        def ended() -> list[Conversion]:
            with storage_errors():
                records = lector.intake.jobs.get_many([entry.conversion_id for entry in batch.items])
            if any(record is not None and not record.status.finished for record in records):
                raise NotReady("The conversion is still processing; download it once it has completed.")
            if any(record is None or record.status is not Status.SUCCESS for record in records):
                raise NotFound(
                    "The conversion failed or expired, so there is no result; its progress says why."
                )
            return [record for record in records if record is not None]

        records = await anyio.to_thread.run_sync(ended)
        if len(records) == 1:
            return await download_response(records[0], lector.storage, range_)

        def bundle() -> OutputFile:
            members = [
                (record.output.name if record.output else "file", output_of(record, lector.storage))
                for record in records
            ]
            return zipped("converted", _unique(members))

        bundled = await anyio.to_thread.run_sync(bundle)
        return file_response(bundled)


def _all_pairs() -> list[tuple[str, str]]:
    """Every pair in Converter App's names: the catalogue's, and ``ocr`` (a page's text) or
    ``text`` (speech) beside ``txt``, as its document lists ``mp3`` to ``text``."""
    return [
        (source, target)
        for source in INPUT_NAMES
        for target in (*targets_of(source), "ocr" if family(source) in PAGE_FAMILIES else "text")
    ]


async def _read(
    request: Request[Any, Any, Any], settings: Settings, caller: Caller, *, limit: int
) -> tuple[list[Submission], list[str]]:
    """The uploaded files as file conversions, with their pairs in Converter App's names. Each
    file's name must say its format, the bytes must agree, and the key must allow the pair."""
    if request.content_type[0] != "multipart/form-data":
        raise MalformedBody("Send multipart/form-data with `target_format` and one or more `files`.")
    form = await request.form()
    uploads = (
        [value for value in form.getall("files") if isinstance(value, UploadFile)] if "files" in form else []
    )
    asked = str(form.get("target_format") or "").strip().lower()
    if not uploads:
        raise InvalidOption("files is required: send one or more files in the multipart field `files`.")
    if not asked:
        raise InvalidOption("target_format is required, such as png, pdf or ocr.")
    if len(uploads) > limit:
        raise TooLarge(f"{len(uploads)} files were sent; at most {limit} go in one request.")
    target_name = _NAMES.get(asked, asked)
    if target_name not in TARGETS:
        raise InvalidOption(
            f"target_format {asked[:20]!r} is not supported; choose from: {', '.join(_TARGETS)}."
        )
    fields = {name: value for name, value in form.items() if name not in ("files", "target_format")}
    target, options = _options(fields, target_name)
    submissions, names = [], []
    for upload in uploads:
        document = await anyio.to_thread.run_sync(read_upload, upload, settings)
        source, sniffed = _source_of(upload.filename, document)
        name, lector_pair = f"{source}2{asked}", pair(source, target_name)
        if caller.record is not None and not caller.record.allows_pair(lector_pair):
            raise Forbidden(f"This API key is not authorized for {name} conversions.")
        filename = clean_filename(upload.filename)
        work = ConvertFile(target)
        submissions.append(
            Submission(options=options, document=document, sniffed=sniffed, filename=filename, work=work)
        )
        names.append(name)
    return submissions, names


def _options(fields: dict[str, Any], target_name: str) -> tuple[Target, Options]:
    """The target and the options, from the form's other fields (Lector's option names)."""
    shaping = {name: fields.pop(name) for name in Target.__struct_fields__ if name in fields}
    try:
        target = msgspec.convert({**shaping, "target_format": target_name}, Target, strict=False)
        options = msgspec.convert(fields, Options, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidOption(sentence(str(exc))) from None
    return target, options


def _source_of(filename: str | None, document: Source) -> tuple[str, str]:
    """The source format the file's name says, checked against what its bytes are; and the
    format sniffed from them."""
    shown = (filename or "")[:100]
    suffix = PurePath(filename or "").suffix.lstrip(".").lower()
    named = _NAMES.get(suffix, suffix)
    if named not in INPUT_NAMES:
        raise InvalidOption(
            f"The file name {shown!r} does not say a format Lector reads ({', '.join(INPUT_NAMES)})."
        )
    sniffed = sniff(document)
    found = input_name(sniffed)
    if found != named:
        raise InvalidOption(f"The file {shown!r} is named as {named} but its bytes are {found}.")
    return named, sniffed


def _unique(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """Zip members with unique names: a repeated name gets ``-2``, ``-3``... before its suffix."""
    seen: dict[str, int] = {}
    unique = []
    for name, content in members:
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            path = PurePath(name)
            name = f"{path.stem}-{count}{path.suffix}"
        unique.append((name, content))
    return unique


async def _owned(intake: Intake, caller: Caller, jobid: str) -> Batch:
    """The caller's job; InvalidOption (400) for an id that cannot be one, as Converter App
    answers it, NotFound for one that is not (or no longer) the caller's."""
    if not is_id(jobid):
        raise InvalidOption(
            f"Unsupported job ID format {jobid[:64]!r}: a job id is the 32 hexadecimal digits "
            "POST /convert answers."
        )
    with storage_errors():
        batch = await anyio.to_thread.run_sync(intake.batches.get, jobid)
    if batch is None or batch.owner != caller.owner:
        raise NotFound(f"No job {jobid[:64]!r} for this API key (it may have expired).")
    return batch
