"""What obstore does against a real S3 server (SeaweedFS, with authentication on) and against a
directory: the calls, results and errors the storage module is built on."""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import httpx
import obstore
import pytest
from obstore.exceptions import AlreadyExistsError, GenericError, PermissionDeniedError
from obstore.store import LocalStore, S3Store, from_url

from tests.helpers import s3_sockets, start_s3, stop_s3

MB = 1024 * 1024


def s3_store(env: dict[str, str], secret: str | None = None) -> S3Store:
    """A store under a prefix of its own in the bucket of ``env``, configured from those variables
    alone (as Lector's settings will pass them), never from this process's environment."""
    url = urlsplit(env["LECTOR_STORAGE_URL"])
    return S3Store(
        url.netloc,
        prefix=f"{url.path.strip('/')}/{uuid.uuid4().hex}",
        config={
            "endpoint": env["AWS_ENDPOINT_URL"],
            "access_key_id": env["AWS_ACCESS_KEY_ID"],
            "secret_access_key": secret or env["AWS_SECRET_ACCESS_KEY"],
            "region": env["AWS_REGION"],
        },
        client_options={"allow_http": env["AWS_ALLOW_HTTP"] == "true"},
        # The default is 10 retries within 3 minutes: a dead server would take that long to report.
        retry_config={"max_retries": 1, "retry_timeout": timedelta(seconds=5)},
    )


