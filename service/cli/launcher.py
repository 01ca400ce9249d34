"""``lector up`` (what ``make run`` starts): Redis when none answers, the API, the workers
(LECTOR_WORKERS on the OCR queue, LECTOR_MEDIA_WORKERS on the media queue).

It keeps the children in their own session, so Ctrl-C reaches only this supervisor, which
then stops the workers, the API and the Redis it started, in that order. The Redis it started
(its data stays in ./var/redis), the API or a worker that dies is started again with
exponential backoff; after repeated fast crashes it gives up and exits non-zero
(``service.cli.supervision``). A port already taken is refused before anything starts. Running it
again is safe: the API and admin keys, the signing secret and Redis's data under ``./var`` are
reused.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlsplit

from redis import Redis
from redis.exceptions import RedisError

from service.cli.supervision import Child
from service.metrics import mark_dead
from service.redis_access import location, probe
from service.settings import Settings

VAR = Path("var")
KEY_FILE = VAR / "api-key"
ADMIN_KEY_FILE = VAR / "admin-key"
SECRET_FILE = VAR / "secret"
SAMPLE = Path("fixtures") / "sample.png"
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def say(message: str) -> None:
    """A line for the person at the terminal."""
    print(f"lector: {message}", flush=True)


def api_key(settings: Settings) -> str | None:
    """The key to print: the configured one, else the one kept in ./var/api-key (made once)."""
    if not settings.auth_enabled:
        return None
    if settings.api_keys:
        return settings.api_keys[0]
    return kept_secret(KEY_FILE, "an API key")


def admin_key(settings: Settings) -> str | None:
    """The admin key: the configured one, else the one kept in ./var/admin-key (made once)."""
    if not settings.auth_enabled:
        return None
    return settings.admin_key or kept_secret(ADMIN_KEY_FILE, "an admin key")


def kept_secret(path: Path, what: str) -> str:
    """The secret in ``path``, made (readable by its owner only) when there is none."""
    if path.exists():
        return path.read_text().strip()
    VAR.mkdir(exist_ok=True)
    secret = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(secret + "\n")
    say(f"generated {what} in {path}")
    return secret


def redis_answers(url: str) -> bool:
    """True when a Redis answers PING at ``url`` within a second."""
    client = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
    finally:
        client.close()


def private_directory(path: Path) -> None:
    """Make ``path`` (and its parents), and leave it and all it holds to this user alone, also
    what an earlier run made with looser modes."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    for directory, subdirectories, files in os.walk(path):
        for name in subdirectories:
            (Path(directory) / name).chmod(0o700)
        for name in files:
            (Path(directory) / name).chmod(0o600)


def start_redis(url: str) -> Child | None:
    """Start a local redis-server for ``url`` with its data in ./var/redis (append-only), and
    the URL's password as its own, and wait until it answers; None (and the reason said) when
    it cannot."""
    parts = urlsplit(url)
    if parts.hostname not in _LOCAL_HOSTS:
        say(
            f"no Redis answers at {parts.hostname}:{parts.port or 6379}, and it is not local; start it first."
        )
        return None
    if parts.scheme == "rediss" or parts.username not in (None, "", "default"):
        say(
            f"no Redis answers at {location(url)}; start it first (lector up starts a Redis without TLS, "
            "with at most a password: redis://:PASSWORD@host:port/db)."
        )
        return None
    binary = shutil.which("redis-server")
    if binary is None:
        say("no Redis answers and redis-server is not installed (apt-get install redis-server).")
        return None
    data_dir = VAR / "redis"
    private_directory(data_dir)
    command = [
        binary,
        *_password_config(data_dir, unquote(parts.password or "")),
        "--bind",
        "127.0.0.1",
        "--port",
        str(parts.port or 6379),
        "--dir",
        str(data_dir.resolve()),
        "--appendonly",
        "yes",
        "--save",
        "",
        "--logfile",
        "redis.log",
    ]
    say(f"no Redis answered; starting redis-server on port {parts.port or 6379} (data in {data_dir})")
    # Its files hold documents and results: readable by this user only, as the directory.
    redis = Child("Redis", command, dict(os.environ), say=say, umask=0o077, stdout=subprocess.DEVNULL)
    redis.start()
    assert redis.process is not None
    for _ in range(100):
        if redis_answers(url):
            return redis
        if redis.process.poll() is not None:
            break
        time.sleep(0.1)
    say(f"redis-server did not start; see {data_dir / 'redis.log'}.")
    stop([redis.process])
    return None


