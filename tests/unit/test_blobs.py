import os
import time

from service.blobs import DirectoryBlobStore


def test_a_directory_store_keeps_documents_until_they_expire(tmp_path):
    store = DirectoryBlobStore(tmp_path / "blobs")
    kept = store.put(b"%PDF-1.7 kept", ttl_s=3600)
    assert store.get(kept) == b"%PDF-1.7 kept"
    assert not list((tmp_path / "blobs").glob("*.partial"))  # written whole, then renamed

    expired = store.put(b"old", ttl_s=3600)
    past = time.time() - 1
    os.utime(tmp_path / "blobs" / expired, (past, past))
    assert store.get(expired) is None
    assert not (tmp_path / "blobs" / expired).exists()

    store.delete(kept)
    assert store.get(kept) is None
    assert store.get("no-such-id") is None


def test_storing_sweeps_expired_files(tmp_path):
    store = DirectoryBlobStore(tmp_path)
    stale = store.put(b"stale", ttl_s=3600)
    past = time.time() - 1
    os.utime(tmp_path / stale, (past, past))
    store._last_sweep = 0.0  # as if a minute had passed since the last sweep
    fresh = store.put(b"fresh", ttl_s=3600)
    assert sorted(path.name for path in tmp_path.iterdir()) == [fresh]


def test_a_sweep_leaves_another_writers_partial_file_alone(tmp_path):
    # Finding 11: the sweep deleted a `.partial` being written, and the writer's utime raised.
    store = DirectoryBlobStore(tmp_path)
    being_written = tmp_path / "abc.partial"
    being_written.write_bytes(b"half a document")
    abandoned = tmp_path / "old.partial"
    abandoned.write_bytes(b"left by a dead writer")
    long_ago = time.time() - 2 * 3600
    os.utime(abandoned, (long_ago, long_ago))
    store._last_sweep = 0.0
    store.put(b"new", ttl_s=3600)
    assert being_written.exists()
    assert not abandoned.exists()
