"""``make bench``: Redis's memory per finished receipt job, with documents in Redis (the
commit before the store) and with documents in the store (this checkout), in one run.

Each side has its own fresh redis-server, API and two workers (in the smoke form, one worker
before, and the process's shared set after):

- *before* is commit ``BEFORE``'s tree, the last that kept every document in Redis
  (``lector:blob:*``) for the whole retention. It is written out of this checkout's git with
  ``git archive`` (no worktree: nothing in the repository changes) and run with this
  checkout's Python environment; its side must leave ``lector:blob:*`` keys, or it did not
  run that code;
- *after* is this checkout, its documents in a directory store; its side must leave none.

Both sides submit the same receipts (``--jobs``, 300 by default, of sroie-dev, read in place and
cycled; the generated receipt in the smoke form), one ``POST /api/convert-async`` with
``document_type_code=receipt`` each, four at a time, as a client sends receipts as they come;
then wait until every job has ended and RQ is done with it (the queue empty, every worker
idle). A thousand per side would take about 12 minutes on two cores; the per-1,000 row says
when it is scaled from fewer.

The baseline is Redis's ``used_memory`` once the API and the workers are up, connected and have
run a few warm-up jobs: what they hold with no job (their registrations, their connections'
buffers, the client's usage and index keys, the scripts) is not a job's cost, and is printed on
its own row. Once the jobs ended, RQ still holds its own record of each (``rq:job:<id>``,
``rq:results:<id>``), which it lets expire 10 minutes after the job (``result_ttl``): at any
time Redis holds that for the last 10 minutes' jobs only, whatever the retention. So the
benchmark deletes those two keys of each measured job (what their expiry does; waiting for it
would double the run) and reads ``used_memory`` again:

1. per job, for ``LECTOR_RESULT_TTL_HOURS``: the growth over the baseline then, divided by the
   jobs (the goal's figure, and × 1,000 for 1,000 jobs);
2. per job, for its first 10 minutes: what the deletion freed, divided by the jobs whose
   records were still there (on a run longer than 10 minutes the first ones expired already).

The key families row (``MEMORY USAGE`` summed over every key then, less the same at rest, per
job) shows where the kept bytes are.
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import tarfile
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from redis import Redis

from tests.benchmarks.services import WORKERS, Services, services
from tests.benchmarks.small_docs import DATA, generated_receipts, receipts
from tests.benchmarks.tables import Row, add_smoke_flag, publish, table, title
from tests.helpers import API_KEY, ROOT, start_redis, start_server, start_worker

#: The last commit that kept documents in Redis.
BEFORE = "7812607"
#: The full run's jobs per side, and the smoke form's.
JOBS, SMOKE_JOBS = 300, 1
#: Submissions at once, and the warm-up's jobs (none in the smoke form).
SUBMITTERS = 4
#: The goal, in bytes per finished job.
GOAL_PER_JOB = 8000
#: Seconds a job may take, on average, before the wait gives up (two workers share them).
SECONDS_PER_JOB = 10
COLUMNS = ("measure", f"before ({BEFORE})", "after (this checkout)", "ratio", "goal")


@dataclass
class Side:
    """What one side measured: Redis's ``used_memory`` empty, idle, once the jobs ended and
    once RQ's records of them are gone; RQ's records deleted then; ``MEMORY USAGE`` per key
    family then, less the same at rest."""

    jobs: int
    empty: int | None
    idle: int
    finished: int
    kept: int
    rq_records: int
    families: Counter[str]
    seconds: float

    @property
    def kept_per_job(self) -> float:
        """Bytes of ``used_memory`` a finished job keeps for the retention, over the idle services."""
        return (self.kept - self.idle) / self.jobs

    @property
    def rq_per_job(self) -> float:
        """Bytes of ``used_memory`` RQ's own record of a job holds, for 10 minutes after it:
        what deleting them freed, per job that still had them."""
        return (self.finished - self.kept) / self.rq_records if self.rq_records else 0.0


def used_memory(redis: Redis) -> int:
    """Redis's ``used_memory``: the bytes its allocator holds for data and its own structures."""
    return int(redis.info("memory")["used_memory"])


def family(key: bytes) -> str:
    """A key's family: its name with every identifier (hex, digits, a UUID) as ``*``."""
    return re.sub(rb"[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{16,}|\d+", b"*", key).decode(errors="replace")


def families(redis_url: str) -> Counter[str]:
    """``MEMORY USAGE`` summed over every key, by family."""
    sizes: Counter[str] = Counter()
    with Redis.from_url(redis_url) as redis:
        for key in redis.scan_iter(count=1000):
            sizes[family(key)] += int(redis.memory_usage(key, samples=0) or 0)
    return sizes


