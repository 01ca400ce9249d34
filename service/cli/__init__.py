"""The ``lector`` command.

- ``lector ocr FILE``: the extraction core in this process; no server, no Redis.
- ``lector convert FILE --to FORMAT``: a file conversion in this process, likewise.
- ``lector serve``: the HTTP API.
- ``lector worker``: one RQ worker, on the OCR queue, the media queue or both (``--queues``).
- ``lector batch``: many files to a server as one batch, results to a CSV or JSONL file.
- ``lector keys``: create and manage API keys with limits, on Redis.
- ``lector backup FILE``, ``lector restore FILE``: the keys, their usage, webhook secrets and own
  document types as one file, and back.
- ``lector up``: what ``make run`` starts: Redis if none answers, the API and the workers.

Each command that uses Redis (serve, worker, keys, backup, restore, up) first says which on
stderr (in the log, for serve and worker), and takes ``--env-file PATH``
(``service.cli.envfile``).

The web framework and the queue are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from service.cli.backup import add_backup_commands, run_backup_command
from service.cli.envfile import add_env_file_flag, load_env_file
from service.cli.keys import add_keys_commands, run_keys
from service.cli.options import add_option_flags, add_struct_flags, options_from, struct_from
from service.convert.target import Target
from service.errors import LectorError, SettingsError
from service.jobs.routing import QUEUES
from service.options import Options
from service.settings import Settings, load_settings

if TYPE_CHECKING:
    from service.engines import Engines

#: Where `make run` (``lector up``) keeps the API key it generated.
KEY_FILE = Path("var") / "api-key"
#: The commands that read or write Redis; each says first which Redis (LECTOR_REDIS_URL) it uses,
#: and takes --env-file.
REDIS_COMMANDS = frozenset({"serve", "worker", "keys", "backup", "restore", "up"})
#: The commands whose stderr is their log: one JSON line per event (LECTOR_LOG_FORMAT).
LOGGING_COMMANDS = frozenset({"serve", "worker"})
#: The commands that keep documents in the store (and say which).
STORE_COMMANDS = frozenset({"serve", "worker", "up"})


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status."""
    args = command_line().parse_args(argv)
    try:
        if getattr(args, "env_file", None) is not None:
            load_env_file(args.env_file)
        settings = load_settings()
        if args.command in REDIS_COMMANDS:
            _say_where(args.command, settings)
        if args.command == "ocr":
            return _ocr(args, settings)
        if args.command == "convert":
            return _convert(args, settings)
        if args.command == "serve":
            from service.api.server import serve as run_server

            return run_server(_with_key_file(settings), host=args.host, port=args.port)
        if args.command == "batch":
            return _batch(args, settings)
        if args.command == "keys":
            return run_keys(args, settings)
        if args.command in ("backup", "restore"):
            return run_backup_command(args, settings)
        if args.command == "worker":
            from service.worker import run_worker

            metrics_at = None if args.metrics_port is None else (args.metrics_host, args.metrics_port)
            return run_worker(settings, queues=args.queues, metrics_at=metrics_at)
        from service.cli.launcher import launch

        return launch(settings)
    except SettingsError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def command_line() -> argparse.ArgumentParser:
    """The parser of every ``lector`` command and its flags."""
    parser = argparse.ArgumentParser(prog="lector", description="Self-hosted OCR and document extraction.")
    commands = parser.add_subparsers(dest="command", required=True)

    ocr = commands.add_parser("ocr", help="extract the text of a file in this process")
    ocr.add_argument("file", type=Path)
    ocr.add_argument("--json", action="store_true", help="print the full result as JSON")
    add_option_flags(ocr)

    convert = commands.add_parser("convert", help="convert a file to another format in this process")
    convert.add_argument("file", type=Path)
    convert.add_argument("--out", type=Path, help="where to write it (default: its name, here)")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    add_struct_flags(convert, Target, {"target_format": ["--to"]}, required=("target_format",))
    add_option_flags(convert)

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="default: LECTOR_HOST")
    serve.add_argument("--port", type=int, help="default: LECTOR_PORT")

    batch = commands.add_parser("batch", help="send files to a server as one batch; write the results")
    batch.add_argument("paths", nargs="+", type=Path, metavar="DIR_OR_FILE")
    batch.add_argument(
        "--out", required=True, type=Path, help="results file: .csv, or .jsonl (.ndjson) for JSON lines"
    )
    batch.add_argument("--server", help="default: http://LECTOR_HOST:LECTOR_PORT")
    batch.add_argument("--key", help="API key (default: LECTOR_API_KEYS, else ./var/api-key)")
    # A batch names its type, as POST /api/batches requires.
    add_option_flags(batch, required=("document_type_code",))

    add_keys_commands(commands)
    add_backup_commands(commands)
    worker = commands.add_parser("worker", help="run one queue worker")
    worker.add_argument(
        "--queues",
        type=_queues,
        default=tuple(QUEUES),
        metavar="ocr,media",
        help="the queues it serves, comma-separated: ocr (images, PDFs, office documents) and media "
        "(audio, video); default: both, ocr first",
    )
    worker.add_argument(
        "--metrics-port",
        type=_port,
        metavar="N",
        help="serve this worker's own metrics at http://HOST:N/metrics (for Prometheus)",
    )
    worker.add_argument(
        "--metrics-host", default="0.0.0.0", help="the address --metrics-port listens on (default: every one)"
    )
    commands.add_parser(
        "up",
        help="start Redis (if needed), the API, and LECTOR_WORKERS and LECTOR_MEDIA_WORKERS workers",
    )
    for name in sorted(REDIS_COMMANDS):
        add_env_file_flag(commands.choices[name])
    return parser


