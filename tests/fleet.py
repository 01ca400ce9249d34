"""Lector across machines, as an operator deploys it, on the private network of ``tests.hosts``.

- The "api" host runs Redis with a password, a real S3 server (SeaweedFS) and the API, from the
  checkout, each listening on the host's address.
- Every worker host runs only ``lector worker``, installed from the wheel into a virtual
  environment of its own, with its own env file, an empty working directory and its own TMPDIR:
  no checkout on its path, nothing shared with another host but the network.

A worker host's environment is made by ``tests.installs.install`` from a wheel built once.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from redis import Redis
from rq import Queue, Worker

from service.jobs.routing import QUEUE_NAME
from tests.helpers import Server, start_redis, start_s3, start_server, stop_process, stop_s3, wait_until
from tests.hosts import Host, network
from tests.installs import install

API = "api"
ADMIN_KEY = "fleet-admin-key-0123456789abcdef"
#: What a worker host has on its PATH besides its environment: the system's programs (Tesseract).
SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin"


def write_env_file(path: Path, settings: dict[str, str]) -> Path:
    """``settings`` as an env file of ``NAME=value`` lines (values need no quoting here)."""
    assert all(value.isprintable() and " " not in value for value in settings.values())
    path.write_text("".join(f"{name}={value}\n" for name, value in settings.items()))
    path.chmod(0o600)
    return path


@dataclass
class HostWorker:
    """A ``lector worker`` running on a worker host, its output in a file."""

    host: Host
    process: subprocess.Popen[bytes]
    log_path: Path

    def logs(self) -> str:
        """Everything the worker printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, and wait (SIGKILL after 10 s)."""
        if self.process.poll() is None:
            stop_process(self.process)


def start_host_worker(
    host: Host, bin_dir: Path, home: Path, settings: dict[str, str], cpu: int | None = None
) -> HostWorker:
    """``lector worker`` from ``bin_dir`` on ``host``, with ``settings`` in its env file and its
    home, working directory and TMPDIR under ``home``; pinned to core ``cpu`` when given."""
    for folder in ("cwd", "tmp"):
        (home / folder).mkdir(parents=True, exist_ok=True)
    env_file = write_env_file(home / "lector.env", settings)
    # Nothing of this process's environment: the settings come from the file alone.
    env = {
        "PATH": f"{bin_dir}:{SYSTEM_PATH}",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "LANG": "C.UTF-8",
    }
    pin = ["taskset", "--cpu-list", str(cpu)] if cpu is not None else []
    log_path = home / "worker.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*pin, *host.command(str(bin_dir / "lector"), "worker", "--env-file", str(env_file))],
            env=env,
            cwd=home / "cwd",
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return HostWorker(host, process, log_path)


@dataclass
class Fleet:
    """The api host's Redis, store and API, and the worker hosts with their environments."""

    hosts: dict[str, Host]
    work: Path
    #: What every worker host's env file says: Redis, the store, the secret, the log format.
    shared: dict[str, str]
    bins: dict[str, Path]
    #: The core each worker host's worker is pinned to (none: any).
    cpus: dict[str, int]
    redis: Redis
    server: Server | None = None
    workers: dict[str, HostWorker] = field(default_factory=dict)

    @property
    def api(self) -> Host:
        return self.hosts[API]

    @property
    def url(self) -> str:
        """The API's base URL."""
        assert self.server is not None
        return self.server.url

    def start_worker(self, name: str) -> HostWorker:
        """Start ``lector worker`` on worker host ``name`` (see start_host_worker)."""
        assert name not in self.workers, f"{name} runs a worker already"
        home = self.work / name
        worker = start_host_worker(self.hosts[name], self.bins[name], home, self.shared, self.cpus.get(name))
        self.workers[name] = worker
        return worker

    def stop_worker(self, name: str) -> None:
        """Stop the worker of host ``name`` and forget it."""
        self.workers.pop(name).stop()

    def rq_workers(self) -> dict[str, str]:
        """The RQ workers registered on the queue, by name: the host each connects from, by
        the address Redis sees it at."""
        by_address = {host.address: name for name, host in self.hosts.items()}
        found = {}
        for worker in Worker.all(queue=Queue(QUEUE_NAME, connection=self.redis)):
            address = (worker.ip_address or "").rsplit(":", 1)[0]
            found[worker.name] = by_address.get(address, address)
        return found

    def wait_for_workers(self, *names: str, timeout: float = 90) -> dict[str, str]:
        """Wait until the workers of hosts ``names`` have registered (they are ready for jobs);
        returns rq_workers()."""

        def registered() -> bool:
            for name in names:
                worker = self.workers[name]
                assert worker.process.poll() is None, f"the worker on {name} exited:\n{worker.logs()[-3000:]}"
            return set(names) <= set(self.rq_workers().values())

        wait_until(registered, timeout, f"the workers on {', '.join(names)}")
        return self.rq_workers()


@contextmanager
def fleet(
    work: Path,
    wheel: Path,
    worker_hosts: Sequence[str],
    *,
    start: Sequence[str] = (),
    cpus: Mapping[str, int] | None = None,
    **settings: str,
) -> Iterator[Fleet]:
    """An api host, with the API given ``settings`` too, and ``worker_hosts``, whose workers
    are pinned to ``cpus`` (by host). The workers of ``start`` are started once the API is up;
    wait for them with ``Fleet.wait_for_workers``.

    Inside the block this thread is on the api host: it reaches the API, Redis and the store at
    their addresses. Everything stops, and the network goes, on the way out."""
    bins = {name: install(wheel, work / name / "venv") for name in worker_hosts}
    password, secret = secrets.token_urlsafe(24), secrets.token_urlsafe(32)
    with ExitStack() as stack:
        hosts = stack.enter_context(network(API, *worker_hosts))
        api = hosts[API]
        stack.enter_context(api.entered())
        (work / API).mkdir(parents=True, exist_ok=True)
        redis_process, redis_url = start_redis(
            work / API, password=password, bind=api.address, prefix=api.prefix
        )
        stack.callback(stop_process, redis_process)
        # Not under api/: weed makes unix sockets in this folder, whose paths may not exceed 107 bytes.
        store_process, store_env = start_s3(work / "s3", bind=api.address, prefix=api.prefix)
        stack.callback(stop_s3, store_process)
        shared = {"LECTOR_REDIS_URL": redis_url, "LECTOR_SECRET": secret, **store_env}
        redis = Redis.from_url(redis_url)
        stack.callback(redis.close)
        running = Fleet(hosts, work, {**shared, "LECTOR_LOG_FORMAT": "json"}, bins, dict(cpus or {}), redis)
        running.server = start_server(
            work / API, host=api.address, prefix=api.prefix, LECTOR_ADMIN_KEY=ADMIN_KEY, **shared, **settings
        )
        stack.callback(running.server.stop)
        stack.callback(lambda: [worker.stop() for worker in running.workers.values()])
        for name in start:
            running.start_worker(name)
        yield running
