"""`lector up`, which `make run` starts: Redis when none answers, the API, the workers."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker

from tests.helpers import ROOT, clean_env, free_port, port_open, start_redis, wait_for_end, wait_until


def start(
    cwd, api_port: int, redis_port: int, workers: int = 2, *, media_workers: int = 1, env_file: bool = False
) -> tuple[subprocess.Popen, list[str]]:
    """Run `lector up` in ``cwd`` (given the banner's sample) and read up to the banner's last
    line; with ``env_file``, its settings come from ``--env-file`` instead of the environment."""
    (cwd / "fixtures").mkdir(exist_ok=True)
    shutil.copy(ROOT / "fixtures" / "sample.png", cwd / "fixtures" / "sample.png")
    settings = {
        "LECTOR_PORT": str(api_port),
        "LECTOR_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "LECTOR_WORKERS": str(workers),
        "LECTOR_MEDIA_WORKERS": str(media_workers),
        "LECTOR_LOG_FORMAT": "json",
    }
    flags = []
    if env_file:
        (cwd / "lector.env").write_text("".join(f'{name}="{value}"\n' for name, value in settings.items()))
        flags, settings = ["--env-file", "lector.env"], {}
    env = clean_env(PYTHONPATH=str(ROOT), **settings)
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "up", *flags],
        cwd=cwd,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"lector up ended early: {lines}"
        lines.append(line.rstrip("\n"))
        if "Press Ctrl-C to stop." in line:
            return process, lines
    raise AssertionError(f"no banner: {lines}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def interrupt(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    return process.wait(timeout=30)


def test_up_starts_redis_api_and_workers_and_ctrl_c_stops_them(tmp_path):
    api_port, redis_port = free_port(), free_port()
    process, lines = start(tmp_path, api_port, redis_port)
    try:
        banner = "\n".join(lines)
        assert f"Lector is running at http://127.0.0.1:{api_port}" in banner
        key = next(line.split(": ", 1)[1] for line in lines if line.startswith("API key: "))
        assert (tmp_path / "var" / "api-key").read_text().strip() == key
        assert (tmp_path / "var" / "redis").is_dir()

        # The printed curl line works as printed.
        curl = next(line.strip() for line in lines if line.strip().startswith("curl "))
        answer = subprocess.run(curl, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert '"success":true' in answer.stdout and "Hello from Lector" in answer.stdout

        # The generated admin key (readable by its owner only) opens the admin routes.
        admin_file = tmp_path / "var" / "admin-key"
        assert admin_file.stat().st_mode & 0o077 == 0
        admin = {"X-API-Key": admin_file.read_text().strip()}
        made = httpx.post(f"http://127.0.0.1:{api_port}/admin/keys", json={"name": "up"}, headers=admin)
        assert made.status_code == 201 and made.json()["key"].startswith("lec_")

        redis = Redis(port=redis_port)
        wait_until(lambda: len(Worker.all(connection=redis)) == 3, 30, "three registered workers")
        # Two for documents, one for audio and video (LECTOR_MEDIA_WORKERS's default).
        served = sorted(worker.queue_names() for worker in Worker.all(connection=redis))
        assert served == [["lector"], ["lector"], ["lector-media"]], served
        assert httpx.get(f"http://127.0.0.1:{api_port}/ready").json()["checks"]["redis"] == "ok"

        # A worker that dies is started again.
        def live_workers() -> set[int]:
            return {worker.pid for worker in Worker.all(connection=redis) if _alive(worker.pid)}

        victim = min(live_workers())
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: victim not in live_workers() and len(live_workers()) == 3, 60, "a replacement worker"
        )
    finally:
        status = interrupt(process)
    assert status == 0
    assert not port_open(api_port) and not port_open(redis_port)

    # A second run reuses the key and Redis's data directory.
    again, lines = start(tmp_path, api_port, redis_port)
    try:
        assert f"API key: {key}" in lines
    finally:
        assert interrupt(again) == 0


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is ``pid``, with their command lines."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                command = cmdline.read().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            found[int(entry)] = command
    return found


def test_a_killed_api_is_started_again(tmp_path):
    # Finding 7: the API dying used to stop everything. The settings come from an env file:
    # the API started again still has them.
    api_port, redis_port = free_port(), free_port()
    process, _ = start(tmp_path, api_port, redis_port, env_file=True)
    try:
        api_pid = next(
            pid for pid, command in _children(process.pid).items() if "service.cli serve" in command
        )
        os.kill(api_pid, signal.SIGKILL)
        wait_until(lambda: not port_open(api_port), 10, "the API to die")

        def answers() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{api_port}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answers, 60, "the API to be started again")
        assert process.poll() is None
        new_api = [pid for pid, command in _children(process.pid).items() if "service.cli serve" in command]
        assert new_api and api_pid not in new_api
    finally:
        assert interrupt(process) == 0


def test_a_taken_port_is_refused_before_anything_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "service.cli", "up"],
            cwd=tmp_path,
            env=clean_env(LECTOR_PORT=str(port), PYTHONPATH=str(ROOT)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"port {port} is already in use" in result.stdout
    assert "Lector is running" not in result.stdout
    assert not (tmp_path / "var" / "redis").exists()  # nothing was started


def _descendants(pid: int) -> list[int]:
    found, stack = [], [pid]
    while stack:
        children = list(_children(stack.pop()))
        found += children
        stack += children
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its new parent to reap it has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_stops_everything_up_started_and_soon(tmp_path):
    """SIGTERM (what a service manager sends) ends every process `lector up` started, well
    within the workers' shutdown timeout, even a worker whose RQ scheduler was forked after its
    work horse (the scheduler once held the horse's pipe open, so the horse never left)."""
    redis_process, redis_url = start_redis(tmp_path)
    redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    process: subprocess.Popen | None = None
    below: list[int] = []
    try:
        # Another scheduler holds the lock until the worker has its horse; RQ's maintenance then
        # forks the worker's scheduler.
        redis = Redis(port=redis_port)
        redis.set("rq:scheduler-lock:lector", "elsewhere")
        process, lines = start(tmp_path, free_port(), redis_port, workers=1)
        url = next(line.split(" at ", 1)[1].split()[0] for line in lines if "Lector is running at" in line)
        key = next(line.split(": ", 1)[1] for line in lines if line.startswith("API key: "))
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=60) as client:
            with open(tmp_path / "fixtures" / "sample.png", "rb") as sample:
                answer = client.post(
                    "/api/convert-async", files={"image": sample}, data={"document_type_code": "text"}
                )
            assert wait_for_end(client, answer.json()["conversion_id"])["status"] == "SUCCESS"
        redis.delete("rq:scheduler-lock:lector")
        worker = next(
            pid
            for pid, command in _children(process.pid).items()
            if "service.cli worker --queues ocr" in command
        )
        wait_until(lambda: len(_children(worker)) == 2, 40, "the worker's horse and scheduler")
        below = _descendants(process.pid)
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        assert time.monotonic() - began < 10
        wait_until(lambda: not any(_running(pid) for pid in below), 5, "every process up started to end")
    finally:
        if process is not None and process.poll() is None:
            interrupt(process)
        for pid in below:  # what a failing run left behind
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        redis_process.terminate()


def test_the_redis_up_starts_keeps_its_files_to_this_user(tmp_path):
    """Redis's files hold documents and results: no other local user may read them, also where
    an earlier run left the directory open."""
    data = tmp_path / "var" / "redis"
    data.mkdir(parents=True)
    data.chmod(0o755)
    redis_port = free_port()
    process, _ = start(tmp_path, free_port(), redis_port, workers=1)
    try:
        redis = Redis(port=redis_port)
        for index in range(100):
            redis.set(f"probe:{index}", "x" * 1000)
        redis.bgsave()  # an RDB file beside the append-only ones
        wait_until(lambda: (data / "dump.rdb").exists(), 10, "the RDB file")
        redis.bgrewriteaof()
        wait_until(lambda: not redis.info("persistence")["aof_rewrite_in_progress"], 10, "the AOF rewrite")
        written = [data, *data.rglob("*")]
        assert {path.name for path in written} >= {"redis", "appendonlydir", "dump.rdb", "redis.log"}
        modes = {path.name: oct(path.stat().st_mode & 0o777) for path in written}
        assert all(int(mode, 8) & 0o077 == 0 for mode in modes.values()), modes
        assert modes["redis"] == modes["appendonlydir"] == "0o700"
    finally:
        assert interrupt(process) == 0


def test_a_killed_redis_is_reaped_and_started_again(tmp_path):
    redis_port = free_port()
    process, _ = start(tmp_path, free_port(), redis_port, workers=1)
    try:

        def servers() -> list[int]:
            return [pid for pid, command in _children(process.pid).items() if "redis-server" in command]

        [killed] = servers()
        redis = Redis(port=redis_port, socket_timeout=1)
        redis.set("kept", "yes")
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: not os.path.exists(f"/proc/{killed}"), 5, "the killed Redis to be reaped")

        def answers() -> bool:
            try:
                return bool(redis.ping())
            except (OSError, RedisError):
                return False

        wait_until(answers, 10, "a new Redis")
        assert servers() and killed not in servers()
        assert redis.get("kept") == b"yes"  # the same data directory
        assert process.poll() is None
    finally:
        assert interrupt(process) == 0