def _queues(text: str) -> tuple[str, ...]:
    """The queues a worker serves, from ``ocr,media`` (argparse's refusal, exit 2, otherwise)."""
    names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if name not in QUEUES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"{(unknown or [text])[0]!r} is not a queue; name ocr, media or both (ocr,media)"
        )
    return names


def _port(text: str) -> int:
    """A TCP port from the command line (argparse's refusal, exit 2, otherwise)."""
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


def _say_where(command: str, settings: Settings) -> None:
    """Which Redis this command uses, and which store when it uses one, on stderr: events in
    the log of a server or a worker, lines for a person otherwise."""
    from service.redis_access import location
    from service.storage import storage_location

    said = {"redis": location(settings.redis_url)}
    if command in STORE_COMMANDS:
        said["store"] = storage_location(settings.storage_url)
    if command in LOGGING_COMMANDS:
        from service.logging import configure_logging, get_logger

        configure_logging(settings.log_format, settings.log_level)
        for what, where in said.items():
            get_logger("lector.cli").info(what, at=where)
    else:
        for what, where in said.items():
            print(
                f"lector: {'Redis' if what == 'redis' else 'store'} at {where}", file=sys.stderr, flush=True
            )


def _with_key_file(settings: Settings) -> Settings:
    """``lector serve`` with auth on and no LECTOR_API_KEYS takes the key `make run` generated."""
    if settings.auth_enabled and not settings.api_keys and KEY_FILE.exists():
        key = KEY_FILE.read_text().strip()
        if key:
            print(f"lector: LECTOR_API_KEYS is unset; using the key in {KEY_FILE}", file=sys.stderr)
            return msgspec.structs.replace(settings, api_keys=(key,))
    return settings


#: What separates pages on a terminal, where a raw form feed shows nothing.
PAGE_RULE = "\n" + "-" * 24 + " page break " + "-" * 24 + "\n"


def _options(args: argparse.Namespace) -> Options | None:
    """The options on the command line, or None once their refusal is said on stderr."""
    try:
        return options_from(args)
    except ValueError as exc:
        print(f"lector: {exc}.", file=sys.stderr)
        return None


