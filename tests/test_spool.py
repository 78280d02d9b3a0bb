"""A draft moves the bytes it holds to a spool file past ``Artifact.spill_at``.

What is checked: a spilling draft commits exactly what a draft that keeps everything in
memory commits (on the local disk, memory:// and s3://), its memory stays bounded, the
spool leaves no file behind, and a spool that cannot be written gives a clear error and
leaves the draft as it was.
"""

from __future__ import annotations

import functools
import io
import os
import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_store import clip

import artifacts
from artifacts import Artifact
from artifacts.spool import ENV, SpooledBytes
from media import Audio, Table

KB = 1024


def noise(seed: int, frames: int = 8000) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(frames).astype(np.float32)


def spooled(draft: Artifact) -> list[str]:
    return sorted(p for p, c in draft._pending.items() if isinstance(c, SpooledBytes))


@pytest.fixture(autouse=True)
def _spool_folder(tmp_path, monkeypatch):
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setenv(ENV, str(folder))
    return folder


def test_spilling_draft_commits_the_same_version(store):
    arrays = [noise(s) for s in range(40)]
    versions = []
    for name, spill_at in (("kept", None), ("spilled", 100 * KB)):
        draft = Artifact(name, "dataset")
        draft.spill_at = spill_at
        for i, a in enumerate(arrays):
            draft.add(Audio(a, 16000, caption=f"c{i}"), f"clip{i}")
        if spill_at is None:
            assert spooled(draft) == []
        else:
            assert len(spooled(draft)) >= 35  # all but the last few clips went to the spool
            assert draft._held <= spill_at
        versions.append(store.commit(draft))
    kept, spilled = versions
    assert spilled.digest == kept.digest
    fresh = artifacts.open_store(store.url).artifact("spilled:latest")
    for i, a in enumerate(arrays):
        got = fresh.get(f"clip{i}")
        assert got.numpy().tobytes() == a.tobytes() and got.caption == f"c{i}"
    assert fresh.verify() == []


def test_big_files_stream_from_the_spool(store):
    # above the pack size limit: each is a blob of its own, read from the spool in pieces
    big = noise(7, frames=1_200_000)  # 4.8 MB of WAV bytes
    draft = Artifact("big", "dataset")
    draft.spill_at = 1
    draft.add(Audio(big, 48000), "a")
    draft.add(Audio(big[::-1].copy(), 48000), "b")
    assert len(spooled(draft)) == 1  # the first one; the newest stays until the next add
    art = store.commit(draft)
    assert art.get("a").numpy().tobytes() == big.tobytes()
    assert art.get("b").numpy().tobytes() == big[::-1].tobytes()


def test_memory_stays_bounded_while_adding():
    def peak(spill_at):
        draft = Artifact("m", "dataset")
        draft.spill_at = spill_at
        tracemalloc.start()
        try:
            for i in range(200):  # 200 clips of 32 KB: 6.4 MB in all
                draft.add(Audio(noise(i), 16000), f"clip{i}")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    assert peak(None) > 6_000_000
    assert peak(256 * KB) < 1_500_000


def test_add_many_spills_batch_by_batch(store):
    items = {f"clip{i}": functools.partial(Audio, noise(i), 16000) for i in range(64)}
    draft = Artifact("many", "dataset")
    draft.spill_at = 64 * KB
    tracemalloc.start()
    try:
        draft.add_many(items, batch_size=8)
        top = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert top < 2_000_000  # 64 clips are 2 MB; a batch of 8 is 256 KB
    art = store.commit(draft)
    assert art.get("clip63").numpy().tobytes() == noise(63).tobytes()


def test_the_spool_leaves_no_file(_spool_folder):
    draft = Artifact("m", "dataset")
    draft.spill_at = 1
    for i in range(5):
        draft.add(clip(i, n=4000), f"clip{i}")
    assert len(spooled(draft)) == 4
    assert os.listdir(_spool_folder) == []  # unnamed (O_TMPFILE) or unlinked at once


