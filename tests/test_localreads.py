"""Reads from a local store: pack files kept open between ranged reads (and opened again when
the name leads to another file), and dataset rows that hand their buffers out once."""

from __future__ import annotations

import os

import numpy as np
import pytest
from test_blake3 import clip, commit_clips, files_of

import artifacts
from artifacts import Artifact
from media import IntegrityError, Table


def test_a_dataset_row_hands_its_buffer_out_once(store):
    table = Table(columns=["audio", "label"])
    for i in range(6):
        table.add_data(clip(i), i)
    draft = Artifact("ds", "dataset")
    draft.add(table, "train")
    v = store.commit(draft)
    ds = v.dataset("train")
    plan = ds.batches(3, seed=0)
    for rows in ds.iter_batches(plan, prefetch=1, workers=2):
        for r in rows:
            first = r["audio"].numpy()
            first[:] = 0  # the caller's own array
            again = r["audio"].numpy()  # read again (checked again), not the changed buffer
            assert np.array_equal(again, clip(r["label"]).numpy())


def test_local_reads_keep_few_files_open_and_follow_a_replaced_pack(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"), pack_min=2)
    versions = [commit_clips(store, n=3, name=f"a{k}", first=3 * k) for k in range(40)]
    before = len(os.listdir("/proc/self/fd"))
    fresh = artifacts.open_store(store.url)
    for v in versions:
        for path in files_of(v):
            fresh.artifact(v.qualified_name).read_bytes(path)
    assert len(os.listdir("/proc/self/fd")) - before <= fresh.backend.OPEN_KEPT
    # a pack mended by a rename (a new file) after it was opened is read anew
    v = versions[0]
    path, e = next((p, e) for p, e in files_of(v).items() if "pack" in e)
    art = fresh.artifact(v.qualified_name)
    good = art.read_bytes(path)
    full = fresh.backend.local_path(f"packs/{e['pack']}")
    with open(full, "rb") as f:
        pack = f.read()
    damaged = bytearray(pack)
    damaged[e["offset"] + 10] ^= 0xFF
    os.chmod(full, 0o644)
    with open(full, "r+b") as f:  # damaged in place: the kept file sees it
        f.write(damaged)
    with pytest.raises(IntegrityError, match="BLAKE3"):
        art.read_bytes(path)
    with open(full + ".new", "wb") as f:
        f.write(pack)
    os.replace(full + ".new", full)  # mended by a rename, as a commit mends it
    assert art.read_bytes(path) == good
    # a link planted where the pack was is refused, not followed
    os.replace(full, full + ".moved")
    os.symlink(full + ".moved", full)
    with pytest.raises(IntegrityError, match="link"):
        art.read_bytes(path)


def test_mapped_members_are_the_callers_own(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"))
    v = commit_clips(store, n=20, first=700)
    path = next(p for p, e in files_of(v).items() if "pack" in e and p.endswith(".wav"))
    name = next(
        n for n in v.value_names() if n.startswith("c") and v.get(n).source_file()[1] == path
    )
    first = v.get(name).numpy()
    again = v.get(name).numpy()
    assert first.flags.writeable and np.array_equal(first, again)
    first[:] = 1  # changes this array only: not the other, not the pack, not a later read
    assert not np.array_equal(first, again)
    assert np.array_equal(v.get(name).numpy(), again)
    assert np.array_equal(
        artifacts.open_store(store.url).artifact(v.qualified_name).get(name).numpy(), again
    )
    v.verify()
    # rows of a batch read of many members (one mapping for a pack's members) too
    table = Table(columns=["audio", "label"])
    for i in range(20):
        table.add_data(clip(700 + i), i)
    draft = Artifact("ds", "dataset")
    draft.add(table, "train")
    ds = store.commit(draft).dataset("train")
    arrays = [r["audio"].numpy() for rows in ds.iter_batches(ds.batches(20)) for r in rows]
    for a in arrays:
        a[:] = 0
    for rows in ds.iter_batches(ds.batches(20)):
        for r in rows:
            assert np.array_equal(r["audio"].numpy(), clip(700 + r["label"]).numpy())


def test_a_file_system_that_cannot_map_files_is_read_by_copies(tmp_path, monkeypatch):
    import mmap

    store = artifacts.open_store(str(tmp_path / "s"))
    v = commit_clips(store, n=20, first=800)

    def refuse(*args, **kwargs):
        raise OSError(19, "No such device")  # what mmap says where a file cannot be mapped

    monkeypatch.setattr(mmap, "mmap", refuse)
    fresh = artifacts.open_store(store.url).artifact(v.qualified_name)
    for i in range(800, 820):
        assert np.array_equal(fresh.get(f"c{i}").numpy(), clip(i).numpy())


@pytest.mark.parametrize("which", ["first", "last"])
def test_a_damaged_member_is_caught_in_either_half_of_a_checked_read(tmp_path, which):
    # a read of 8 or more members is checked on two threads, half each: damage in either
    # half fails that member alone, in a loop of gets and in a batched read
    from test_store import Raw

    store = artifacts.open_store(str(tmp_path / "s"))
    v = commit_clips(store, n=20, first=1000)
    wavs = sorted(
        ((e["offset"], p) for p, e in files_of(v).items() if p.endswith(".wav")),
    )
    offset, bad = wavs[0] if which == "first" else wavs[-1]
    e = v.manifest.entries[bad]
    Raw(store.url).flip_byte(f"packs/{e['pack']}", offset + 100)
    fresh = artifacts.open_store(store.url).artifact(v.qualified_name)
    names = [f"c{i}" for i in range(1000, 1020)]
    failed = []
    for name in names:
        try:
            fresh.get(name).numpy()
        except IntegrityError as exc:
            assert "BLAKE3" in str(exc) and bad in str(exc)
            failed.append(name)
    assert len(failed) == 1
    got = fresh.read_many([(p, None, None) for _, p in wavs if p != bad])
    assert len(got) == len(wavs) - 1
    with pytest.raises(IntegrityError, match="BLAKE3"):
        fresh.read_many([(p, None, None) for _, p in wavs])


def _damaged_members(seed: int, bad: int):
    """20 members of 4096 bytes with their BLAKE3 digests; member ``bad`` damaged after."""
    from artifacts.odb import batch
    from artifacts.odb.chunks import file_digest

    rng = np.random.default_rng(seed)
    own = [bytearray(rng.bytes(4096)) for _ in range(20)]
    ms = tuple(
        batch.Member("p" * 64, 4096 * i, 4096, "0" * 64, f"m{i}", file_digest(b))
        for i, b in enumerate(own)
    )
    own[bad][7] ^= 1
    return ms, own


def _check_on_a_thread(ms, own, release):
    """``batch._check_all`` of a local read, made on a thread of its own (a hang fails the
    test after 30 s instead of holding it); ``release()`` runs after, whatever happens."""
    import concurrent.futures

    from artifacts.odb import batch

    caller = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return caller.submit(batch._check_all, ms, own, 4096 * 20, True).result(timeout=30)
    finally:
        release()
        caller.shutdown()


def test_a_busy_helper_does_not_hold_up_a_checked_read():
    # the second thread of a local read only helps: when it cannot start (its thread is busy)
    # the caller checks every member itself, each once, damage still caught
    import threading

    from artifacts.odb import batch

    ms, own = _damaged_members(0, bad=13)
    gate = threading.Event()
    blocker = batch._hasher().submit(gate.wait)

    def release():
        gate.set()
        blocker.result()

    good = _check_on_a_thread(ms, own, release)
    assert good == [i != 13 for i in range(20)]


def test_members_that_overlap_are_each_the_callers_own(tmp_path):
    # a forged manifest whose two entries share bytes of a pack (each digest right for its
    # range): a loop reads both in one go, and each array is still the caller's alone
    import hashlib

    from integrity_helpers import read_manifest, write_manifest

    from artifacts.odb.chunks import file_digest

    store = artifacts.open_store(str(tmp_path / "s"))
    v = commit_clips(store, n=20)
    wavs = sorted((e["offset"], p) for p, e in files_of(v).items() if p.endswith(".wav"))
    m = read_manifest(store, "clips", "v0")
    a = m["entries"][wavs[3][1]]
    with open(os.path.join(store.url, "packs", a["pack"]), "rb") as f:
        f.seek(a["offset"] + a["size"] // 2)
        shared = f.read(a["size"])  # the second half of a and the first half of the next
    b_path = "shared.bin"
    m["entries"][b_path] = {
        "size": len(shared),
        "digest": hashlib.sha256(shared).hexdigest(),
        "blake3": file_digest(shared),
        "pack": a["pack"],
        "offset": a["offset"] + a["size"] // 2,
    }
    write_manifest(store, "clips", "v0", m)
    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    names = [p for _, p in wavs]
    got = {}
    for p in names[:6] + [b_path]:
        got[p] = fresh.read_media(p)
    memoryview(got[wavs[3][1]])[-1] ^= 0xFF  # a's last byte is also one of the shared bytes
    assert bytes(got[b_path]) == shared
    assert fresh.verify() == []


def test_a_checked_read_does_not_wait_for_a_helper_that_stalls(monkeypatch):
    # the helper thread holds a member but gets no core (here: it blocks): the caller checks
    # that member itself and returns, every member checked, the damaged one refused
    import threading

    from artifacts.odb import batch

    ms, own = _damaged_members(1, bad=5)
    gate, holds = threading.Event(), threading.Event()
    real = batch.digest_matches

    def stalling(data, sha256, b3):
        if threading.current_thread().name.startswith("read-check"):
            holds.set()  # the helper has taken a member...
            gate.wait(60)  # ...and gets no further
        else:
            holds.wait(10)  # (the caller goes on once the helper holds one)
        return real(data, sha256, b3)

    monkeypatch.setattr(batch, "digest_matches", stalling)
    good = _check_on_a_thread(ms, own, gate.set)
    assert good == [i != 5 for i in range(20)]