def _ocr(args: argparse.Namespace, settings: Settings) -> int:
    from service.models import ocr_data
    from service.perform import perform
    from service.work import Extract

    options = _options(args)
    if options is None:
        return 2
    try:
        args.file.stat()  # read as the routes read a large upload: page by page (an office file as its PDF)
    except OSError as exc:
        print(f"lector: cannot read {args.file}: {exc.strerror}.", file=sys.stderr)
        return 2
    engines = _prepared_quietly(settings)
    try:
        extraction = perform(Extract(), args.file, options, engines, max_pages=settings.max_pages).reading
        assert extraction is not None  # reading a document always reads it
    except LectorError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 1
    for warning in extraction.warnings:
        print(f"lector: {warning}", file=sys.stderr)
    if args.json or extraction.fields is not None:
        sys.stdout.buffer.write(msgspec.json.encode(ocr_data(extraction)) + b"\n")
    else:
        separator = PAGE_RULE if sys.stdout.isatty() else "\f"
        sys.stdout.write(separator.join(page.text for page in extraction.pages) + "\n")
    return 0


def _prepared_quietly(settings: Settings) -> Engines:
    """The process prepared for ``lector ocr`` or ``lector convert``, whose standard output is
    the answer: only warnings are logged, and on stderr (LibreOffice starting is no news)."""
    from service.logging import configure_logging
    from service.startup import prepare_process

    configure_logging(settings.log_format, "warning")
    return prepare_process(settings)


def _convert(args: argparse.Namespace, settings: Settings) -> int:
    from service.perform import perform
    from service.work import ConvertFile

    try:
        options, target = options_from(args), struct_from(args, Target)
        data = args.file  # read as the routes read a large upload: page by page, or by ffmpeg
        data.stat()
        if args.out is not None:
            refuse_output(args.out, args.file, overwrite=args.overwrite)
    except ValueError as exc:
        print(f"lector: {exc}.", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lector: cannot read {args.file}: {exc.strerror}.", file=sys.stderr)
        return 2
    engines = _prepared_quietly(settings)
    try:
        output = perform(
            ConvertFile(target=target),
            data,
            options,
            engines,
            filename=args.file.name,
            max_pages=settings.max_pages,
        ).output
        assert output is not None  # a file conversion always makes a file
    except LectorError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 1
    out, size = args.out or Path(output.name), output.size
    try:
        refuse_output(out, args.file, overwrite=args.overwrite)
        # "x" creates the file or fails, so a file that appeared since the check is not replaced.
        with out.open("wb" if args.overwrite else "xb") as handle:
            if isinstance(output.content, Path):
                with output.content.open("rb") as made:
                    shutil.copyfileobj(made, handle)
            else:
                handle.write(output.content)
    except FileExistsError:
        print(f"lector: {_exists(out)}.", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"lector: {exc}.", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"lector: cannot write {out}: {exc.strerror}.", file=sys.stderr)
        return 2
    finally:
        output.discard()
    print(f"lector: wrote {out} ({size} bytes, {output.media_type})", file=sys.stderr)
    return 0


def refuse_output(out: Path, source: Path, *, overwrite: bool) -> None:
    """ValueError with a sentence when writing ``out`` would replace ``source`` (by any path or
    link to the same file, whatever ``overwrite`` says) or, without ``overwrite``, any file."""
    if not out.exists():
        return
    if out.samefile(source):
        raise ValueError(f"{out} is the input file; name another output with --out")
    if not overwrite:
        raise ValueError(_exists(out))


def _exists(out: Path) -> str:
    return f"{out} already exists; give --overwrite to replace it, or name another output with --out"


def _batch(args: argparse.Namespace, settings: Settings) -> int:
    from service.cli.batch import BatchError, result_format, run_batch

    key = args.key or (settings.api_keys[0] if settings.api_keys else None)
    if key is None and KEY_FILE.exists():
        key = KEY_FILE.read_text().strip()
    server = args.server or f"http://{settings.host}:{settings.port}"
    options = _options(args)
    if options is None:
        return 2
    try:
        return run_batch(
            args.paths,
            out=args.out,
            result_format=result_format(args.out),
            server=server,
            key=key,
            options=options,
        )
    except BatchError as exc:
        print(f"lector: {str(exc).rstrip('.')}.", file=sys.stderr)
        return 2