def test_overwrite_and_remove_spilled_values(store):
    draft = Artifact("m", "dataset")
    draft.spill_at = 1
    table = Table(columns=["x", "clip"], data=[[i, clip(i, n=500)] for i in range(40)])
    draft.add(table, "t")
    draft.add(clip(1, n=4000), "a")
    draft.add(clip(2, n=4000), "b")
    assert "t.table.json" in spooled(draft)  # a value JSON too big to go inline
    # replacing the table drops its clips: the spooled JSON is read to find them
    draft.add(Table(columns=["x"], data=[[1]]), "t", overwrite=True)
    draft.add(clip(3, n=4000), "a", overwrite=True)
    draft.remove("b")
    art = store.commit(draft)
    assert sorted(art.value_names()) == ["a", "t"]
    assert len([p for p in art.entries if p.startswith("media/")]) == 1
    assert art.get("a").numpy().tobytes() == clip(3, n=4000).numpy().tobytes()


def test_spool_that_cannot_be_written_leaves_the_draft_as_it_was(tmp_path, monkeypatch, store):
    draft = Artifact("m", "dataset")
    draft.spill_at = 10 * KB
    draft.add(clip(0, n=4000), "a")
    before = (dict(draft._entries), dict(draft._pending))
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv(ENV, str(missing))
    with pytest.raises(OSError, match="spool folder .*no-such-folder.*MEDIA_ARTIFACTS_SPOOL"):
        draft.add(clip(1, n=4000), "b")
    assert (draft._entries, draft._pending) == before
    monkeypatch.setenv(ENV, str(tmp_path))
    draft.add(clip(1, n=4000), "b")
    art = store.commit(draft)
    assert art.get("b").numpy().tobytes() == clip(1, n=4000).numpy().tobytes()


def test_failed_add_many_undoes_spilled_adds():
    draft = Artifact("m", "dataset")
    draft.spill_at = 1
    draft.add(clip(0, n=4000), "keep")
    entries = dict(draft._entries)

    def boom():
        raise RuntimeError("decoder failed")

    items = [(f"clip{i}", clip(i, n=4000)) for i in range(1, 20)] + [("bad", boom)]
    with pytest.raises(RuntimeError, match="decoder failed"):
        draft.add_many(items, batch_size=4)
    assert draft._entries == entries


def test_spilled_draft_pickles_with_its_bytes(tmp_path):
    draft = Artifact("m", "dataset")
    draft.spill_at = 1
    for i in range(3):
        draft.add(clip(i, n=4000), f"clip{i}")
    assert spooled(draft)
    copy = pickle.loads(pickle.dumps(draft))
    assert spooled(copy) == []  # the bytes travel themselves
    art = artifacts.open_store(str(tmp_path / "s")).commit(copy)
    assert art.get("clip0").numpy().tobytes() == clip(0, n=4000).numpy().tobytes()


def test_a_cut_spool_is_caught_at_commit(tmp_path):
    draft = Artifact("m", "dataset")
    draft.spill_at = 1
    draft.add(clip(0, n=4000), "a")
    draft.add(clip(1, n=4000), "b")
    os.ftruncate(draft._spool._file.file.fileno(), 100)
    with pytest.raises(artifacts.IntegrityError, match="m/media/audio/.*changed after it was"):
        artifacts.open_store(str(tmp_path / "s"), pack_min=None).commit(draft)


@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["file", "file", "remove"]),
            st.integers(0, 5),
            st.binary(max_size=3000),
        ),
        max_size=25,
    ),
    spill_at=st.integers(0, 8000),
)
def test_spilling_never_changes_what_is_committed(tmp_path_factory, ops, spill_at):
    """The same operations on a draft that spills and on one that keeps everything in
    memory commit the same entries, with the same bytes."""
    root = tmp_path_factory.mktemp("spill")
    drafts = []
    for limit in (None, spill_at):
        draft = Artifact("p", "dataset")
        draft.spill_at = limit
        for op, k, data in ops:
            name = f"f{k}.bin"
            if op == "remove":
                if name in draft:
                    draft.remove(name)
                continue
            with draft.new_file(name, mode="wb", overwrite=True) as f:
                f.write(data)
        drafts.append(draft)
    store = artifacts.open_store(str(root / "s"))
    kept, spilled = (store.commit(d) for d in drafts)
    assert spilled.digest == kept.digest
    for path in kept.entries:
        assert spilled.read_bytes(path) == kept.read_bytes(path)


