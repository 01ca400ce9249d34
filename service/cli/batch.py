"""``lector batch``: send many files to a Lector server as one batch and write the results file.

It uploads the files, shows a progress line with counts and an ETA on stderr, downloads
the results (CSV or JSONL, by the output file's extension) and exits 1 with a summary when
any item failed, 2 when the batch could not be run at all.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import httpx
import msgspec

from service.downloads import failure_reason
from service.models import Status
from service.options import Options

POLL_S = 1.0
BAR_WIDTH = 30
#: Results formats by the output file's extension.
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


class BatchError(Exception):
    """The batch could not be submitted or followed; the message says why."""


def result_format(out: Path) -> str:
    """The results format the output file's extension asks for; BatchError for another one."""
    try:
        return FORMATS[out.suffix.lower()]
    except KeyError:
        raise BatchError(
            f"cannot tell the results format from {out.name!r}: name it .csv, .jsonl or .ndjson"
        ) from None


def collect(paths: list[Path]) -> list[Path]:
    """The files named, and the files directly inside the folders named (sorted, no hidden ones)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")))
        elif path.is_file():
            files.append(path)
        else:
            raise BatchError(f"{path} is neither a file nor a folder")
    if not files:
        raise BatchError("no files to send")
    return files


def progress_line(status: dict[str, Any], elapsed: float) -> str:
    """``[#####-----] 23/50 done, 1 failed, ETA 0:12``."""
    total = status["total"] or 1
    done = status["succeeded"] + status["failed"]
    filled = round(BAR_WIDTH * status["progress"])
    if 0 < status["progress"] < 1:
        remaining = elapsed * (1 - status["progress"]) / status["progress"]
        eta = f", ETA {int(remaining // 60)}:{int(remaining % 60):02d}"
    else:
        eta = ""
    return f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} done, {status['failed']} failed{eta}"


def form_fields(options: Options) -> dict[str, str]:
    """``options`` as the text fields of a multipart ``POST /api/batches``: the type always, the
    others when they differ from their defaults (JSON for ``document_metadata``)."""
    fields: dict[str, Any] = {
        "document_type_code": options.document_type_code,
        **msgspec.to_builtins(options),
    }
    return {
        name: json.dumps(value) if isinstance(value, (dict, bool)) else str(value)
        for name, value in fields.items()
    }


def run_batch(
    paths: list[Path],
    *,
    out: Path,
    result_format: str,
    server: str,
    key: str | None,
    options: Options,
    stderr: TextIO = sys.stderr,
) -> int:
    """Run a whole batch with ``options`` for every file; returns the exit status."""
    files = collect(paths)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(
        base_url=server.rstrip("/"), headers=headers, timeout=httpx.Timeout(60, read=600)
    ) as client:
        try:
            batch_id = _submit(client, files, form_fields(options))
            print(f"batch {batch_id}: {len(files)} files queued", file=stderr)
            status = _follow(client, batch_id, stderr)
            with (
                out.open("wb") as handle,
                client.stream(
                    "GET", f"/api/batches/{batch_id}/results", params={"format": result_format}
                ) as response,
            ):
                _check(response)
                for chunk in response.iter_bytes():
                    handle.write(chunk)
        except httpx.HTTPError as exc:
            raise BatchError(f"lost the server at {client.base_url}: {failure_reason(exc)}") from None
        except OSError as exc:
            raise BatchError(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {out}: {status['succeeded']} succeeded, {status['failed']} failed", file=stderr)
    failures = [item for item in status["items"] if item["status"] == Status.FAILED]
    for item in failures[:20]:
        print(
            f"  failed: {item['filename']}: {(item['error'] or {}).get('message', 'unknown error')}",
            file=stderr,
        )
    if len(failures) > 20:
        print(f"  ... and {len(failures) - 20} more", file=stderr)
    return 1 if failures else 0


def _submit(client: httpx.Client, files: list[Path], fields: dict[str, str]) -> str:
    with ExitStack() as stack:
        parts = [("files", (path.name, stack.enter_context(path.open("rb")))) for path in files]
        try:
            response = client.post("/api/batches/", files=parts, data=fields)
        except httpx.HTTPError as exc:
            raise BatchError(f"cannot reach the server at {client.base_url}: {failure_reason(exc)}") from None
    _check(response)
    return str(response.json()["batch_id"])


def _follow(client: httpx.Client, batch_id: str, stderr: TextIO) -> dict[str, Any]:
    started = time.monotonic()
    interactive = stderr.isatty()
    while True:
        response = client.get(f"/api/batches/{batch_id}")
        _check(response)
        status: dict[str, Any] = response.json()
        line = progress_line(status, time.monotonic() - started)
        print(
            ("\r" + line) if interactive else line, end="" if interactive else "\n", file=stderr, flush=True
        )
        if Status(status["status"]).finished:
            if interactive:
                print(file=stderr)
            return status
        time.sleep(POLL_S)


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    response.read()
    try:
        message = response.json().get("message", response.text)
        problems = response.json().get("errors")
    except ValueError:
        message, problems = response.text, None
    detail = f" ({'; '.join(problems)})" if isinstance(problems, list) else ""
    raise BatchError(f"the server answered {response.status_code}: {str(message).rstrip('.')}{detail}")