@pytest.fixture
def store(s3_env: dict[str, str]) -> S3Store:
    """An empty corner of the session's S3 bucket."""
    return s3_store(s3_env)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 MB of random bytes in a file."""
    path = tmp_path_factory.mktemp("document") / "document.bin"
    path.write_bytes(os.urandom(20 * MB))
    return path


def sha256_of(chunks: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


def test_the_standard_aws_variables_configure_a_store_from_its_url(
    s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    store = S3Store.from_url(s3_env["LECTOR_STORAGE_URL"])
    assert store.prefix == "lector"
    key = f"{uuid.uuid4().hex}/hello.txt"
    obstore.put(store, key, b"hello")
    assert bytes(obstore.get(store, key).bytes()) == b"hello"
    assert isinstance(from_url(s3_env["LECTOR_STORAGE_URL"]), S3Store)

    # Without AWS_ALLOW_HTTP an http:// endpoint fails at the first request, with an unhelpful
    # "builder error": the storage module must say so itself.
    monkeypatch.delenv("AWS_ALLOW_HTTP")
    with pytest.raises(GenericError, match="builder error"):
        obstore.head(S3Store.from_url(s3_env["LECTOR_STORAGE_URL"]), key)


def test_a_large_put_goes_in_multipart_parts(store: S3Store, document: Path) -> None:
    # An S3 ETag of "<md5>-<n>" names an object assembled from n parts of a multipart upload.
    from_path = obstore.put(store, "from-path", document)
    assert from_path["e_tag"] and from_path["e_tag"].endswith('-4"')  # 5 MB parts by default
    with document.open("rb") as file:
        from_file = obstore.put(store, "from-file", file, chunk_size=8 * MB, max_concurrency=2)
    assert from_file["e_tag"] and from_file["e_tag"].endswith('-3"')
    whole = obstore.put(store, "whole", document, use_multipart=False)
    assert whole["e_tag"] and "-" not in whole["e_tag"]

    expected = hashlib.sha256(document.read_bytes()).hexdigest()
    for key in ("from-path", "from-file", "whole"):
        assert obstore.head(store, key)["size"] == 20 * MB
        assert sha256_of(obstore.get(store, key).stream(min_chunk_size=MB)) == expected


def test_an_iterator_of_unknown_length_is_sent_in_parts(store: S3Store) -> None:
    parts = [os.urandom(3 * MB) for _ in range(4)]
    result = obstore.put(store, "streamed", iter(parts), chunk_size=5 * MB)
    assert result["e_tag"] and result["e_tag"].endswith('-3"')  # 12 MB in 5 MB parts
    assert sha256_of(obstore.get(store, "streamed")) == hashlib.sha256(b"".join(parts)).hexdigest()


def test_async_put_and_get_stream_without_holding_the_object(store: S3Store) -> None:
    parts = [os.urandom(MB) for _ in range(12)]

    async def body() -> AsyncIterator[bytes]:  # as a request body arrives
        for part in parts:
            yield part
            await anyio.sleep(0)

    async def round_trip() -> tuple[str | None, str]:
        result = await obstore.put_async(store, "uploaded", body(), chunk_size=5 * MB, max_concurrency=2)
        digest = hashlib.sha256()
        async for chunk in (await obstore.get_async(store, "uploaded")).stream(min_chunk_size=MB):
            digest.update(chunk)
        return result["e_tag"], digest.hexdigest()

    e_tag, digest = anyio.run(round_trip)
    assert e_tag and e_tag.endswith('-3"')
    assert digest == hashlib.sha256(b"".join(parts)).hexdigest()


def test_a_ranged_get_returns_exactly_the_requested_bytes(store: S3Store, document: Path) -> None:
    obstore.put(store, "doc", document)
    data = document.read_bytes()
    start = 5 * MB - 17  # across the boundary of the first two parts
    assert bytes(obstore.get_range(store, "doc", start=start, end=start + 100)) == data[start : start + 100]
    assert bytes(obstore.get_range(store, "doc", start=3, length=5)) == data[3:8]
    # options["range"] is (start, end) with the end exclusive, unlike HTTP's inclusive ranges.
    ranged = obstore.get(store, "doc", options={"range": (1000, 2000)})
    assert ranged.range == (1000, 2000)
    assert ranged.meta["size"] == 20 * MB
    assert bytes(ranged.bytes()) == data[1000:2000]
    assert bytes(obstore.get(store, "doc", options={"range": {"suffix": 10}}).bytes()) == data[-10:]
    assert bytes(obstore.get(store, "doc", options={"range": {"offset": len(data) - 3}}).bytes()) == data[-3:]
    # A range running past the end is cut at the end; one starting past it is the server's 416.
    tail = obstore.get(store, "doc", options={"range": (len(data) - 4, len(data) + 100)})
    assert tail.range == (len(data) - 4, len(data))
    assert bytes(tail.bytes()) == data[-4:]
    with pytest.raises(GenericError, match="416"):
        obstore.get(store, "doc", options={"range": (len(data), len(data) + 10)})


def test_head_list_and_delete(store: S3Store) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    obstore.put(store, "jobs/a/source.pdf", b"%PDF-1.7 a")
    obstore.put(store, "jobs/b/source.pdf", b"%PDF-1.7 bb")
    head = obstore.head(store, "jobs/b/source.pdf")
    assert head["size"] == 11
    assert head["path"] == "jobs/b/source.pdf"  # relative to the store's prefix

    listed = {meta["path"]: meta for meta in obstore.list(store, prefix="jobs").collect()}
    assert sorted(listed) == ["jobs/a/source.pdf", "jobs/b/source.pdf"]
    for meta in listed.values():
        assert before <= meta["last_modified"] <= datetime.now(UTC) + timedelta(seconds=5)
    assert obstore.list_with_delimiter(store, "jobs")["common_prefixes"] == ["jobs/a", "jobs/b"]

    obstore.delete(store, "jobs/a/source.pdf")
    with pytest.raises(FileNotFoundError):
        obstore.head(store, "jobs/a/source.pdf")
    with pytest.raises(FileNotFoundError):
        obstore.get(store, "jobs/a/source.pdf")
    obstore.delete(store, "jobs/a/source.pdf")  # S3 deletes what is missing without a word
    obstore.delete(store, ["jobs/b/source.pdf"])
    assert obstore.list(store).collect() == []


def test_a_put_in_create_mode_refuses_an_existing_object(store: S3Store) -> None:
    obstore.put(store, "once", b"1", mode="create")
    with pytest.raises(AlreadyExistsError):
        obstore.put(store, "once", b"2", mode="create")
    assert bytes(obstore.get(store, "once").bytes()) == b"1"


def test_a_presigned_get_url_downloads_with_plain_http_and_only_as_signed(store: S3Store) -> None:
    obstore.put(store, "result.txt", b"the text of the page")
    obstore.put(store, "other.txt", b"someone else's")
    url = obstore.sign(store, "GET", "result.txt", timedelta(minutes=5))
    assert isinstance(url, str)
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url

    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.content == b"the text of the page"
    ranged = httpx.get(url, headers={"Range": "bytes=4-7"})
    assert ranged.status_code == 206
    assert ranged.content == b"text"

    forged_path = httpx.get(url.replace("result.txt", "other.txt"))
    assert forged_path.status_code == 403
    assert "SignatureDoesNotMatch" in forged_path.text
    signature = url.rsplit("X-Amz-Signature=", 1)[1]
    forged = url.replace(signature, signature[::-1])
    assert httpx.get(forged).status_code == 403

    short = obstore.sign(store, "GET", "result.txt", timedelta(seconds=1))
    time.sleep(2)
    expired = httpx.get(short)
    assert expired.status_code == 403
    assert "expired" in expired.text.lower()


def test_a_wrong_secret_is_refused_with_permission_denied(store: S3Store, s3_env: dict[str, str]) -> None:
    obstore.put(store, "doc", b"x")
    intruder = s3_store(s3_env, secret="not-the-secret")
    with pytest.raises(PermissionDeniedError, match="SignatureDoesNotMatch"):
        obstore.put(intruder, "doc", b"y")
    with pytest.raises(PermissionDeniedError):
        obstore.get(intruder, "doc")
    with pytest.raises(PermissionDeniedError):
        obstore.head(intruder, "doc")
    # Listing reports the same 403 only as a GenericError.
    with pytest.raises(GenericError, match="403 Forbidden"):
        obstore.list(intruder).collect()
    # Signing needs no server: a URL signed with a wrong secret is made, and refused when used.
    url = obstore.sign(intruder, "GET", "doc", timedelta(minutes=1))
    assert httpx.get(url).status_code == 403


def test_a_missing_bucket_looks_like_a_missing_object(s3_env: dict[str, str]) -> None:
    url = urlsplit(s3_env["LECTOR_STORAGE_URL"])
    elsewhere = s3_store({**s3_env, "LECTOR_STORAGE_URL": f"s3://no-such-bucket{url.path}"})
    with pytest.raises(FileNotFoundError, match="NoSuchBucket"):
        obstore.put(elsewhere, "doc", b"x")


def test_a_stopped_server_is_a_generic_error_and_stops_cleanly(tmp_path: Path, document: Path) -> None:
    process, env = start_s3(tmp_path)
    try:
        store = s3_store(env)
        obstore.put(store, "doc", document)
        data = tmp_path / "data"
        used = subprocess.run(["du", "-sk", str(data)], capture_output=True, text=True, check=True)
        # 20 MB written: weed keeps about that, not gigabytes of preallocated volumes.
        assert int(used.stdout.split()[0]) < 64 * 1024
        sockets = s3_sockets(process)
        assert len(sockets) == 7 and all(path.exists() for path in sockets)  # 5 gRPC, 2 local
    finally:
        stop_s3(process)
    assert process.returncode is not None
    assert not any(path.exists() for path in sockets)
    with pytest.raises(GenericError, match="error sending request"):
        obstore.head(store, "doc")
    with pytest.raises(GenericError, match="error sending request"):
        obstore.put(store, "doc", b"x")


# The same operations on a directory (file:// URLs).


def tree(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


def test_a_local_store_needs_its_directory(tmp_path: Path) -> None:
    with pytest.raises(GenericError, match="canonicalize"):
        from_url(f"file://{tmp_path}/store")
    store = from_url(f"file://{tmp_path}/store", mkdir=True)
    assert isinstance(store, LocalStore)
    assert store.prefix == tmp_path / "store"


def test_a_local_put_is_written_aside_then_renamed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path, mkdir=True)
    during: list[list[str]] = []
    listed_during: list[list[str]] = []

    def chunks() -> Iterator[bytes]:
        yield b"a" * 1000
        during.append(tree(tmp_path))
        # From another thread: an obstore call made on the thread that feeds a put panics
        # ("Cannot start a runtime from within a runtime").
        lister = threading.Thread(
            target=lambda: listed_during.append([meta["path"] for meta in obstore.list(store).collect()])
        )
        lister.start()
        lister.join()
        yield b"b" * 1000

    obstore.put(store, "jobs/j1/source.pdf", chunks())
    # Half-way, only a staging file "<name>#<n>" exists, and listing does not show it.
    assert during == [["jobs", "jobs/j1", "jobs/j1/source.pdf#1"]]
    assert listed_during == [[]]
    assert tree(tmp_path) == ["jobs", "jobs/j1", "jobs/j1/source.pdf"]
    assert (tmp_path / "jobs/j1/source.pdf").read_bytes() == b"a" * 1000 + b"b" * 1000

    def broken() -> Iterator[bytes]:
        yield b"a" * 1000
        raise ConnectionResetError("the client went away")

    with pytest.raises(ConnectionResetError):
        obstore.put(store, "jobs/j2/source.pdf", broken())
    # Nothing of the failed put is left but its directory.
    assert tree(tmp_path) == ["jobs", "jobs/j1", "jobs/j1/source.pdf", "jobs/j2"]


def test_a_local_store_does_what_the_s3_store_does(tmp_path: Path, document: Path) -> None:
    root = tmp_path / "store"
    store = LocalStore(root, mkdir=True)
    data = document.read_bytes()
    obstore.put(store, "jobs/j1/document.bin", document)
    with document.open("rb") as file:
        obstore.put(store, "jobs/j2/document.bin", file)
    # Keys are paths under the prefix, one directory a segment.
    assert (root / "jobs/j1/document.bin").read_bytes() == data
    assert tree(root) == ["jobs", "jobs/j1", "jobs/j1/document.bin", "jobs/j2", "jobs/j2/document.bin"]

    assert bytes(obstore.get_range(store, "jobs/j1/document.bin", start=10, end=20)) == data[10:20]
    ranged = obstore.get(store, "jobs/j1/document.bin", options={"range": (5 * MB, 5 * MB + 9)})
    assert ranged.range == (5 * MB, 5 * MB + 9)
    assert bytes(ranged.bytes()) == data[5 * MB : 5 * MB + 9]
    assert obstore.head(store, "jobs/j1/document.bin")["size"] == 20 * MB
    listed = obstore.list(store).collect()
    assert sorted(meta["path"] for meta in listed) == ["jobs/j1/document.bin", "jobs/j2/document.bin"]
    assert all(meta["last_modified"].tzinfo is not None for meta in listed)
    assert obstore.list_with_delimiter(store, "jobs")["common_prefixes"] == ["jobs/j1", "jobs/j2"]

    obstore.delete(store, "jobs/j1/document.bin")
    with pytest.raises(FileNotFoundError):
        obstore.head(store, "jobs/j1/document.bin")
    # Unlike S3, deleting what is missing is an error here.
    with pytest.raises(FileNotFoundError):
        obstore.delete(store, "jobs/j1/document.bin")
    # Emptied directories stay, unless the store was made with automatic_cleanup=True.
    assert tree(root) == ["jobs", "jobs/j1", "jobs/j2", "jobs/j2/document.bin"]
    tidy = LocalStore(root, automatic_cleanup=True)
    obstore.delete(tidy, "jobs/j2/document.bin")
    assert tree(root) == ["jobs", "jobs/j1"]

    with pytest.raises(ValueError, match="illegal character sequence"):
        obstore.put(store, "jobs/../../escape", b"x")
    with pytest.raises(ValueError):
        obstore.sign(store, "GET", "jobs/j1/document.bin", timedelta(minutes=1))