def wait_idle(redis: Redis, workers: int, timeout: float) -> None:
    """Wait until ``workers`` RQ workers are registered, no job waits or runs, and RQ is done
    with the ended ones (each worker idle again)."""

    def idle() -> bool:
        names = redis.smembers("rq:workers")
        if len(names) < workers:
            return False
        states = [redis.hget(name, "state") for name in names]
        waiting, running = redis.llen("rq:queue:lector"), redis.zcard("rq:wip:lector")
        return waiting == 0 and running == 0 and set(states) <= {b"idle"}

    deadline = time.monotonic() + timeout
    while not idle():
        if time.monotonic() > deadline:
            raise SystemExit(f"Redis's queue did not settle in {timeout:.0f} s")
        time.sleep(0.2)


def submit_and_wait(url: str, paths: list[Path], timeout: float) -> list[str]:
    """One ``POST /api/convert-async`` per path, ``SUBMITTERS`` at a time, then each job's
    status until it ended; every one must succeed. Answers the conversions' ids."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:

        def submit(path: Path) -> dict[str, str]:
            answer = client.post(
                "/api/convert-async",
                files={"image": (path.name, path.read_bytes(), "image/jpeg")},
                data={"document_type_code": "receipt"},
            )
            assert answer.status_code == 202, answer.text
            submitted: dict[str, str] = answer.json()
            return submitted

        with ThreadPoolExecutor(SUBMITTERS) as pool:
            submitted = list(pool.map(submit, paths))
        deadline = time.monotonic() + timeout
        for one in submitted:  # in order of submission, as the queue runs them
            while True:
                status = client.get(one["status_url"], params={"wait": 10}).json()
                if status["status"] not in ("ENQUEUED", "PROCESSING"):
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the jobs did not end in {timeout:.0f} s")
            assert status["status"] == "SUCCESS", status
    return [one["conversion_id"] for one in submitted]


def measure(running: Services, paths: list[Path], warm_up: int, empty: int | None = None) -> Side:
    """Warm ``running`` up with the first ``warm_up`` receipts, then submit every receipt to
    it and measure its Redis."""
    workers = len(running.workers)
    timeout = 60 + SECONDS_PER_JOB * len(paths) / workers
    with Redis.from_url(running.redis_url) as redis:
        wait_idle(redis, workers, timeout=120)
        submit_and_wait(running.server.url, paths[:warm_up], timeout)
        wait_idle(redis, workers, timeout=60)
        # Scans and deletions run on connections of their own, closed before each reading:
        # their buffers would count in used_memory.
        at_rest = families(running.redis_url)
        idle = used_memory(redis)
        started = time.perf_counter()
        ids = submit_and_wait(running.server.url, paths, timeout)
        wait_idle(redis, workers, timeout=60)
        seconds = time.perf_counter() - started
        finished = used_memory(redis)
        deleted = 0
        with Redis.from_url(running.redis_url) as other:
            for index in range(0, len(ids), 500):
                chunk = ids[index : index + 500]
                deleted += other.delete(*(f"rq:{kind}:{id_}" for id_ in chunk for kind in ("job", "results")))
        kept = used_memory(redis)
        found = families(running.redis_url)
        found.subtract(at_rest)
        # Each job has two records (rq:job, rq:results); those of a run longer than 10
        # minutes' first jobs expired on their own already.
        return Side(len(paths), empty, idle, finished, kept, deleted // 2, found, seconds)


@contextmanager
def tree_at(commit: str) -> Iterator[Path]:
    """This checkout's tree at ``commit``, written into a temporary folder by ``git archive``
    (no worktree, nothing in the repository changes); removed after."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise SystemExit(
            f"cannot run the before side: git archive {commit} failed here "
            f"({archive.stderr.decode(errors='replace').strip()})"
        )
    # Not ``lector-<digits>-``: a starting Lector removes such folders as a dead process's.
    with tempfile.TemporaryDirectory(prefix=f"bench-tree-{commit}-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)


@contextmanager
def fresh(root: Path, workers: int, settings: dict[str, str]) -> Iterator[tuple[Services, int]]:
    """A new redis-server, then the API and ``workers`` workers of the tree ``root`` on it;
    with the ``used_memory`` of the Redis before anything connected."""
    work = Path(tempfile.mkdtemp(prefix="lector-bench-"))
    redis, redis_url = start_redis(work)
    with Redis.from_url(redis_url) as client:
        empty = used_memory(client)
    try:
        server = start_server(work, root=root, LECTOR_REDIS_URL=redis_url, **settings)
    except BaseException:
        redis.terminate()
        raise
    started = [start_worker(work, redis_url, root=root, **settings) for _ in range(workers)]
    running = Services(work, redis, redis_url, server, started)
    try:
        yield running, empty
    finally:
        running.stop()


def kb(size: float) -> str:
    """Bytes in kB (or MB when large; powers of 1,000, as the goal is written), for a table."""
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.2f} kB"


