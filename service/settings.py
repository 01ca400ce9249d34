"""Every ``LECTOR_*`` environment variable, parsed and validated once.

A bad value stops the process at start-up with one sentence naming the variable,
instead of surfacing later as a confusing failure in the middle of a request.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Literal, NamedTuple
from urllib.parse import urlsplit

import msgspec
from msgspec import Meta

from service.errors import SettingsError
from service.options import Lang
from service.typeinfo import fields_of

PREFIX = "LECTOR_"
#: The OpenAI client's own variables, read here once like the others and handed to the engine.
_FOREIGN = ("openai_base_url", "openai_api_key")
#: Every spelling of a boolean setting that is accepted, and what it means.
_BOOLEANS = {
    "on": True,
    "true": True,
    "yes": True,
    "1": True,
    "off": False,
    "false": False,
    "no": False,
    "0": False,
}


def env_name(field: str) -> str:
    """The environment variable a setting is read from."""
    return field.upper() if field in _FOREIGN else PREFIX + field.upper()


class Settings(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename=env_name):
    """Lector's configuration; each field is read from ``LECTOR_<FIELD>``."""

    host: Annotated[str, Meta(description="address the API listens on")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=1, le=65535, description="port the API listens on")] = 8000
    public_url: (
        Annotated[
            str,
            Meta(
                pattern=r"^https?://",
                description="the address clients reach the API at (`https://ocr.example.com`, with the "
                "path prefix a proxy adds, if any; no query): status and download URLs are built on it, "
                "also in the webhook events workers send. When unset, the API builds them from each "
                "request's address, and a worker's events carry none. Every host needs the same one",
            ),
        ]
        | None
    ) = None
    trusted_proxies: Annotated[
        tuple[Annotated[str, Meta(pattern=r"^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$")], ...],
        Meta(
            max_length=100,
            description="comma-separated addresses and CIDR ranges of the reverse proxies whose "
            "`X-Forwarded-Proto` and `X-Forwarded-For` the API believes (the scheme of the URLs it "
            "builds, the client's address); any other client's are ignored",
        ),
    ] = ("127.0.0.1", "::1")
    redis_url: Annotated[
        str,
        Meta(
            pattern=r"^rediss?://",
            description="the Redis for jobs, records and readiness; with a password "
            "`redis://:PASSWORD@host:6379/0`, over TLS `rediss://` (docs/operations.md)",
        ),
    ] = "redis://127.0.0.1:6379/0"
    workers: Annotated[int, Meta(ge=1, le=64, description="queue workers `make run` starts")] = 2
    media_workers: Annotated[
        int,
        Meta(
            ge=0,
            le=64,
            description="workers `make run` starts besides for audio and video alone, so a long video "
            "never delays a receipt (0: the `LECTOR_WORKERS` workers take media too)",
        ),
    ] = 1
    media_video_concurrency: Annotated[
        int,
        Meta(
            ge=-1,
            le=100_000,
            description="video conversions one key (all clients together, with authentication off) may "
            "have queued or running at once (-1: no limit); "
            "a managed key's own `video_concurrency` overrides it",
        ),
    ] = 20
    media_audio_concurrency: Annotated[
        int,
        Meta(
            ge=-1,
            le=100_000,
            description="audio conversions one key (all clients together, with authentication off) may "
            "have queued or running at once (-1: no limit); "
            "a managed key's own `audio_concurrency` overrides it",
        ),
    ] = 40
    api_keys: Annotated[
        tuple[Annotated[str, Meta(min_length=8)], ...],
        Meta(
            description="comma-separated accepted keys (8+ characters each); when unset, `make run` "
            "generates one into `./var/api-key`, which `lector serve` and `lector batch` then use"
        ),
    ] = ()
    admin_key: Annotated[
        Annotated[str, Meta(min_length=16)] | None,
        Meta(
            description="the secret of the `/admin/...` routes (16+ characters; ordinary keys get 403 "
            "there); when unset, `make run` generates one into `./var/admin-key`"
        ),
    ] = None
    secret: Annotated[
        Annotated[str, Meta(min_length=32)] | None,
        Meta(
            description="signs download URLs that need no key and encrypts the PDF passwords of "
            "queued jobs and the keys' AWS secret access keys (32+ characters; the API and every "
            "worker need the same one); when unset, `make run` generates one into `./var/secret`, "
            "and without one no signed URL is given, a queued job takes no PDF password and no AWS "
            "credentials are made"
        ),
    ] = None
    download_url_hours: Annotated[
        int, Meta(ge=1, le=24 * 30, description="how long a signed download URL stays valid")
    ] = 24
    usage_days: Annotated[
        int, Meta(ge=1, le=3650, description="days of per-key usage kept (`GET /api/usage`)")
    ] = 400
    llm_price_in: Annotated[
        Annotated[float, Meta(ge=0)] | None,
        Meta(description="price of a million prompt tokens; with the next, usage shows a cost"),
    ] = None
    llm_price_out: Annotated[
        Annotated[float, Meta(ge=0)] | None, Meta(description="price of a million completion tokens")
    ] = None
    auth: Annotated[bool, Meta(description="`off` serves without keys (explicitly only)")] = True
    max_upload_mb: Annotated[
        int, Meta(ge=1, le=2048, description="largest document, in MB (a base64 body may be a third larger)")
    ] = 100
    max_pages: Annotated[int, Meta(ge=1, le=100_000, description="most pages one request may select")] = 500
    max_media_seconds: Annotated[
        int,
        Meta(ge=1, le=7 * 24 * 3600, description="longest audio or video, in seconds of its playing time"),
    ] = 4 * 3600
    media_threads: Annotated[int, Meta(ge=1, le=64, description="threads one ffmpeg conversion may use")] = 2
    sync_max_pages: Annotated[
        int, Meta(ge=1, le=100_000, description="most pages the sync endpoints take")
    ] = 20
    office_timeout_s: Annotated[
        int,
        Meta(ge=1, le=3600, description="seconds LibreOffice may take to make a PDF of an office document"),
    ] = 120
    ocr_dpi: Annotated[
        int, Meta(ge=72, le=1200, description="resolution PDF pages are rendered at for OCR")
    ] = 300
    result_ttl_hours: Annotated[
        int,
        Meta(
            ge=1,
            le=24 * 365,
            description="how long finished jobs, batches, their results and converted files are kept (a "
            "submitted document is deleted as soon as its job ends)",
        ),
    ] = 168
    storage_url: Annotated[
        Annotated[str, Meta(pattern=r"^(s3|file)://")] | None,
        Meta(
            description="where documents, converted files and large results are kept: "
            "`s3://bucket/prefix` (any S3-compatible store; endpoint and credentials from "
            "`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`) or "
            "`file:///path`; unset, a private directory `./var/store` on one host",
        ),
    ] = None
    storage_presign: Annotated[
        bool,
        Meta(
            description="a signed download URL redirects to a presigned URL of the S3 store "
            "(the client then downloads from the store itself)"
        ),
    ] = False
    url_allow_private: Annotated[
        bool,
        Meta(
            description="**dangerous**: lets `image_url` reach loopback and private addresses, i.e. your own "
            "network and cloud metadata. For tests and fully trusted clients only"
        ),
    ] = False
    webhook_allow: Annotated[
        tuple[Annotated[str, Meta(pattern=r"^[A-Za-z0-9.:-]+(/[0-9]{1,3})?$")], ...],
        Meta(
            max_length=100,
            description="comma-separated hosts, addresses and CIDR ranges (e.g. "
            "`hooks.internal,10.1.0.0/16`) that webhook deliveries, and only they, may reach although "
            "private; `image_url` stays refused there. Cloud metadata addresses are never reached",
        ),
    ] = ()
    max_batch_items: Annotated[int, Meta(ge=1, le=100_000, description="most items one batch may hold")] = (
        1000
    )
    tesseract_langs: Annotated[
        Lang,
        Meta(
            description="Tesseract languages `make run` and `make test` install as Debian packages "
            "(`tesseract-ocr-<code>`), e.g. `eng+deu+fra`: `lang=auto` finds each page's language among "
            "the installed ones"
        ),
    ] = "eng"
    llm_model: Annotated[
        str | None,
        Meta(
            description="the model; setting it enables the `llm`, `hybrid` and `llm-text` engines and makes "
            "`auto` use it"
        ),
    ] = None
    llm_vision: Annotated[
        bool,
        Meta(
            description="the model sees images; `no`: `auto` reads typed documents with `llm-text` (the "
            "model gets the OCR text) and plain text with the OCR engine, and `llm` and `hybrid` are refused"
        ),
    ] = True
    llm_concurrency: Annotated[int, Meta(ge=1, le=64, description="model calls in flight per process")] = 4
    llm_timeout_s: Annotated[int, Meta(ge=1, le=3600, description="seconds per model call")] = 120
    llm_max_image_side: Annotated[
        int, Meta(ge=256, le=8192, description="longest side of a page image sent to the model, in pixels")
    ] = 2048
    llm_pages_per_call: Annotated[
        int, Meta(ge=1, le=100, description="pages per call for typed documents")
    ] = 8
    llm_max_output_tokens: Annotated[
        int,
        Meta(
            ge=16,
            le=131_072,
            description="most tokens one model reply may hold (`max_tokens`); a reply cut there is a 502, "
            "not a guess",
        ),
    ] = 4096
    llm_frequency_penalty: Annotated[
        Annotated[float, Meta(ge=-2, le=2)] | None,
        Meta(
            description="`frequency_penalty` sent with every model call (-2 to 2); unset, none is sent. "
            "Around 1 keeps a small local model from repeating itself until the token limit"
        ),
    ] = None
    asr_model: Annotated[
        str | None,
        Meta(
            description="the speech model of an OpenAI-compatible transcription server (faster-whisper, "
            "whisper.cpp, vLLM, OpenAI); unset, speech is transcribed here by PocketSphinx, English only"
        ),
    ] = None
    asr_base_url: Annotated[
        Annotated[str, Meta(pattern=r"^https?://")] | None,
        Meta(description="the transcription server's address (`…/v1`); unset, `OPENAI_BASE_URL`'s"),
    ] = None
    asr_api_key: Annotated[
        str | None, Meta(description="the transcription server's key; unset, `OPENAI_API_KEY`")
    ] = None
    asr_timeout_s: Annotated[
        int,
        Meta(ge=1, le=3600, description="seconds per transcription call, beyond the audio's own length"),
    ] = 120
    metrics_dir: Annotated[
        str | None,
        Meta(
            description="directory where every process on this machine writes its metrics for `GET /metrics` "
            "(emptied by `make run` at start); when unset, each process reports only its own"
        ),
    ] = None
    metrics_key: Annotated[
        Annotated[str, Meta(min_length=16)] | None,
        Meta(description="when set, `GET /metrics` needs `Authorization: Bearer <this>` (16+ characters)"),
    ] = None
    sync_concurrency: Annotated[
        Annotated[int, Meta(ge=1, le=256)] | None,
        Meta(description="synchronous extractions at once per API process (default: the cores)"),
    ] = None
    sync_queue: Annotated[
        int,
        Meta(ge=0, le=1024, description="synchronous requests that may wait for one; beyond, 503 at once"),
    ] = 8
    webhook_retry_delays_s: Annotated[
        tuple[Annotated[float, Meta(ge=0, le=7 * 86400)], ...],
        Meta(
            max_length=20,
            description="comma-separated seconds between a failed webhook attempt and the next (±10 %); "
            "their count is the number of retries",
        ),
    ] = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 86400.0)
    shutdown_timeout_s: Annotated[
        int,
        Meta(
            ge=1,
            le=3600,
            description="on SIGTERM, how long running requests and jobs may take to finish; a job still "
            "running then goes back on the queue",
        ),
    ] = 30
    header_timeout_s: Annotated[
        int,
        Meta(
            ge=1,
            le=600,
            description="seconds a client has to send a request's line and headers (from connecting, or "
            "from the first byte of a later request on the connection); then 408 and the connection is "
            "closed",
        ),
    ] = 10
    body_timeout_s: Annotated[
        int,
        Meta(
            ge=1,
            le=3600,
            description="seconds a request body may take beyond what its size earns at "
            "`LECTOR_BODY_MIN_KB_PER_S`; then 408 and the connection is closed",
        ),
    ] = 20
    body_min_kb_per_s: Annotated[
        int,
        Meta(
            ge=1,
            le=1_000_000,
            description="the slowest upload pace waited for: each this many KB of a body adds a second "
            "to its time",
        ),
    ] = 8
    keep_alive_s: Annotated[
        int, Meta(ge=1, le=3600, description="seconds an idle connection stays open after an answer")
    ] = 5
    max_connections: Annotated[
        int,
        Meta(
            ge=1,
            le=100_000,
            description="open connections per API process; a request beyond them gets 503 with Retry-After",
        ),
    ] = 1000
    max_header_kb: Annotated[
        int,
        Meta(
            ge=1,
            le=1024,
            description="largest request line and headers, in KB; beyond, 400 and the connection is closed",
        ),
    ] = 16
    anonymous: Annotated[
        bool,
        Meta(
            description="`on` lets Convertr's `/convertr/api/convert` run without a key "
            "(limited by the next two settings)"
        ),
    ] = False
    anonymous_per_minute: Annotated[
        int, Meta(ge=1, le=1_000_000, description="anonymous conversions per minute per client label")
    ] = 10
    anonymous_per_day: Annotated[
        int, Meta(ge=1, le=100_000_000, description="anonymous conversions per UTC day, all labels together")
    ] = 1000
    anonymous_max_upload_mb: Annotated[
        Annotated[int, Meta(ge=1, le=1024)] | None,
        Meta(
            description="largest anonymous upload to Convertr's `/convertr/api/convert`, in MB, up to "
            "1024 (Convertr's own 1 GB); unset, `LECTOR_MAX_UPLOAD_MB`"
        ),
    ] = None
    registration: Annotated[
        bool,
        Meta(description="`on` opens Convertr's `/convertr/api/client-registrations`, which makes keys"),
    ] = False
    log_format: Annotated[
        Literal["json", "console"], Meta(description="`json` (one line per event) or `console`")
    ] = "json"
    log_level: Annotated[
        Literal["debug", "info", "warning", "error"],
        Meta(description="`debug`, `info`, `warning` or `error`"),
    ] = "info"
    openai_base_url: (
        Annotated[
            str, Meta(pattern=r"^https?://", description="the OpenAI-compatible server (its own variable)")
        ]
        | None
    ) = None
    openai_api_key: Annotated[
        str | None,
        Meta(description="the model server's key (its standard variable); local servers need none"),
    ] = None

    @property
    def max_upload_bytes(self) -> int:
        """The largest document accepted, in bytes."""
        return self.max_upload_mb * 1024 * 1024

    @property
    def anonymous_max_upload_bytes(self) -> int:
        """The largest anonymous upload accepted, in bytes."""
        mb = self.max_upload_mb if self.anonymous_max_upload_mb is None else self.anonymous_max_upload_mb
        return mb * 1024 * 1024

    @property
    def result_ttl_s(self) -> int:
        """How long finished jobs and their inputs are kept, in seconds."""
        return self.result_ttl_hours * 3600

    @property
    def webhook_allowed(self) -> AllowList:
        """LECTOR_WEBHOOK_ALLOW as host names and networks."""
        return allow_list(self.webhook_allow)

    @property
    def auth_enabled(self) -> bool:
        """Whether requests must carry an API key."""
        return self.auth

    def __repr__(self) -> str:
        # Settings hold keys; a repr in a traceback or a log line must not show them.
        return "Settings(...)"


