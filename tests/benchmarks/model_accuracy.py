"""``make bench-accuracy MODEL_URL=... MODEL=...``: receipt fields read by a model, on
``../shared/datasets/sroie-dev`` and ``sroie-check`` (read in place), for any OpenAI-compatible
server.

For each receipt of each set: Lector's extraction with ``engine=llm-text`` (the OCR engine's
text to the model, no picture), and with ``llm`` and ``hybrid`` too when ``--vision`` says the
model sees images. Each field's exact-match score (SROIE's conventions, as ``accuracy``
scores them), and the median seconds and model tokens per receipt. The point is the harness:
it measures any real model the day one is at hand. Without ``--url``, it starts the tests' own
llama-server with Gemma 3 270M (``tests/model_server.py``) and measures that. ``--limit N``
reads the first N receipts of each set. ``--smoke`` reads one receipt of each and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from service.engines import Engines
from service.extract import extract
from service.options import Options
from service.settings import load_settings
from tests.benchmarks.accuracy import DEFAULT_DATA, FIELD_MAP, field_matches
from tests.benchmarks.tables import add_smoke_flag, publish, table, title
from tests.model_server import MODEL, model_file, start_model_server

SETS = ("sroie-dev", "sroie-check")
#: The tests' own 270M model repeats line items until stopped: its replies are cut at 300
#: tokens and repetition discouraged, as in tests/integration/test_model_server.py.
SMALL_MODEL = {"LECTOR_LLM_MAX_OUTPUT_TOKENS": "300", "LECTOR_LLM_FREQUENCY_PENALTY": "1"}
DEFAULT_LIMIT = 40


def score(
    engines: Engines, data: Path, engine: str, limit: int
) -> tuple[dict[str, float], float, float, int]:
    """Each field's exact-match share, the median seconds and tokens per receipt, and how many
    receipts were read."""
    images = sorted((data / "img").glob("*.jpg"))[:limit]
    right = dict.fromkeys(FIELD_MAP, 0)
    seconds, tokens, failed = [], [], 0
    for image in images:
        truth = json.loads((data / "key" / f"{image.stem}.json").read_text())
        started = time.perf_counter()
        try:
            extraction = extract(
                image.read_bytes(), Options(document_type_code="receipt", engine=engine), engines
            )
            fields = extraction.fields or {}
            tokens.append(extraction.tokens.total)
        except Exception:  # a model error counts as every field missed; the run goes on
            fields, failed = {}, failed + 1
        seconds.append(time.perf_counter() - started)
        for ours, theirs in FIELD_MAP.items():
            right[ours] += field_matches(ours, fields.get(ours), truth.get(theirs))
    count = len(images)
    shares = {name: hits / count for name, hits in right.items()} if count else dict.fromkeys(FIELD_MAP, 0.0)
    return shares, statistics.median(seconds or [0.0]), statistics.median(tokens or [0]), count, failed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="the server's OpenAI-compatible base URL (…/v1); none: the tests' own")
    parser.add_argument("--model", help="the model's name on that server")
    parser.add_argument("--vision", action="store_true", help="the model sees images: also llm and hybrid")
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="receipts per set")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    if args.url and not args.model:
        parser.error("--model is required with --url")
    limit = 1 if args.smoke else args.limit
    with ExitStack() as stack:
        tuning: dict[str, str] = {}
        if not args.url:
            work = Path(tempfile.mkdtemp(prefix="lector-bench-model-"))
            stack.callback(shutil.rmtree, work, ignore_errors=True)
            server = start_model_server(work, model_file(work), parallel=1)
            stack.callback(server.stop)
            args.url, args.model = server.url, MODEL
            tuning = SMALL_MODEL
        rows = measure(args.url, args.model, vision=args.vision, limit=limit, tuning=tuning)
    header = (
        "engine",
        "set (receipts)",
        *FIELD_MAP,
        "seconds / receipt (median)",
        "tokens / receipt (median, of those answered)",
        "model errors",
    )
    heading = title(f"Receipt fields read by {args.model}", f"the first {limit} receipts of each set")
    publish("model_accuracy", [table(heading, header, rows)], smoke=args.smoke)


def measure(
    url: str, model: str, *, vision: bool, limit: int, tuning: dict[str, str]
) -> list[tuple[str, ...]]:
    """One row per engine and set (``tuning``: more LECTOR_* settings)."""
    engines = Engines(
        load_settings(
            {
                "OPENAI_BASE_URL": url,
                "LECTOR_LLM_MODEL": model,
                "LECTOR_LLM_VISION": "yes" if vision else "no",
                **tuning,
            }
        )
    )
    names = ("llm-text", "llm", "hybrid") if vision else ("llm-text",)
    rows = []
    for engine in names:
        for name in SETS:
            shares, seconds, tokens, count, failed = score(engines, DEFAULT_DATA.parent / name, engine, limit)
            rows.append(
                (
                    engine,
                    f"{name} ({count})",
                    *(f"{shares[field]:.2f}" for field in FIELD_MAP),
                    f"{seconds:.2f} s",
                    f"{tokens:.0f}",
                    str(failed),
                )
            )
    return rows


if __name__ == "__main__":
    main()
