"""Redis as an operator runs it: behind a password, over TLS, backed up and restored."""

from __future__ import annotations

import base64
import gzip
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, ConnectionError

from service.cli import launcher
from service.jobs.webhooks import CONFIG_PREFIX
from tests.helpers import (
    API_KEY,
    ROOT,
    clean_env,
    free_port,
    start_redis,
    start_server,
    start_worker,
    stop_process,
    wait_for_end,
)

#: A password with what a URL must escape, and what Redis's config must quote.
PASSWORD = 's3cret pass/with:odd@chars "and" \\ more'
SAMPLE = {"name": "Purchase order", "codeType": "purchase_order", "description": "An order."}
PURCHASE_ORDER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["po_number"],
    "properties": {"po_number": {"type": ["string", "null"]}},
}


def lector(redis_url: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    """``lector ARGS`` on ``redis_url``, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env=clean_env(LECTOR_REDIS_URL=redis_url, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def redis_at(url: str) -> Redis:
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def with_password(url: str, password: str | None) -> str:
    """``url`` with another password (None: without one)."""
    parts = urlsplit(url)
    credentials = f":{password}@" if password is not None else ""
    return parts._replace(netloc=f"{credentials}{parts.hostname}:{parts.port}").geturl()


def events(text: str) -> list[dict]:
    """The JSON lines of a log (uvicorn and RQ may print others)."""
    found = []
    for line in text.splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:
            continue
    return found


def run_a_queued_job(tmp_path: Path, redis_url: str, docs: dict[str, Path]) -> list[dict]:
    """A real API and a real worker on ``redis_url`` run a queued OCR job to its end;
    returns the events both logged."""
    server = start_server(tmp_path, LECTOR_REDIS_URL=redis_url)
    worker = start_worker(tmp_path, redis_url)
    try:
        with httpx.Client(base_url=server.url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
            ready = client.get("/ready")
            assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "ok", ready.text
            body = {
                "image_base64": base64.b64encode(docs["page.png"].read_bytes()).decode(),
                "document_type_code": "text",
            }
            submitted = client.post("/api/convert-async", json=body)
            assert submitted.status_code == 202, submitted.text
            status = wait_for_end(client, submitted.json()["conversion_id"])
            assert status["status"] == "SUCCESS", status
            assert status["result"]["text"].strip()
    finally:
        stop_process(worker)
        server.stop()
    logs = server.logs() + "".join(path.read_text() for path in tmp_path.glob("worker-*.log"))
    assert "s3cret" not in logs
    return events(logs)


def test_api_worker_and_cli_work_on_a_redis_with_a_password(tmp_path, docs):
    process, url = start_redis(tmp_path, password=PASSWORD)
    port = urlsplit(url).port
    try:
        # The Redis really wants it: without the password it refuses.
        with pytest.raises(AuthenticationError):
            redis_at(with_password(url, None)).ping()
        logged = run_a_queued_job(tmp_path, url, docs)
        said = [event["at"] for event in logged if event.get("event") == "redis"]
        assert said == [f"127.0.0.1:{port} db 0"] * 2  # the API and the worker
        made = lector(url, "keys", "create", "--name", "behind-a-password")
        assert made.returncode == 0, made.stderr
        assert made.stdout.startswith("lec_") and made.stdout.count("\n") == 1  # the key alone, as before
        assert made.stderr.splitlines()[0] == f"lector: Redis at 127.0.0.1:{port} db 0"
        assert "s3cret" not in made.stdout + made.stderr
    finally:
        stop_process(process)


def test_a_wrong_or_missing_password_stops_each_command_with_one_sentence(tmp_path):
    process, url = start_redis(tmp_path, password=PASSWORD)
    port = urlsplit(url).port
    wrong = with_password(url, "not-the-password")
    try:
        refused = f"lector: Redis at 127.0.0.1:{port} db 0 refused the user or password in LECTOR_REDIS_URL."
        for command, status in (
            (["serve"], 2),
            (["worker"], 2),
            (["keys", "list"], 1),
            (["backup", str(tmp_path / "b.jsonl")], 1),
        ):
            result = lector(wrong, *command, LECTOR_API_KEYS=API_KEY)
            assert result.returncode == status, (command, result.stderr)
            assert result.stderr.splitlines()[-1] == refused, (command, result.stderr)
            assert "Traceback" not in result.stderr and "not-the-password" not in result.stderr
        assert not (tmp_path / "b.jsonl").exists()
        missing = lector(with_password(url, None), "worker")
        assert missing.returncode == 2
        assert missing.stderr.splitlines()[-1] == (
            f"lector: Redis at 127.0.0.1:{port} db 0 needs a password: give it in LECTOR_REDIS_URL "
            "(redis://:PASSWORD@host:port/db, or rediss:// for TLS)."
        )
    finally:
        stop_process(process)


def test_tls_redis_works_for_the_cli_the_api_and_a_worker(tmp_path, docs):
    process, url = start_redis(tmp_path, password=PASSWORD, tls=True)
    port = urlsplit(url).port
    try:
        assert url.startswith("rediss://") and "ssl_ca_certs=" in url
        # The certificate is checked against the authority the URL names...
        made = lector(url, "keys", "create", "--name", "over-tls")
        assert made.returncode == 0, made.stderr
        assert made.stderr.splitlines()[0] == f"lector: Redis at 127.0.0.1:{port} db 0 (TLS)"
        # ...or, when the operator says so, not at all.
        unchecked = url.split("?")[0] + "?ssl_cert_reqs=none"
        listed = lector(unchecked, "keys", "list")
        assert listed.returncode == 0, listed.stderr
        assert [json.loads(line)["name"] for line in listed.stdout.splitlines()] == ["over-tls"]
        # Without the authority, this host does not trust the certificate, and says so.
        untrusted = url.split("?")[0]
        for command, status in ((["keys", "list"], 1), (["worker"], 2)):
            result = lector(untrusted, *command)
            assert result.returncode == status, result.stderr
            assert result.stderr.splitlines()[-1] == (
                f"lector: Redis at 127.0.0.1:{port} db 0 (TLS) presented a TLS certificate this host does "
                "not trust (self-signed certificate): name its authority in LECTOR_REDIS_URL with "
                "?ssl_ca_certs=/path/to/ca.pem."
            )
        # A plain connection to the TLS port gets nothing.
        with pytest.raises(ConnectionError):
            redis_at(url.replace("rediss://", "redis://").split("?")[0]).ping()
        logged = run_a_queued_job(tmp_path, url, docs)
        said = [event["at"] for event in logged if event.get("event") == "redis"]
        assert said == [f"127.0.0.1:{port} db 0 (TLS)"] * 2  # the API and the worker
    finally:
        stop_process(process)


def test_lector_up_gives_the_redis_it_starts_the_urls_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # lector up keeps its Redis's data in ./var/redis
    url = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{free_port()}/0"
    child = None
    try:
        child = launcher.start_redis(url)
        assert child is not None and child.process is not None
        assert redis_at(url).ping()
        with pytest.raises(AuthenticationError):
            redis_at(with_password(url, None)).ping()
        # Never on a command line, which every user of the machine can read.
        command_line = Path(f"/proc/{child.process.pid}/cmdline").read_bytes()
        assert b"s3cret" not in command_line
        config = tmp_path / "var" / "redis" / "password.conf"
        assert oct(config.stat().st_mode & 0o777) == "0o600"
    finally:
        if child is not None and child.process is not None:
            launcher.stop([child.process])


def _key(made: subprocess.CompletedProcess) -> tuple[str, str]:
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    return key, key.split("_")[1]


def test_backup_and_restore_keep_the_keys_their_quota_usage_secrets_and_types(tmp_path, docs):
    process, url = start_redis(tmp_path, password=PASSWORD)
    redis = redis_at(url)
    server = start_server(tmp_path, LECTOR_REDIS_URL=url)
    page = {"image": base64.b64encode(docs["page.png"].read_bytes()).decode()}
    try:
        key, key_id = _key(lector(url, "keys", "create", "--name", "acme", "--quota", "3"))
        other, _ = _key(lector(url, "keys", "create", "--name", "beta"))
        acme = httpx.Client(base_url=server.url, headers={"X-API-Key": key}, timeout=60)
        beta = httpx.Client(base_url=server.url, headers={"X-API-Key": other}, timeout=60)
        for _ in range(2):
            assert acme.post("/api/ocr/extract-text", json=page).status_code == 200
        secret = acme.post("/api/webhooks/secret").json()["secret"]
        made = acme.post("/api/document-types", json={**SAMPLE, "jsonSchema": PURCHASE_ORDER})
        assert made.status_code == 201, made.text
        before = acme.get("/api/account").json()
        assert (before["quota_remaining"], before["totals"]["requests"]) == (1, 2)
        expiries = {name: redis.pexpiretime(name) for name in redis.scan_iter("lector:usage:*")}
        assert any(when > 0 for when in expiries.values())  # the usage days expire; the totals do not

        backup = tmp_path / "tenants.jsonl.gz"
        written = lector(url, "backup", str(backup))
        assert written.returncode == 0, written.stderr
        assert written.stdout == ""
        lines = written.stderr.splitlines()
        assert lines[0] == f"lector: Redis at 127.0.0.1:{urlsplit(url).port} db 0"
        assert lines[1].startswith("lector: wrote ") and lines[1].endswith(f" keys to {backup}")
        assert oct(backup.stat().st_mode & 0o777) == "0o600"  # it holds webhook secrets
        assert "s3cret" not in written.stderr
        header = json.loads(gzip.decompress(backup.read_bytes()).splitlines()[0])
        assert header["line"] == "header" and "lector:keys" in header["patterns"]
        again = lector(url, "backup", str(backup))
        assert again.returncode == 2 and "already exists; give --overwrite" in again.stderr

        redis.flushall()
        assert acme.get("/api/account").status_code == 401  # wiped: the key is unknown

        restored = lector(url, "restore", str(backup))
        assert restored.returncode == 0, restored.stderr
        count = lines[1].split()[2]
        assert restored.stderr.splitlines()[-1].startswith(f"lector: restored {count} keys from {backup}")

        after = acme.get("/api/account").json()
        for name in ("key_id", "name", "quota", "quota_remaining", "created_at", "totals"):
            assert after[name] == before[name], name
        assert {name: redis.pexpiretime(name) for name in expiries} == pytest.approx(expiries, abs=5)
        assert redis.hget(CONFIG_PREFIX + key_id, "secret").decode() == secret
        assert acme.get("/api/document-types/purchase_order").json()["name"] == "Purchase order"
        assert beta.get("/api/account").json()["name"] == "beta"
        # The quota goes on from where it was: one document left, then the refusal.
        assert acme.post("/api/ocr/extract-text", json=page).status_code == 200
        refused = acme.post("/api/ocr/extract-text", json=page)
        assert refused.status_code == 429 and refused.json()["limitType"] == "quota"

        # Into a Redis that holds those keys, only with --replace.
        kept = lector(url, "restore", str(backup))
        assert kept.returncode == 1
        assert "Redis already holds" in kept.stderr and "give --replace to overwrite them." in kept.stderr
        assert acme.get("/api/account").json()["quota_remaining"] == 0  # nothing was written
        replaced = lector(url, "restore", str(backup), "--replace")
        assert replaced.returncode == 0, replaced.stderr
        assert acme.get("/api/account").json()["quota_remaining"] == 1
        acme.close()
        beta.close()
    finally:
        server.stop()
        redis.close()
        stop_process(process)


def test_restore_refuses_a_missing_foreign_damaged_or_cut_file_and_writes_nothing(tmp_path):
    process, url = start_redis(tmp_path)
    redis = redis_at(url)
    try:
        _key(lector(url, "keys", "create", "--name", "acme", "--quota", "3"))
        good = tmp_path / "good.jsonl"
        assert lector(url, "backup", str(good)).returncode == 0
        lines = good.read_bytes().splitlines(keepends=True)
        assert len(lines) >= 4  # a header, the index, the record, the quota, ..., the end
        redis.flushall()

        cases = {
            "missing.jsonl": (None, "cannot read {path}: No such file or directory."),
            "foreign.jsonl": (
                b'{"some": "thing"}\n',
                "{path} is not a Lector backup (lector-backup version 1).",
            ),
            "cut.jsonl": (
                b"".join(lines[:-1]),
                "{path} is incomplete: it stops after line {n}, before its last line.",
            ),
            "damaged.jsonl": (
                b"".join([*lines[:2], b'{"line": "key", "key": 1}\n', *lines[2:]]),
                "{path} is damaged at line 3: Expected `str`, got `int` - at `$.key`.",
            ),
            "recounted.jsonl": (
                b"".join([*lines[:2], *lines[3:]]),
                "{path} is damaged: its last line counts",
            ),
            "cut.jsonl.gz": (gzip.compress(good.read_bytes())[:-20], "{path} is damaged: "),
        }
        for name, (content, message) in cases.items():
            path = tmp_path / name
            if content is not None:
                path.write_bytes(content)
            result = lector(url, "restore", str(path))
            assert result.returncode == 2, (name, result.stderr)
            expected = message.format(path=path, n=len(lines) - 1)
            assert result.stderr.splitlines()[-1].startswith("lector: " + expected), (name, result.stderr)
            assert "Traceback" not in result.stderr
            assert redis.dbsize() == 0, name  # nothing half restored
        assert lector(url, "restore", str(good)).returncode == 0
        assert redis.dbsize() > 0
    finally:
        redis.close()
        stop_process(process)


def test_backup_says_when_it_cannot_write_its_file(tmp_path):
    process, url = start_redis(tmp_path)
    try:
        target = tmp_path / "nowhere" / "b.jsonl"
        result = lector(url, "backup", str(target))
        assert result.returncode == 2
        assert result.stderr.splitlines()[-1] == f"lector: cannot write {target}: No such file or directory."
        assert not target.parent.exists()
    finally:
        stop_process(process)
