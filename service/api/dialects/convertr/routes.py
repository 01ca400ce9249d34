"""The Convertr dialect, under ``/convertr`` (Docutray holds ``/api/convert`` at the root):
anonymous or keyed conversion, client registration, and the pair reliability rollups.

- ``POST /convertr/api/convert``: multipart `file`, `input_format`, `output_format`; answers
  the converted file. With a key (Bearer) as any file conversion; without one only when
  LECTOR_ANONYMOUS is on, as the cohort of its ``X-Convertr-Client-Label``
  (``service.tenants.anonymous``), within the per-cohort and all-anonymous limits, and with
  files up to LECTOR_ANONYMOUS_MAX_UPLOAD_MB (Convertr's 1 GB, when the operator allows it).
  The body limit so depends on the caller: the route sets none of its own, and the form is
  read within the caller's (``LectorRequest.form``), spooled to disk as it arrives.
- ``POST /convertr/api/client-registrations`` (LECTOR_REGISTRATION on): a key for a new client,
  bound to its label's cohort (``service.tenants.registrations``).
- ``GET /convertr/api/stats/pairs?days=14``: requests, success and error rates and average
  runtime per pair, and the totals (``service.jobs.rollups``).

The raw label is only ever hashed: it is not stored, logged or answered.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIType
from litestar.params import Parameter

from service.api.auth import SECURITY, caller_of, presented_key
from service.api.bodies import FILE, FILE_ANSWERS, operation_with, upload_form
from service.api.downloads import file_response
from service.api.now import convert_at_once
from service.api.payloads import clean_filename, decode_json_body
from service.api.request import LectorRequest
from service.api.responses import AUTH_ERRORS, LIMIT_ERRORS, error_spec
from service.api.services import Lector
from service.api.submissions import read_upload
from service.convert.formats import INPUT_NAMES, SPELLINGS, TARGETS, input_name
from service.convert.target import Target
from service.errors import InvalidOption, NotFound, Unauthorized
from service.jobs import rollups
from service.jobs.intake import Submission
from service.options import Options
from service.pages import sniff
from service.settings import Settings
from service.tenants.anonymous import anonymous_caller, cohort_of, give_back_anonymous_day, take_anonymous_day
from service.tenants.records import KeyInfo
from service.tenants.registrations import Registrations
from service.tenants.store import Caller
from service.work import ConvertFile

LABEL_HEADER = "x-convertr-client-label"
#: The names Convertr's clients may use: the catalogue's other spellings (``text`` is txt),
#: and OCR to text.
_NAMES = {**SPELLINGS, "ocr": "txt"}
CONVERT_ERRORS = {
    **LIMIT_ERRORS,
    400: error_spec("Not multipart, or a missing or unknown format"),
    413: error_spec("File over LECTOR_MAX_UPLOAD_MB (anonymous: LECTOR_ANONYMOUS_MAX_UPLOAD_MB)"),
    422: error_spec("The file is not what input_format says, or is unreadable"),
}
REGISTER_ERRORS = {
    404: error_spec("Registration is off (LECTOR_REGISTRATION)"),
    429: error_spec("Today's anonymous requests, registrations included, are spent (Retry-After)"),
    400: error_spec("The body is not a form or JSON"),
    422: error_spec("A missing or bad field, a confirmation that differs, an email already taken"),
    500: error_spec("Unexpected error (logged)"),
}
_FORM = upload_form(
    {
        "file": FILE,
        "input_format": Schema(type=OpenAPIType.STRING, enum=list(INPUT_NAMES)),
        "output_format": Schema(type=OpenAPIType.STRING, enum=[*TARGETS, "ocr"]),
    },
    ["file", "input_format", "output_format"],
)


class Registered(msgspec.Struct):
    """Answer of ``POST /convertr/api/client-registrations``."""

    message: str
    user: dict[str, Any]
    token: dict[str, str]
    anonymous_access: dict[str, Any]


async def key_or_anonymous(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: a key admits as anywhere; without one, LECTOR_ANONYMOUS admits the label's cohort.
    Either way the cohort of the label (when sent) is kept for the rollups."""
    settings: Settings = connection.app.state.settings
    label = connection.headers.get(LABEL_HEADER)
    cohort = cohort_of(label, settings.secret) if settings.secret is not None else None
    connection.state.cohort = cohort if label is not None else None
    if presented_key(connection) is not None or not settings.anonymous:
        connection.state.caller = await caller_of(connection)
        connection.state.anonymous = False
        return
    if cohort is None:  # the app refuses to start anonymous without a secret; never here
        raise Unauthorized("Anonymous conversion needs LECTOR_SECRET on this server.")
    connection.state.caller = anonymous_caller(cohort, settings)
    connection.state.cohort = cohort
    connection.state.anonymous = True


