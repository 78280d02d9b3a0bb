"""The commit hashes the new files a draft has no BLAKE3 digest for (one unpickled from
another process; see tests/test_draft_digests.py for the digests computed while adding)
with BLAKE3 while a writer thread writes them.

The manifest is checked before anything is written (with a stand-in of the same shape for
the digests still to compute), and made only once both the hashing and the writes are done:
every digest in it is the real one, a failed write makes no version, and no thread outlives
the commit.  On a local store (the thread is the same on every backend).
"""

from __future__ import annotations

import hashlib
import pickle
import threading

import blake3
import numpy as np
import pytest

import artifacts
import artifacts.commit as commit_module
from artifacts import Artifact
from artifacts.odb.layout import blob_path
from media import Audio

RATE = 16000


def clips(n: int = 40) -> Artifact:
    draft = Artifact("clips", "dataset")
    for i in range(n):
        x = (np.sin(np.arange(4000) * (i + 1) / 40) * 9000).astype(np.int16)
        draft.add(Audio(x, RATE), f"c{i}")
    return draft


def unhashed(draft: Artifact) -> Artifact:
    """``draft`` as another process gets it: without the digests computed while adding."""
    return pickle.loads(pickle.dumps(draft))


def test_blake3_is_computed_while_the_files_are_written(tmp_path, monkeypatch):
    store = artifacts.open_store(str(tmp_path / "s"))
    writing = threading.Event()
    seen: list[bool] = []
    real_write_many = store.backend.write_many
    real_digest = commit_module.file_digest

    def write_many(items, progress=None):
        writing.set()
        return real_write_many(items, progress)

    def file_digest(buffer):
        if not seen:  # the first hash waits (a while) for the writes to have started
            seen.append(writing.wait(timeout=5))
        return real_digest(buffer)

    monkeypatch.setattr(store.backend, "write_many", write_many)
    monkeypatch.setattr(commit_module, "file_digest", file_digest)
    v = store.commit(unhashed(clips()))
    assert seen == [True], "the BLAKE3 hashing did not overlap the writes"
    for path, e in v.manifest.entries.items():
        if "inline" not in e:
            assert e["blake3"] == blake3.blake3(v.read_bytes(path)).hexdigest(), path


def test_files_with_the_same_bytes_at_two_paths_both_get_the_real_digest(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"))
    draft = clips(20)
    data = bytes(range(256)) * 100
    for name in ("a.bin", "b.bin"):
        with draft.new_file(name, "wb") as f:
            f.write(data)
    v = store.commit(draft)
    want = blake3.blake3(data).hexdigest()
    assert v.manifest.entries["a.bin"]["blake3"] == want
    assert v.manifest.entries["b.bin"]["blake3"] == want
    stored = store.backend.read("artifacts/clips/versions/v0.json").decode()
    assert '"blake3":"' + "0" * 64 not in stored  # no stand-in reached the manifest
    assert "pack" in v.manifest.entries["a.bin"]


def test_a_failed_write_raises_makes_no_version_and_leaves_no_thread(tmp_path, monkeypatch):
    store = artifacts.open_store(str(tmp_path / "s"))
    store.commit(clips(20))  # the store exists
    real_write_many = store.backend.write_many

    def failing(items, progress=None):
        real_write_many(items[:1], progress)  # part of the files, then the disk fills
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.backend, "write_many", failing)
    before = threading.active_count()
    draft = clips(30)
    with pytest.raises(OSError, match="No space left"):
        store.commit(draft)
    assert threading.active_count() == before
    assert store.versions("clips") == ["v0"]
    monkeypatch.undo()
    v1 = store.commit(draft)  # the same draft commits once the disk has room
    assert store.versions("clips") == ["v0", "v1"]
    v1.verify()


def test_a_first_commit_whose_write_fails_creates_no_store(tmp_path, monkeypatch):
    store = artifacts.open_store(str(tmp_path / "s"))

    def failing(items, progress=None):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store.backend, "write_many", failing)
    with pytest.raises(OSError, match="Input/output"):
        store.commit(clips(20))
    assert not (tmp_path / "s" / "store.json").exists()