class AllowList(NamedTuple):
    """Where webhook deliveries may go although private: host names, and address ranges."""

    hosts: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def allow_list(entries: Iterable[str]) -> AllowList:
    """Entries of LECTOR_WEBHOOK_ALLOW sorted out: an address or a CIDR range is a network, any
    other entry a host name (lower case, no final dot). ValueError for a malformed range."""
    hosts, networks = set(), []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            if "/" in entry or ":" in entry:
                raise ValueError(f"{entry!r} is not a valid address or CIDR range") from None
            hosts.add(entry.lower().rstrip("."))
    return AllowList(frozenset(hosts), tuple(networks))


_BOOLEAN_FIELDS = tuple(
    field.name for field in fields_of(Settings) if isinstance(field.kind, msgspec.inspect.BoolType)
)
_SECRETS = (
    "LECTOR_API_KEYS",
    "LECTOR_ADMIN_KEY",
    "LECTOR_SECRET",
    "LECTOR_METRICS_KEY",
    "LECTOR_ASR_API_KEY",
    "OPENAI_API_KEY",
)
#: Settings that were read once, and what replaces them.
_GONE = {
    "LECTOR_BLOB_DIR": "set LECTOR_STORAGE_URL=file:///that/directory (or s3://bucket/prefix) instead",
}
_PATH = re.compile(r" - at `\$\.(?P<name>[A-Z_]+(\[[0-9]+\])?)`.*$")


