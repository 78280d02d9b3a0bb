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
    os.ftruncate(draft._spool._file.fileno(), 100)
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