def test_the_committed_bytes_are_the_hashed_bytes(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"))
    v = store.commit(clips(50))
    for path, e in v.manifest.entries.items():
        if "inline" in e:
            continue
        data = v.read_bytes(path)
        assert hashlib.sha256(data).hexdigest() == e["digest"]
        assert blake3.blake3(data).hexdigest() == e["blake3"]


def test_an_error_while_hashing_waits_for_the_writer_and_makes_no_version(tmp_path, monkeypatch):
    store = artifacts.open_store(str(tmp_path / "s"))
    store.commit(clips(20))

    def broken(buffer):
        raise RuntimeError("hashing interrupted")

    monkeypatch.setattr(commit_module, "file_digest", broken)
    before = threading.active_count()
    with pytest.raises(RuntimeError, match="hashing interrupted"):
        store.commit(unhashed(clips(30)))
    assert threading.active_count() == before  # the writer was waited for
    assert store.versions("clips") == ["v0"]


def test_a_first_commit_that_fails_while_hashing_creates_no_store(tmp_path, monkeypatch):
    store = artifacts.open_store(str(tmp_path / "s"))
    cancelled = threading.Event()
    real_cancel = commit_module._Writer.cancel
    real_write_many = store.backend.write_many

    def cancel(self):
        cancelled.set()
        return real_cancel(self)

    def write_many(items, progress=None):
        cancelled.wait(timeout=5)  # the writes end after the commit gave up on them
        return real_write_many(items, progress)

    def broken(buffer):
        raise RuntimeError("hashing interrupted")

    monkeypatch.setattr(commit_module._Writer, "cancel", cancel)
    monkeypatch.setattr(store.backend, "write_many", write_many)
    monkeypatch.setattr(commit_module, "file_digest", broken)
    with pytest.raises(RuntimeError, match="hashing interrupted"):
        store.commit(unhashed(clips(20)))
    assert cancelled.is_set()
    assert not (tmp_path / "s" / "store.json").exists()
    assert not store.exists()


def _long_wav(path, seconds: int = 40) -> None:
    """A WAV file of more than 1 MiB: it gets a chunk table at commit."""
    import soundfile as sf

    x = (np.sin(np.arange(RATE * seconds) / 9) * 12000).astype(np.int16)
    sf.write(str(path), x, RATE, subtype="PCM_16")


def test_a_large_file_added_by_path_is_hashed_while_it_is_written(tmp_path, monkeypatch):
    """A large file is read once for its BLAKE3 digest and chunk table while the writer
    thread copies it (both check its sha256), not once before the copy starts."""
    _long_wav(tmp_path / "long.wav")
    store = artifacts.open_store(str(tmp_path / "s"))
    writing = threading.Event()
    seen: list[bool] = []
    real_write_many = store.backend.write_many
    real_digests = commit_module.digests_of_stream

    def write_many(items, progress=None):
        writing.set()
        return real_write_many(items, progress)

    def digests_of_stream(f, table):
        seen.append(writing.wait(timeout=5))
        return real_digests(f, table)

    monkeypatch.setattr(store.backend, "write_many", write_many)
    monkeypatch.setattr(commit_module, "digests_of_stream", digests_of_stream)
    draft = Artifact("long", "dataset")
    draft.add(Audio(str(tmp_path / "long.wav")), "long")
    v = store.commit(draft)
    assert seen == [True], "the file was hashed before its write started"
    (path,) = [p for p, e in v.manifest.entries.items() if "inline" not in e]
    e = v.manifest.entries[path]
    data = (tmp_path / "long.wav").read_bytes()
    assert e["blake3"] == blake3.blake3(data).hexdigest()
    table = store.backend.read(blob_path(e["chunks"]["table"]))
    assert hashlib.sha256(table).hexdigest() == e["chunks"]["table"]
    assert len(table) == 32 * -(-len(data) // (32 << 10))
    stored = store.backend.read("artifacts/long/versions/v0.json").decode()
    assert "0" * 64 not in stored  # no stand-in reached the manifest
    assert v.get("long").numpy(1000, 2000).shape == (1000,)  # windows check by the table
    v.verify()


def test_a_large_file_changed_after_add_makes_no_version_and_leaves_no_file(tmp_path):
    _long_wav(tmp_path / "long.wav")
    store = artifacts.open_store(str(tmp_path / "s"))
    store.commit(clips(5))
    draft = Artifact("long", "dataset")
    draft.add(Audio(str(tmp_path / "long.wav")), "long")
    with open(tmp_path / "long.wav", "r+b") as f:  # same size, other bytes
        f.seek(5000)
        f.write(b"\x7f" * 100)
    before = {p for p, _ in store.backend.walk_files("blobs")}
    before_packs = {p for p, _ in store.backend.walk_files("packs")}
    threads = threading.active_count()
    with pytest.raises(artifacts.IntegrityError, match="changed after it was added"):
        store.commit(draft)
    assert store.versions("long") == []
    assert {p for p, _ in store.backend.walk_files("blobs")} == before
    assert {p for p, _ in store.backend.walk_files("packs")} == before_packs
    assert threading.active_count() == threads  # the writer was waited for