def is_setting(name: str) -> bool:
    """Whether Lector reads the variable ``name``, or read it once and now says what replaces it."""
    return name in _GONE or any(env_name(field) == name for field in Settings.__struct_fields__)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from ``environ`` (default: the process environment).

    Raises SettingsError with a sentence that names the bad variable.
    """
    environ = os.environ if environ is None else environ
    for name, instead in _GONE.items():
        if name in environ:
            raise SettingsError(f"{name} is no longer read: {instead}.")
    known = {env_name(field) for field in Settings.__struct_fields__}
    raw: dict[str, object] = {name: value for name, value in environ.items() if name in known}
    for name in (
        "LECTOR_API_KEYS",
        "LECTOR_WEBHOOK_RETRY_DELAYS_S",
        "LECTOR_WEBHOOK_ALLOW",
        "LECTOR_TRUSTED_PROXIES",
    ):
        if name in raw:
            raw[name] = [part.strip() for part in str(raw[name]).split(",") if part.strip()]
    for name in ("LECTOR_LOG_FORMAT", "LECTOR_LOG_LEVEL"):
        if name in raw:
            raw[name] = str(raw[name]).strip().lower()
    for field in _BOOLEAN_FIELDS:
        name = env_name(field)
        if name in raw:
            spelled = str(raw[name]).strip().lower()
            raw[name] = _BOOLEANS.get(spelled, spelled)
    try:
        settings = msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        if "Expected `bool`" in message:
            message = message.replace(
                "Expected `bool`, got `str`", "Expected on/off, true/false, yes/no or 1/0"
            )
        match = _PATH.search(message)
        if not match:
            raise SettingsError(f"Invalid configuration: {message}.") from None
        name = match.group("name").split("[")[0]
        value = environ.get(name, "")
        shown = "<hidden>" if name in _SECRETS else repr(value)
        reason = _PATH.sub("", message)
        raise SettingsError(f"Invalid {name}={shown}: {reason}.") from None
    try:
        allow_list(settings.webhook_allow)
    except ValueError as exc:
        shown = repr(environ.get("LECTOR_WEBHOOK_ALLOW", ""))
        raise SettingsError(f"Invalid LECTOR_WEBHOOK_ALLOW={shown}: {exc}.") from None
    for entry in settings.trusted_proxies:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            shown = repr(environ.get("LECTOR_TRUSTED_PROXIES", ""))
            raise SettingsError(
                f"Invalid LECTOR_TRUSTED_PROXIES={shown}: {entry!r} is not an address or a CIDR range."
            ) from None
    public = settings.public_url
    if public is not None and (problem := public_url_problem(public)):
        shown = "<hidden>" if "@" in public else repr(public)  # a user and a password stay unsaid
        raise SettingsError(f"Invalid LECTOR_PUBLIC_URL={shown}: {problem}.")
    return settings


def public_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be the address clients reach Lector at, or None when it can."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (read for its ValueError on a bad port)
    except ValueError:
        return "it is not a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "use an http or https URL with a host, such as https://ocr.example.com"
    if parts.username is not None or parts.password is not None:
        return "it may not hold a user name or password"
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        return "it may not have a query or a fragment"
    if any(char.isspace() or char == "\\" for char in url):
        return "it may not hold spaces or backslashes"
    return None
