"""Run benchmarks in one process: ``python -m tests.benchmarks [--smoke] [NAME ...]``.

Without names, the ``make bench`` set (``BENCH``); ``accuracy`` is ``make bench-accuracy``'s,
and ``languages`` (the Tesseract languages of ``make test-tools``) runs only when named.
With ``--smoke`` each runs in its smoke form (one repetition of tiny inputs, written nowhere),
all of them on one shared Redis, API and workers.
"""

from __future__ import annotations

import argparse
import importlib
import time

#: ``make bench``'s benchmarks, in the order it runs them.
BENCH = (
    "sync",
    "async_ocrmypdf",
    "keys",
    "convert",
    "office",
    "small_docs",
    "pressure",
    "streaming",
    "multi_host",
    "redis_size",
    "media",
    "speech",
)
#: Every benchmark module.
ALL = (*BENCH, "accuracy", "model_accuracy", "languages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(ALL)}")
    parser.add_argument("--smoke", action="store_true", help="each in its smoke form")
    args = parser.parse_args()
    if unknown := set(args.names) - set(ALL):
        parser.error(f"no benchmark {', '.join(sorted(unknown))}; choose among {', '.join(ALL)}")
    for name in args.names or BENCH:
        started = time.perf_counter()
        module = importlib.import_module(f"tests.benchmarks.{name}")
        module.main(["--smoke"] if args.smoke else [])
        print(f"({name}: {time.perf_counter() - started:.1f} s)", flush=True)


if __name__ == "__main__":
    main()