def largest(families: Counter[str], jobs: int, count: int = 4) -> str:
    """The ``count`` largest key families, per job."""
    return ", ".join(f"`{name}` {kb(size / jobs)}" for name, size in families.most_common(count))


def rows(old: Side, new: Side) -> list[Row]:
    """The table: per job, per 1,000 jobs, RQ's 10-minute share, the total, Redis at rest,
    where the bytes are, and how long the jobs took."""
    jobs = new.jobs
    counted = f"{jobs} job" if jobs == 1 else f"{jobs} jobs"
    scaled = "" if jobs == 1000 else f" (scaled from {jobs})"

    def ratio(measure: Callable[[Side], float]) -> str:
        return f"{measure(new) / measure(old):.3f}"

    def both(shown: Callable[[Side], str]) -> tuple[str, str]:
        return shown(old), shown(new)

    def info(measure: str, shown: Callable[[Side], str]) -> Row:
        return (measure, *both(shown), "—", "—")

    return [
        (
            "Redis `used_memory` per finished receipt job, kept for `LECTOR_RESULT_TTL_HOURS`",
            *both(lambda side: kb(side.kept_per_job)),
            ratio(lambda side: side.kept_per_job),
            f"< {kb(GOAL_PER_JOB)}",
        ),
        (
            f"per 1,000 finished receipt jobs{scaled}",
            *both(lambda side: kb(side.kept_per_job * 1000)),
            ratio(lambda side: side.kept_per_job),
            f"< {kb(GOAL_PER_JOB * 1000)}",
        ),
        (
            "plus, for 10 minutes after each job, RQ's own record of it (`rq:job`, `rq:results`)",
            *both(lambda side: kb(side.rq_per_job)),
            ratio(lambda side: side.rq_per_job),
            "—",
        ),
        info(f"growth kept over the {counted}", lambda side: kb(side.kept - side.idle)),
        info(
            f"Redis at rest: empty / API and {WORKERS} workers up, warmed up, idle",
            lambda side: f"{'—' if side.empty is None else kb(side.empty)} / {kb(side.idle)}",
        ),
        info("largest key families kept, per job", lambda side: largest(side.families, jobs)),
        info(f"{counted}: first submission to last end", lambda side: f"{side.seconds:.0f} s"),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="a folder with img/*.jpg receipts")
    parser.add_argument("--jobs", type=int, default=JOBS, help="receipt jobs per side")
    add_smoke_flag(parser)
    args = parser.parse_args(argv)
    smoke = args.smoke
    if smoke:
        paths = generated_receipts(Path(tempfile.mkdtemp(prefix="lector-bench-")) / "img", SMOKE_JOBS)
    else:
        paths = receipts(args.data, args.jobs)
    # The smoke form's before side, the one set of services it starts, is kept small.
    warm_up, before_workers = (0, 1) if smoke else (SUBMITTERS, WORKERS)
    settings = {"LECTOR_LOG_LEVEL": "warning"}

    with tree_at(BEFORE) as tree, fresh(tree, before_workers, settings) as (running, empty):
        old = measure(running, paths, warm_up, empty)
    if smoke:  # the process's shared set: Redis is not empty, and only the growth counts
        with services(smoke=True, workers=WORKERS) as running:
            new = measure(running, paths, warm_up)
    else:
        with fresh(ROOT, WORKERS, settings) as (running, empty):
            new = measure(running, paths, warm_up, empty)
    assert old.families["lector:blob:*"] > 0, f"the before side kept no document in Redis: {old.families}"
    assert not any(name.startswith("lector:blob") for name in new.families), new.families

    workers = f"{WORKERS} workers" if before_workers == WORKERS else f"{before_workers} / {WORKERS} workers"
    heading = title(
        "Lector Redis-size benchmark",
        f"receipt jobs per side: {len(paths)}, one POST /api/convert-async each, {workers}",
    )
    publish("redis_size", [table(heading, COLUMNS, rows(old, new))], smoke=smoke)


if __name__ == "__main__":
    main()
