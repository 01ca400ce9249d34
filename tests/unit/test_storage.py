"""The store's contract on a directory (``file://``); the same operations against a real S3
server are in tests/integration/test_object_store.py."""

import os
import time
from datetime import timedelta
from io import BytesIO

import pytest

from service.errors import SettingsError, StoreUnavailable
from service.storage import Space, new_key, open_storage


def test_a_directory_store_keeps_reads_ranges_and_deletes(tmp_path):
    storage = open_storage(f"file://{tmp_path}/store")
    key = new_key(Space.FILES)
    storage.put(key, b"0123456789")
    assert storage.read(key) == b"0123456789"
    assert storage.size(key) == 10
    assert b"".join(storage.chunks(key, 2, 5)) == b"234"
    assert b"".join(storage.chunks(key, 7)) == b"789"
    copied = BytesIO()
    assert storage.copy_to(key, copied) and copied.getvalue() == b"0123456789"
    storage.delete(key, key)  # deleting twice is no error
    assert storage.read(key) is None and storage.size(key) is None and storage.chunks(key) is None
    assert storage.signed_url(key, timedelta(hours=1)) is None  # a directory signs nothing


def test_a_large_file_is_stored_from_its_path_and_read_back_in_pieces(tmp_path):
    source = tmp_path / "large.bin"
    source.write_bytes(os.urandom(1024) * 20 * 1024)  # 20 MB: uploaded in parts
    storage = open_storage(f"file://{tmp_path}/store")
    storage.put("documents/large", source)
    pieces = list(storage.chunks("documents/large"))
    assert b"".join(pieces) == source.read_bytes()
    assert max(len(piece) for piece in pieces) <= 1024 * 1024 * 10


def test_the_sweep_removes_only_what_is_older_than_its_retention(tmp_path):
    storage = open_storage(f"file://{tmp_path}/store")
    storage.put("files/old", b"old")
    storage.put("files/new", b"new")
    storage.put("documents/old", b"another space")
    two_days_ago = time.time() - 2 * 86400
    for key in ("files/old", "documents/old"):
        os.utime(tmp_path / "store" / key, (two_days_ago, two_days_ago))
    assert storage.sweep(Space.FILES, timedelta(days=1)) == 1
    assert storage.read("files/old") is None
    assert storage.read("files/new") == b"new"
    assert storage.read("documents/old") == b"another space"


def test_the_default_store_is_a_private_directory_under_var(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    storage = open_storage(None)
    assert storage.where == f"file://{tmp_path}/var/store"
    assert (tmp_path / "var" / "store").stat().st_mode & 0o777 == 0o700
    assert storage.check() is None


def test_a_store_that_cannot_write_says_which_step_failed(tmp_path):
    storage = open_storage(f"file://{tmp_path}/store")
    (tmp_path / "store").chmod(0o500)
    try:
        if os.geteuid() == 0:  # root writes anyway: make the directory a file instead
            (tmp_path / "store").chmod(0o700)
            (tmp_path / "store").rmdir()
            (tmp_path / "store").write_text("not a directory")
        failed = storage.check()
        assert failed is not None
        assert failed.startswith(f"The store (file://{tmp_path}/store) failed to write")
        with pytest.raises(StoreUnavailable, match="The document store is unavailable"):
            storage.put("documents/x", b"x")
    finally:
        if (tmp_path / "store").is_dir():
            (tmp_path / "store").chmod(0o700)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://host/x", "must start with s3:// or file://"),
        ("file://otherhost/data", "names a directory on this host"),
        ("s3:///prefix", "names a bucket"),
    ],
)
def test_a_storage_url_it_cannot_use_is_a_clear_settings_error(url, says):
    with pytest.raises(SettingsError, match=says):
        open_storage(url)