class ConvertrController(Controller):
    """Convertr's conversions, registrations and rollups."""

    path = "/convertr/api"
    tags = ("Convertr",)

    @post(
        "/convert",
        status_code=200,
        guards=[key_or_anonymous],
        security=[*SECURITY, {}],
        responses=CONVERT_ERRORS,
        operation_class=operation_with(_FORM, answers=FILE_ANSWERS),
        request_max_body_size=None,  # the caller's limit, applied as the form is read
    )
    async def convert(self, request: LectorRequest, lector: NamedDependency[Lector]) -> Response[bytes]:
        """Convert one file at once and answer the converted file (a zip for several pages to
        a single-page image format)."""
        caller: Caller = request.state.caller
        anonymous: bool = request.state.anonymous
        settings = lector.settings
        limit = settings.anonymous_max_upload_bytes if anonymous else settings.max_upload_bytes
        if request.content_type[0] != "multipart/form-data":
            raise InvalidOption("Send multipart/form-data with `file`, `input_format` and `output_format`.")
        form = await request.form(max_file_bytes=limit)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidOption("file is required: send the file in the multipart field `file`.")
        source = _format(form.get("input_format"), "input_format", INPUT_NAMES)
        target_format = _format(form.get("output_format"), "output_format", TARGETS)
        document = await anyio.to_thread.run_sync(read_upload, upload, settings, limit)
        sniffed = sniff(document)
        found = input_name(sniffed)
        if found != source:
            raise InvalidOption(f"input_format is {source}, but the file is {found}.")
        submission = Submission(
            options=Options(),
            document=document,
            filename=clean_filename(upload.filename) or f"file.{source}",
            sniffed=sniffed,
            work=ConvertFile(Target(target_format=target_format)),  # type: ignore[arg-type]
        )

        def run() -> Response[bytes]:
            if anonymous:
                take_anonymous_day(lector.redis, lector.settings)
            try:
                output = convert_at_once(
                    submission, lector.here, caller, lector.gate, cohort=request.state.cohort
                )
            except BaseException:
                if anonymous:
                    give_back_anonymous_day(lector.redis)
                raise
            return file_response(output)

        return await anyio.to_thread.run_sync(run)

    @post("/client-registrations", status_code=201, responses=REGISTER_ERRORS)
    async def register(self, request: Request[Any, Any, Any], lector: NamedDependency[Lector]) -> Registered:
        """Register a client (`name`, `email`, `password`, `password_confirmation`, as a form or
        JSON): a key of its own, bound to the cohort of its `X-Convertr-Client-Label`."""
        if not lector.settings.registration or lector.settings.secret is None:
            raise NotFound("Client registration is off on this server (LECTOR_REGISTRATION).")
        fields = await _fields(request)
        cohort = cohort_of(request.headers.get(LABEL_HEADER), lector.settings.secret)

        def register() -> KeyInfo:
            # Anyone may register: each registration counts as an anonymous request of the day.
            take_anonymous_day(lector.redis, lector.settings)
            try:
                return Registrations(lector.redis, lector.keys).register(
                    str(fields.get("name") or ""),
                    str(fields.get("email") or ""),
                    str(fields.get("password") or ""),
                    str(fields.get("password_confirmation") or ""),
                    cohort,
                )
            except BaseException:
                give_back_anonymous_day(lector.redis)
                raise

        info = await anyio.to_thread.run_sync(register)
        return Registered(
            message="API client registered. Use the returned bearer token with /convertr/api/convert.",
            user={"anonymous_api_client_cohort": cohort, "key_id": info.key_id},
            token={"type": "Bearer", "plain_text_token": str(info.key)},
            anonymous_access={
                "available": lector.settings.anonymous,
                "upload_limit": _in_words(lector.settings.anonymous_max_upload_bytes),
            },
        )

    @get(
        "/stats/pairs",
        guards=[key_or_anonymous],
        security=[*SECURITY, {}],
        responses={**AUTH_ERRORS, 422: error_spec("`days` outside 1 to 90")},
        sync_to_thread=True,
    )
    def pair_stats(
        self,
        lector: NamedDependency[Lector],
        days: Annotated[int, Parameter(ge=1, le=rollups.KEEP_DAYS, description="The window, in days")] = 14,
    ) -> rollups.PairsReport:
        """Per pair over the last `days` days: requests, success and error rates, average
        runtime, the days seen; and the totals (requests, client cohorts, the most used pair)."""
        return rollups.report(lector.redis, days)


def _in_words(size: int) -> str:
    """An upload limit as Convertr writes it: ``1 GB``, ``100 MB``."""
    mb = size // (1024 * 1024)
    return f"{mb // 1024} GB" if mb % 1024 == 0 else f"{mb} MB"


def _format(value: Any, field: str, known: tuple[str, ...]) -> str:
    """A format field, in Lector's name for it; InvalidOption when missing or unknown."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidOption(f"{field} is required, such as png or pdf.")
    asked = value.strip().lower().lstrip(".")
    name = _NAMES.get(asked, asked)
    if name not in known:
        raise InvalidOption(
            f"{field} {asked[:20]!r} is not one Lector converts; choose from: {', '.join(known)}."
        )
    return name


async def _fields(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The fields of a form or a JSON object."""
    if request.content_type[0] == "application/json":
        return decode_json_body(await request.body())
    form = await request.form()
    return {name: value for name, value in form.items() if isinstance(value, str)}
