"""The ``lector`` command.

- ``lector ocr FILE``: the extraction core in this process; no server, no Redis.
- ``lector serve``: the HTTP API.
- ``lector worker``: one RQ worker.
- ``lector batch``: many files to a server as one batch, results to a CSV or JSONL file.
- ``lector up``: what ``make run`` starts: Redis if none answers, the API and the workers.

The web framework and the queue are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import msgspec

from service.errors import LectorError, SettingsError
from service.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; returns the exit status."""
    parser = argparse.ArgumentParser(prog="lector", description="Self-hosted OCR and document extraction.")
    commands = parser.add_subparsers(dest="command", required=True)

    ocr = commands.add_parser("ocr", help="extract the text of a file in this process")
    ocr.add_argument("file", type=Path)
    ocr.add_argument("--lang", default="eng", help="Tesseract language(s), e.g. eng or eng+deu")
    ocr.add_argument("--type", default="text", dest="document_type", help="document type code, e.g. receipt")
    ocr.add_argument("--engine", default="auto", choices=["auto", "tesseract", "llm", "hybrid"])
    ocr.add_argument("--pages", help="page selection such as 1-3,5")
    ocr.add_argument("--psm", type=int, help="Tesseract page segmentation mode")
    ocr.add_argument("--force-ocr", action="store_true", help="OCR PDF pages even with a text layer")
    ocr.add_argument("--password", help="password of an encrypted PDF")
    ocr.add_argument("--json", action="store_true", help="print the full result as JSON")
    ocr.add_argument("--words", action="store_true", help="with --json: include word boxes")

    serve = commands.add_parser("serve", help="run the HTTP API")
    serve.add_argument("--host", help="default: LECTOR_HOST")
    serve.add_argument("--port", type=int, help="default: LECTOR_PORT")

    batch = commands.add_parser("batch", help="send files to a server as one batch; write the results")
    batch.add_argument("paths", nargs="+", type=Path, metavar="DIR_OR_FILE")
    batch.add_argument("--type", required=True, dest="document_type", help="document type code, e.g. invoice")
    batch.add_argument("--out", required=True, type=Path, help="results file: .csv, or .jsonl for JSON lines")
    batch.add_argument("--server", help="default: http://LECTOR_HOST:LECTOR_PORT")
    batch.add_argument("--key", help="API key (default: LECTOR_API_KEYS, else ./var/api-key)")
    batch.add_argument("--lang", help="Tesseract language(s)")
    batch.add_argument("--engine", help="engine name")

    commands.add_parser("worker", help="run one queue worker")
    commands.add_parser("up", help="start Redis (if needed), the API and LECTOR_WORKERS workers")

    args = parser.parse_args(argv)
    try:
        settings = get_settings()
        if args.command == "ocr":
            return _ocr(args)
        if args.command == "serve":
            from service.api.server import serve as run_server

            return run_server(settings, host=args.host, port=args.port)
        if args.command == "batch":
            return _batch(args)
        if args.command == "worker":
            from service.worker import run_worker

            return run_worker(settings)
        from service.launcher import launch

        return launch(settings)
    except SettingsError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _ocr(args: argparse.Namespace) -> int:
    from service.extract import extract, options_for
    from service.models import OcrOptions, ocr_data

    settings = get_settings()
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"lector: cannot read {args.file}: {exc.strerror}.", file=sys.stderr)
        return 2
    request = OcrOptions(
        document_type_code=args.document_type,
        engine=args.engine,
        lang=args.lang,
        psm=args.psm,
        pages=args.pages,
        force_ocr=args.force_ocr,
        include_words=args.words,
        password=args.password,
    )
    options = options_for(request, dpi=settings.ocr_dpi, max_pages=settings.max_pages)
    try:
        extraction = extract(data, options)
    except LectorError as exc:
        print(f"lector: {exc.message}", file=sys.stderr)
        return 1
    if args.json or extraction.fields is not None:
        sys.stdout.buffer.write(msgspec.json.encode(ocr_data(extraction)) + b"\n")
    else:
        sys.stdout.write(extraction.text + "\n")
    return 0


def _batch(args: argparse.Namespace) -> int:
    from service.batch_client import BatchError, run_batch

    settings = get_settings()
    key = args.key or (settings.api_keys[0] if settings.api_keys else None)
    key_file = Path("var/api-key")
    if key is None and key_file.exists():
        key = key_file.read_text().strip()
    server = args.server or f"http://{settings.host}:{settings.port}"
    options = {name: value for name in ("lang", "engine") if (value := getattr(args, name))}
    try:
        return run_batch(
            args.paths,
            document_type=args.document_type,
            out=args.out,
            server=server,
            key=key,
            options=options,
        )
    except BatchError as exc:
        print(f"lector: {exc}.", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