def test_spooled_bytes_read_back():
    draft = Artifact("m", "dataset")
    draft.spill_at = 0
    with draft.new_file("a.bin", mode="wb") as f:
        f.write(b"x" * 100)
    with draft.new_file("b.bin", mode="wb") as f:
        f.write(bytes(range(256)) * 5000)
    item = draft._pending["a.bin"]
    assert isinstance(item, SpooledBytes) and len(item) == 100
    assert item.read() == b"x" * 100
    with item() as stream:
        assert isinstance(stream, io.BufferedReader)
        assert stream.read(10) == b"x" * 10 and stream.read() == b"x" * 90 and stream.read() == b""


def test_commit_to_s3_streams_big_spilled_files(request, tmp_path):
    """Measured in a child process: the S3 server of the tests runs in this one."""
    import subprocess
    import sys
    import textwrap

    from conftest import store_url

    url = store_url("s3", tmp_path, request)
    script = textwrap.dedent(
        f"""
        import tracemalloc
        import artifacts

        draft = artifacts.Artifact("big", "dataset")
        draft.spill_at = 0
        for i in range(12):  # 12 files of 5 MiB: too big to pack, each a blob of its own
            with draft.new_file(f"f{{i}}.bin", mode="wb") as f:
                f.write(bytes([i]) * (5 << 20))
        store = artifacts.open_store({url!r})
        tracemalloc.start()
        art = store.commit(draft)
        print(tracemalloc.get_traced_memory()[1])
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # 4 at a time (s3fs reads each whole for its one PUT: two copies), not all 12 at once
    # (which measured 218 MiB)
    assert int(done.stdout) < 80 << 20
    art = artifacts.open_store(url).artifact("big:v0")
    assert art.read_bytes("f3.bin") == bytes([3]) * (5 << 20)
    assert art.verify() == []


def test_add_many_keeps_a_few_batches_in_flight():
    import concurrent.futures

    items = {f"clip{i}": functools.partial(Audio, noise(i), 16000) for i in range(256)}
    draft = Artifact("many", "dataset")
    draft.spill_at = 64 * KB
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        tracemalloc.start()
        try:
            draft.add_many(items, pool, batch_size=8)
            top = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert len(draft.value_names()) == 256
    assert top < 3_000_000  # 256 clips are 8 MB; 2 workers x 2 batches of 8 are 1 MB


def test_spool_without_pread(monkeypatch, tmp_path):
    """The fallback for systems without pread/pwrite (Windows): seek and read under a lock."""
    monkeypatch.setattr("artifacts.spool._HAS_PREAD", False)
    draft = Artifact("m", "dataset")
    draft.spill_at = 0
    for i in range(6):
        draft.add(clip(i, n=3000), f"clip{i}")
    assert len(spooled(draft)) == 5
    art = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    for i in range(6):
        assert art.get(f"clip{i}").numpy().tobytes() == clip(i, n=3000).numpy().tobytes()


def test_a_full_disk_then_another_folder(monkeypatch, tmp_path):
    import errno

    from artifacts import spool

    draft = Artifact("m", "dataset")
    draft.spill_at = 0
    draft.add(clip(0, n=3000), "a")
    draft.add(clip(1, n=3000), "b")  # "a" is now in a spool file in the first folder
    before = (dict(draft._entries), dict(draft._pending))

    def full(self, data, offset):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(spool._File, "pwrite", full)
        with pytest.raises(OSError, match=r"spool folder .*No space left.*set \$MEDIA"):
            draft.add(clip(2, n=3000), "c")
    assert (draft._entries, draft._pending) == before
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(ENV, str(other))  # as the message says: the next try writes there
    draft.add(clip(2, n=3000), "c")
    folders = {c._file.folder for c in draft._pending.values() if isinstance(c, SpooledBytes)}
    assert folders == {str(tmp_path / "spool"), str(other)}  # "a" where it was, "b" there
    art = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    for i, name in enumerate("abc"):
        assert art.get(name).numpy().tobytes() == clip(i, n=3000).numpy().tobytes()


def test_a_forked_child_writes_its_own_spool(tmp_path):
    draft = Artifact("m", "dataset")
    draft.spill_at = 0
    for i in range(3):
        draft.add(clip(i, n=3000), f"clip{i}")
    pid = os.fork()
    if pid == 0:  # the child adds to its copy of the draft and commits it
        code = 1
        try:
            for i in range(3, 6):
                draft.add(clip(100 + i, n=3000), f"clip{i}")
            art = artifacts.open_store(str(tmp_path / "child")).commit(draft)
            code = 0 if art.verify(raise_on_error=False) == [] else 2
        finally:
            os._exit(code)
    for i in range(3, 6):
        draft.add(clip(200 + i, n=3000), f"clip{i}")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    art = artifacts.open_store(str(tmp_path / "parent")).commit(draft)
    assert art.verify() == []
    assert art.get("clip4").numpy().tobytes() == clip(204, n=3000).numpy().tobytes()
    child = artifacts.open_store(str(tmp_path / "child")).artifact("m:v0")
    assert child.get("clip4").numpy().tobytes() == clip(104, n=3000).numpy().tobytes()
    assert child.get("clip1").numpy().tobytes() == clip(1, n=3000).numpy().tobytes()


def test_an_unpickled_draft_spills_again():
    draft = Artifact("m", "dataset")
    draft.spill_at = 20 * KB
    for i in range(10):
        draft.add(clip(i, n=3000), f"clip{i}")
    copy = pickle.loads(pickle.dumps(draft))
    assert spooled(copy) == [] and copy._held > copy.spill_at
    copy.add(clip(10, n=3000), "clip10")
    assert len(spooled(copy)) == 10 and copy._held <= copy.spill_at


def test_the_spool_is_open_for_atexit_handlers(tmp_path):
    """An exit handler registered before the first spill can still commit the draft."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        f"""
        import atexit
        import numpy as np
        import artifacts
        from media import Audio

        draft = artifacts.Artifact("m", "dataset")
        draft.spill_at = 0

        def save():
            art = artifacts.open_store({str(tmp_path / "s")!r}).commit(draft)
            print("saved", len(art.value_names()), art.verify() == [])

        atexit.register(save)
        for i in range(4):
            draft.add(Audio(np.full(3000, i, np.float32), 8000), f"clip{{i}}")
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "saved 4 True"
    assert done.stderr == ""


@pytest.mark.parametrize("bad", ["1MB", -1, 1.5, 1000.0, True])
def test_spill_at_must_be_bytes(bad):
    draft = Artifact("m", "dataset")
    draft.spill_at = bad
    with pytest.raises(ValueError, match="Invalid spill_at"):
        draft.add(clip(0, n=3000), "a")
    assert len(draft) == 0


def test_spill_at_takes_any_integer():
    draft = Artifact("m", "dataset")
    draft.spill_at = np.int64(10 * KB)
    for i in range(4):
        draft.add(clip(i, n=3000), f"clip{i}")
    assert len(spooled(draft)) == 3


def test_a_fork_while_the_spool_is_busy(tmp_path):
    """A child forked while another thread writes to the spool (its lock held) can spool."""
    import signal
    import time

    draft = Artifact("m", "dataset")
    draft.spill_at = 0
    draft.add(clip(0, n=3000), "a")
    draft.add(clip(1, n=3000), "b")
    draft._spool.lock.acquire()  # as if a thread of the parent were inside put()
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                draft.add(clip(2, n=3000), "c")
                draft.add(clip(3, n=3000), "d")
                art = artifacts.open_store(str(tmp_path / "child")).commit(draft)
                code = 0 if art.verify(raise_on_error=False) == [] else 2
            finally:
                os._exit(code)
    finally:
        draft._spool.lock.release()
    deadline = time.monotonic() + 60
    while (done := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
    if done == (0, 0):
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child hung on the spool's lock")
    assert os.waitstatus_to_exitcode(done[1]) == 0
