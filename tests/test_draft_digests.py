"""A draft computes the BLAKE3 digests of its new files on a background thread while files
are still being added; the commit takes them instead of hashing the files again.

The digests are derived data keyed by each file's sha256: whatever happens to the draft
(undone adds, spills to disk, pickling, a fork, a failed task), every digest that reaches a
manifest is that of the committed bytes.
"""

from __future__ import annotations

import multiprocessing
import pickle
import threading

import blake3
import numpy as np
import pytest

import artifacts
import artifacts.commit as commit_module
import artifacts.odb.ahead as ahead
from artifacts import Artifact
from media import Audio

RATE = 16000


def clip(i: int, frames: int = 4000) -> Audio:
    x = (np.sin(np.arange(frames) * (i + 1) / 40) * 9000).astype(np.int16)
    return Audio(x, RATE)


def check_digests(v) -> int:
    """Every file of version ``v`` has the BLAKE3 digest of its committed bytes."""
    n = 0
    for path, e in v.manifest.entries.items():
        if "inline" not in e:
            assert e["blake3"] == blake3.blake3(v.read_bytes(path)).hexdigest(), path
            n += 1
    return n


def counting(monkeypatch) -> list[str]:
    """Count the BLAKE3 hashing the commit does itself (of bytes, or of a stream: a
    spooled file, a file added by path)."""
    calls: list[str] = []
    real_file, real_stream = commit_module.file_digest, commit_module.digests_of_stream

    def file_digest(buffer):
        calls.append("bytes")
        return real_file(buffer)

    def digests_of_stream(f, table):
        calls.append("stream")
        return real_stream(f, table)

    monkeypatch.setattr(commit_module, "file_digest", file_digest)
    monkeypatch.setattr(commit_module, "digests_of_stream", digests_of_stream)
    return calls


def test_the_commit_takes_the_digests_computed_while_adding(tmp_path, monkeypatch):
    draft = Artifact("clips", "dataset")
    for i in range(30):
        draft.add(clip(i), f"c{i}")
    calls = counting(monkeypatch)
    v = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    assert calls == []  # no file hashed again
    assert check_digests(v) == 30


def test_adds_go_on_while_the_thread_hashes(tmp_path, monkeypatch):
    release, started = threading.Event(), threading.Event()
    threads: set[str] = set()
    real = ahead.file_digest

    def slow(buffer):
        threads.add(threading.current_thread().name)
        started.set()
        release.wait(timeout=10)
        return real(buffer)

    monkeypatch.setattr(ahead, "BATCH", 1)  # a task per file
    monkeypatch.setattr(ahead, "file_digest", slow)
    draft = Artifact("clips", "dataset")
    for i in range(20):  # returns although no file is hashed yet
        draft.add(clip(i), f"c{i}")
    assert started.wait(timeout=10)  # the first file is being hashed, and waits
    assert threading.current_thread().name not in threads
    release.set()
    v = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    assert check_digests(v) == 20


def test_a_failed_task_leaves_its_files_to_the_commit(tmp_path, monkeypatch):
    def broken(buffer):
        raise MemoryError

    monkeypatch.setattr(ahead, "BATCH", 1)  # a task per file
    monkeypatch.setattr(ahead, "file_digest", broken)
    draft = Artifact("clips", "dataset")
    for i in range(10):
        draft.add(clip(i), f"c{i}")
    assert draft.staged().blake3 == {}  # every task failed
    monkeypatch.undo()
    calls = counting(monkeypatch)
    v = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    assert len(calls) == 10
    assert check_digests(v) == 10


def test_a_spilling_draft_waits_for_the_hashing_and_keeps_the_digests(tmp_path, monkeypatch):
    settled: list[int] = []
    real_settle = ahead.Ahead.settle

    def settle(self):
        settled.append(1)
        return real_settle(self)

    monkeypatch.setattr(ahead.Ahead, "settle", settle)
    draft = Artifact("clips", "dataset")
    draft.spill_at = 20_000  # about two clips held in memory at a time
    for i in range(12):
        draft.add(clip(i), f"c{i}")
    assert len(settled) >= 4  # each spill first waited for the bytes to be hashed
    monkeypatch.undo()
    staged = draft.staged()
    spooled = [p for p, c in staged.pending.items() if type(c).__name__ == "SpooledBytes"]
    assert spooled  # some files went to disk
    assert len(staged.blake3) == 12
    calls = counting(monkeypatch)
    v = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    assert calls == []
    assert check_digests(v) == 12


def test_undone_and_replaced_files_get_the_digests_of_what_is_committed(tmp_path):
    draft = Artifact("clips", "dataset")
    draft.add(clip(0), "a")
    with pytest.raises(ValueError):
        with draft.all_or_nothing():
            draft.add(clip(1), "b")
            raise ValueError("undo")
    draft.add(clip(2), "a", overwrite=True)
    draft.add(clip(3), "b")
    v = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    assert check_digests(v) == 2


def test_an_unpickled_draft_is_hashed_by_the_commit(tmp_path, monkeypatch):
    draft = Artifact("clips", "dataset")
    for i in range(8):
        draft.add(clip(i), f"c{i}")
    copy = pickle.loads(pickle.dumps(draft))
    assert copy.staged().blake3 == {}
    calls = counting(monkeypatch)
    v = artifacts.open_store(str(tmp_path / "s")).commit(copy)
    assert len(calls) == 8
    assert check_digests(v) == 8
    copy.add(clip(9), "more")  # and it hashes what is added after
    assert len(copy.staged().blake3) == 1


def _commit_in_child(root: str, q) -> None:
    draft = Artifact("clips", "dataset")
    for i in range(6):
        draft.add(clip(i), f"c{i}")
    v = artifacts.open_store(root).commit(draft)
    q.put(check_digests(v))


def test_a_forked_child_hashes_with_a_thread_of_its_own(tmp_path):
    draft = Artifact("clips", "dataset")
    draft.add(clip(0), "c0")  # the parent's thread exists before the fork
    draft.staged()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_commit_in_child, args=(str(tmp_path / "s"), q))
    p.start()
    try:
        assert q.get(timeout=60) == 6  # (a child without a thread would wait forever)
    finally:
        p.join(timeout=60)
    assert p.exitcode == 0


def test_large_files_are_left_to_the_commit(tmp_path, monkeypatch):
    draft = Artifact("clips", "dataset")
    draft.add(clip(0, frames=600_000), "long")  # 1.2 MB: a chunk table is made at commit
    assert draft.staged().blake3 == {}
    v = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    assert check_digests(v) == 1
    assert "chunks" in v.manifest.entries["media/audio/" + clip(0, 600_000).sha256[:20] + ".wav"]
