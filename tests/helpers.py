"""What the tests share: ports, real servers on loopback, and how text is scored."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "test-key-0123456789"
OTHER_KEY = "other-key-9876543210"
#: The session server's LECTOR_SECRET (it signs download URLs).
SECRET = "test-secret-0123456789abcdef0123456789"
#: The session server's LECTOR_ADMIN_KEY (the /admin routes).
ADMIN_KEY = "admin-key-0123456789abcdef"

#: The members of a sync OCR answer's ``data``, which ``lector ocr --json`` prints too.
OCR_DATA_KEYS = {
    "success",
    "text",
    "processing_time",
    "confidence",
    "language",
    "raw_response",
    "fields",
    "field_confidence",
    "warnings",
    "document_type",
    "document_type_confidence",
}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: The document store every process a test starts shares, unless the test names another:
#: one directory per test process, never the checkout's ./var.
TEST_STORE = Path(tempfile.mkdtemp(prefix="lector-test-store-"))
atexit.register(shutil.rmtree, TEST_STORE, ignore_errors=True)


def clean_env(**overrides: str) -> dict[str, str]:
    """This process's environment without any LECTOR_* variable, plus the test store and
    ``overrides``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LECTOR_")}
    env["LECTOR_STORAGE_URL"] = f"file://{TEST_STORE}"
    env.update(overrides)
    return env


def stored_objects(space: str, store: Path = TEST_STORE) -> list[Path]:
    """The objects of one space (``documents``, ``files``...) in a directory store."""
    return sorted(path for path in (store / space).glob("*") if path.is_file())


def wait_until(check, timeout: float, what: str) -> None:
    """Poll ``check()`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def port_open(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def start_redis(
    directory: Path, *options: str, appendonly: bool = False, password: str | None = None, tls: bool = False
) -> tuple[subprocess.Popen, str]:
    """A real redis-server on a free port, keeping nothing on disk but its append-only file in
    ``directory``, when asked (``options``: more of its flags). With ``password`` it requires
    that password, and the URL gives it. With ``tls`` it speaks TLS only, with a certificate
    for 127.0.0.1 that openssl makes here, self-signed; the URL is ``rediss://`` and names
    that certificate as its authority (``?ssl_ca_certs=``)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: `make test` installs it"
    port = free_port()
    listen = ["--port", str(port)]
    scheme, query = "redis", ""
    if tls:
        certificate = self_signed_certificate(directory)
        listen = ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"]
        key = certificate.with_suffix(".key")
        listen += ["--tls-cert-file", str(certificate), "--tls-key-file", str(key)]
        scheme, query = "rediss", f"?ssl_ca_certs={quote(str(certificate))}"
    process = subprocess.Popen(
        [
            binary,
            *listen,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if appendonly else "no",
            "--dir",
            str(directory),
            *(["--requirepass", password] if password is not None else []),
            *options,
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_until(lambda: port_open(port), 10, "redis-server")
    credentials = f":{quote(password, safe='')}@" if password is not None else ""
    return process, f"{scheme}://{credentials}127.0.0.1:{port}/0{query}"


def self_signed_certificate(directory: Path) -> Path:
    """A certificate for 127.0.0.1, valid for a day, and its key beside it (``.key``): made by
    the openssl command, as an operator would."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed: `make test` installs it"
    certificate, key = directory / "redis-tls.pem", directory / "redis-tls.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate


@dataclass
class Server:
    """A ``lector serve`` process on loopback, its output kept in a file."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def logs(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text()

    def stop(self) -> None:
        """Stop the server and wait for it."""
        stop_process(self.process)


def start_server(log_dir: Path, *, root: Path = ROOT, **settings: str) -> Server:
    """Start ``lector serve`` with ``settings`` (LECTOR_* names) and wait for /health; ``root``
    is the tree whose ``service`` package runs (another commit's, for a benchmark)."""
    port = free_port()
    settings = {"LECTOR_API_KEYS": f"{API_KEY},{OTHER_KEY}", **settings}
    env = clean_env(LECTOR_PORT=str(port), LECTOR_LOG_FORMAT="json", **settings)
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "service.cli", "serve"],
            env=env,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)

    def healthy() -> bool:
        assert process.poll() is None, f"server exited early:\n{server.logs()}"
        try:
            return httpx.get(f"{server.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(healthy, 30, "lector serve")
    except BaseException:
        stop_process(process)  # a server that started too slowly must not outlive the test
        raise
    return server


def start_worker(log_dir: Path, redis_url: str, *, root: Path = ROOT, **settings: str) -> subprocess.Popen:
    """A real ``lector worker`` process on ``redis_url``, run from the tree ``root``."""
    env = clean_env(LECTOR_REDIS_URL=redis_url, LECTOR_LOG_FORMAT="json", **settings)
    log = (log_dir / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker"],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def normalize(text: str) -> str:
    """Whitespace folded to single spaces, so layout differences do not count as errors."""
    return " ".join(text.split())


def character_error_rate(expected: str, actual: str) -> float:
    """Levenshtein distance over the expected length, after folding whitespace."""
    a, b = normalize(expected), normalize(actual)
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1] / max(len(a), 1)


def page_text(lines: list[str]) -> str:
    """The expected text of a fixture page."""
    return "\n".join(lines)


@contextmanager
def serving_in_thread(handler: type[BaseHTTPRequestHandler], port: int = 0) -> Iterator[str]:
    """An HTTP server for ``handler`` on loopback in a thread; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def wait_for_end(client: httpx.Client, conversion_id: str, timeout: float = 90) -> dict:
    """Poll a conversion (with ?wait=5) until SUCCESS or ERROR; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 5}).json()
        if status["status"] in ("SUCCESS", "ERROR"):
            return status
    raise AssertionError(f"conversion {conversion_id} did not finish in {timeout} s: {status}")