def _password_config(data_dir: Path, password: str) -> list[str]:
    """The config file that gives redis-server ``password`` (none without one): a file its
    owner alone reads, since a command line is visible to every user of the machine."""
    config = data_dir / "password.conf"
    if not password:
        config.unlink(missing_ok=True)
        return []
    config.touch(mode=0o600)
    # A quoted string in Redis's config: backslash escapes, as in C.
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    config.write_text(f'requirepass "{escaped}"\n')
    return [str(config.resolve())]


def wait_for_api(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> bool:
    """True once ``url``/health answers; False if the API process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
                if answer.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop(processes: list[subprocess.Popen[bytes]], grace: float = 10) -> None:
    """SIGTERM each process, then SIGKILL whatever still runs after ``grace`` seconds."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_queues(settings: Settings) -> list[tuple[str, str]]:
    """The workers to start, each its name and its ``--queues``: LECTOR_WORKERS for documents,
    LECTOR_MEDIA_WORKERS for audio and video (none: the document workers take both)."""
    documents = "ocr" if settings.media_workers else "ocr,media"
    return [(f"worker {index + 1}", documents) for index in range(settings.workers)] + [
        (f"media worker {index + 1}", "media") for index in range(settings.media_workers)
    ]


def banner(url: str, key: str | None) -> str:
    """What to tell the person who ran ``make run``."""
    auth = f' -H "Authorization: Bearer {key}"' if key else ""
    lines = [
        f"Lector is running at {url}  (API docs: {url}/schema)",
        f"API key: {key}" if key else "Authentication is off (LECTOR_AUTH=off).",
        *([f"Admin key (the /admin routes) in {ADMIN_KEY_FILE}; or `lector keys --help`."] if key else []),
        "Try it:",
        f"  curl -s{auth} -F file=@{SAMPLE} {url}/api/ocr/extract-text-from-file",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


def port_taken(host: str, port: int) -> bool:
    """True when something already accepts connections on ``host:port``."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def launch(settings: Settings) -> int:
    """Start everything, supervise it, and stop it all on Ctrl-C; returns the exit status."""
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    if port_taken(host, settings.port):
        say(
            f"port {settings.port} is already in use (another Lector, or another program): stop it, "
            "or choose another port with LECTOR_PORT."
        )
        return 1
    key = api_key(settings)
    env = dict(os.environ)
    if key and not settings.api_keys:
        env["LECTOR_API_KEYS"] = key
    admin = admin_key(settings)
    if admin and not settings.admin_key:
        env["LECTOR_ADMIN_KEY"] = admin
    if not settings.secret:  # signs the download URLs of converted files
        env["LECTOR_SECRET"] = kept_secret(SECRET_FILE, "a signing secret")
    # Every child writes its metrics here; the files of a previous run would be counted again.
    metrics_dir = settings.metrics_dir or str(VAR / "metrics")
    shutil.rmtree(metrics_dir, ignore_errors=True)
    os.makedirs(metrics_dir)
    env["LECTOR_METRICS_DIR"] = metrics_dir
    lector = [sys.executable, "-m", "service.cli"]

    started: list[Child] = []  # the Redis this started, if it did
    # SettingsError (said by the command) for a Redis that refuses the URL's password.
    if not probe(settings.redis_url):
        redis = start_redis(settings.redis_url)
        if redis is None:
            return 1
        started.append(redis)
    redis_processes = [child.process for child in started if child.process is not None]

    interrupted = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    url = f"http://{host}:{settings.port}"
    # Running requests and jobs get the shutdown timeout, and a little more to exit.
    grace = settings.shutdown_timeout_s + 5

    def mark(pid: int) -> None:
        mark_dead(pid, metrics_dir)

    api = Child("the API", [*lector, "serve"], env, say=say, on_exit=mark)
    api.start()
    assert api.process is not None
    if not wait_for_api(url, api.process):
        say(f"the API did not start (status {api.process.poll()}; see its messages above); stopping.")
        stop([api.process, *redis_processes], grace)
        return 1
    workers = [
        Child(name, [*lector, "worker", "--queues", queues], env, say=say, on_exit=mark)
        for name, queues in worker_queues(settings)
    ]
    for worker in workers:
        worker.start()
    print("\n" + banner(url, key) + "\n", flush=True)

    status = 0
    children = [*started, api, *workers]
    while not interrupted:
        time.sleep(0.2)
        for child in children:
            if not interrupted:
                child.check()
        if any(child.gave_up for child in children):
            status = 1
            break
    say("stopping")
    stop([child.process for child in reversed([api, *workers]) if child.process is not None], grace)
    stop([child.process for child in started if child.process is not None])  # the last one restarted
    return status
