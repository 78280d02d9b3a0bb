"""The batched read path: pack members read in coalesced ranged reads, several at a time,
read ahead of a loop, every byte checked (local, memory://, s3://, az://)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from test_packs import commit_clips, packs_of
from test_store import Raw, clip

import artifacts
from artifacts import IntegrityError
from artifacts.manifest import pack_path
from artifacts.odb import batch
from artifacts.odb.batch import Member, coalesce
from media import Table


class Ranges:
    """Counts the ranged reads (and local mappings) of a store object's backend (and their
    sizes)."""

    def __init__(self, monkeypatch, store):
        self.calls: list[tuple[str, int, int]] = []
        self.lock = threading.Lock()
        real = store.backend.read_range
        real_into = store.backend.read_into
        self.local = threading.local()  # read_into's default calls read_range: counted once

        def counted(path, offset, size):
            if not getattr(self.local, "inner", False):
                with self.lock:
                    self.calls.append((path, offset, size))
            return real(path, offset, size)

        def counted_into(path, offset, buffers):
            with self.lock:
                self.calls.append((path, offset, sum(len(b) for b in buffers)))
            self.local.inner = True
            try:
                return real_into(path, offset, buffers)
            finally:
                self.local.inner = False

        real_map = store.backend.map_range

        def counted_map(path, offset, size):  # (a local disk maps instead of reading)
            got = real_map(path, offset, size)
            if got is not None:
                with self.lock:
                    self.calls.append((path, offset, size))
            return got

        monkeypatch.setattr(store.backend, "read_range", counted)
        monkeypatch.setattr(store.backend, "read_into", counted_into)
        monkeypatch.setattr(store.backend, "map_range", counted_map)


def fresh(store, ref="clips:v0"):
    s = artifacts.open_store(store.url)
    return s, s.artifact(ref)


def test_a_loop_of_gets_reads_the_pack_in_a_few_ranged_reads(store, monkeypatch):
    commit_clips(store, "clips", range(60))
    s, v = fresh(store)
    ranges = Ranges(monkeypatch, s)
    for i in range(60):
        assert np.array_equal(v.get(f"clip{i}").numpy(), clip(i).numpy())
    # one request per clip before; now the loop's first read starts spans ahead of it
    assert 1 <= len(ranges.calls) <= 3, ranges.calls


def test_a_lone_read_reads_only_its_member(store, monkeypatch):
    commit_clips(store, "clips", range(30))
    s, v = fresh(store)
    ranges = Ranges(monkeypatch, s)
    assert np.array_equal(v.get("clip17").numpy(), clip(17).numpy())
    (call,) = ranges.calls
    assert call[2] == clip(17).size  # random access is not read ahead


def test_a_returned_array_is_the_callers_own(store):
    commit_clips(store, "clips", range(10))
    _, v = fresh(store)
    a = v.get("clip0").numpy()
    a[:] = 0  # writable, and changing it changes nothing stored or cached
    assert np.array_equal(v.get("clip0").numpy(), clip(0).numpy())
    assert v.verify() == []


def test_read_media_hands_out_checked_bytes_of_the_callers_own(store):
    commit_clips(store, "clips", range(20))
    _, v = fresh(store)
    media = v.get("clip4").source_file()[1]
    e = v.manifest.entries[media]
    data = v.read_media(media, e["digest"], e["size"])
    assert bytes(data) == clip(4).in_memory_bytes() and not isinstance(data, bytes)
    memoryview(data)[100] ^= 0xFF  # the caller's own: a second read is the stored bytes
    assert bytes(v.read_media(media)) == clip(4).in_memory_bytes()
    with pytest.raises(IntegrityError, match=r"the value's JSON says sha256 0{64}"):
        v.read_media(media, "0" * 64, e["size"])
    with pytest.raises(IntegrityError, match=r"the value's JSON says 5 bytes"):
        v.read_media(media, None, 5)
    with pytest.raises(ValueError, match="commit the draft first"):
        artifacts.Artifact("x", "dataset").read_media(media)


def test_a_damaged_member_fails_alone_in_a_loop(store, monkeypatch):
    commit_clips(store, "clips", range(20))
    raw = Raw(store.url)
    (pid,) = packs_of(raw)
    v = store.artifact("clips:v0")
    e = v.entries[f"media/audio/{clip(5).sha256[:20]}.wav"]
    raw.flip_byte(pack_path(pid), e.offset + 60)
    _, v = fresh(store)
    for i in range(20):
        if i == 5:
            with pytest.raises(IntegrityError, match="clips:v0/media/audio/.*do(es)? not match"):
                v.get(f"clip{i}").numpy()
        else:
            assert np.array_equal(v.get(f"clip{i}").numpy(), clip(i).numpy())
    problems = v.verify(raise_on_error=False)
    assert len(problems) == 1 and e.path in problems[0]


def test_verify_and_download_read_packs_in_few_requests(store, monkeypatch, tmp_path):
    commit_clips(store, "clips", range(50))
    s, v = fresh(store)
    ranges = Ranges(monkeypatch, s)
    assert v.verify() == []
    assert 1 <= len(ranges.calls) <= 2, ranges.calls
    ranges.calls.clear()
    root = v.download(tmp_path / "out")
    assert 1 <= len(ranges.calls) <= 2, ranges.calls
    for i in range(50):
        c = clip(i)
        with open(f"{root}/media/audio/{c.sha256[:20]}.wav", "rb") as f:
            assert f.read() == c.in_memory_bytes()


def test_read_many_is_checked_and_coalesced(store, monkeypatch):
    commit_clips(store, "clips", range(40))
    s, v = fresh(store)
    ranges = Ranges(monkeypatch, s)
    files = {
        i: (f"media/audio/{clip(i).sha256[:20]}.wav", clip(i).sha256, clip(i).size)
        for i in (30, 2, 17)
    }
    got = v.read_many([files[30], files[2], files[17], files[2]])
    assert len(ranges.calls) == 1  # three members of one pack: one ranged read
    assert {k: got[k] for k in files.values()} == {
        files[i]: clip(i).in_memory_bytes() for i in files
    }
    with pytest.raises(IntegrityError, match="the value's JSON says sha256"):
        v.read_many([(files[2][0], "0" * 64, files[2][2])])


def test_a_table_loop_and_the_dataset_view_read_few_ranges(store, monkeypatch):
    t = Table(columns=["clip", "label"])
    for i in range(40):
        t.add_data(clip(i), i)
    draft = artifacts.Artifact("tab", "dataset")
    draft.add(t, "train")
    store.commit(draft)
    s, v = fresh(store, "tab:v0")
    ranges = Ranges(monkeypatch, s)
    for i, row in enumerate(v.get("train")):
        assert np.array_equal(row[0].numpy(), clip(i).numpy())
    assert 1 <= len(ranges.calls) <= 3, ranges.calls
    ranges.calls.clear()
    ds = v.dataset("train")
    n = 0
    for rows in ds.iter_batches(ds.batches(8, seed=1), prefetch=2, workers=2):
        for r in rows:
            assert np.array_equal(r["clip"].numpy(), clip(r["label"]).numpy())
            n += 1
    assert n == 40
    assert len(ranges.calls) <= 5, ranges.calls  # one per batch, not one per clip


def test_read_ahead_holds_at_most_its_window(store, monkeypatch):
    monkeypatch.setattr(batch, "WINDOW", 4 * clip(0).size)
    monkeypatch.setattr(batch, "LOCAL_WINDOW", 4 * clip(0).size)
    commit_clips(store, "clips", range(30))
    s, v = fresh(store)
    ranges = Ranges(monkeypatch, s)
    for i in range(30):
        v.get(f"clip{i}").numpy()
        assert v._ahead._bytes <= 2 * max(batch.WINDOW, batch.LOCAL_WINDOW)
    assert 3 <= len(ranges.calls) <= 30


def test_coalesce_joins_neighbours_within_the_gap_and_the_span():
    ms = [Member("p", o, 10, "d", "n") for o in (0, 10, 30, 1000)]
    spans = coalesce(ms, gap=20, span=100)
    assert [(s.start, s.end, len(s.members)) for s in spans] == [(0, 40, 3), (1000, 1010, 1)]
    spans = coalesce(ms, gap=20, span=25)
    assert [(s.start, s.end) for s in spans] == [(0, 20), (30, 40), (1000, 1010)]
    two = coalesce([Member("a", 0, 5, "d", ""), Member("b", 5, 5, "d", "")])
    assert sorted(s.pack for s in two) == ["a", "b"]


def test_an_owned_buffer_hands_its_bytes_once():
    from media.buffers import OwnedBuffer

    f = OwnedBuffer(bytearray(b"abcdef"))
    assert f.read(2) == b"ab" and f.seek(0) == 0 and f.getvalue() == b"abcdef"
    buf = f.take()
    buf[0] = ord("z")  # the taker's own: nothing can read it through the stream any more
    assert f.closed
    with pytest.raises(ValueError):
        f.read()


def test_a_loaded_clip_is_built_on_the_read_buffer(store):
    commit_clips(store, "clips", range(30))
    _, v = fresh(store)
    a = v.get("clip3").numpy()
    owner = a
    while owner.base is not None and isinstance(owner.base, np.ndarray):
        owner = owner.base
    # the samples sit in the buffer the pack was read into: no copy of them was made
    base = owner.base.obj if isinstance(owner.base, memoryview) else owner.base
    assert isinstance(base, bytearray) and a.flags.writeable


@pytest.mark.s3
def test_a_large_file_goes_to_s3_in_bounded_parts(s3_bucket, tmp_path, monkeypatch):
    from artifacts.backends import fsspec as fsspec_backend

    # s3fs's own defaults put up to 10 parts of 50 MiB in memory at once (1 GB of RSS for
    # a 512 MiB file); our part size shows in the object's multipart ETag ("...-N")
    monkeypatch.setattr(fsspec_backend, "PART_BYTES", 5 << 20)
    data = np.random.default_rng(1).integers(0, 255, 11 << 20, dtype=np.uint8).tobytes()
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    store = artifacts.open_store(f"{s3_bucket}/p")
    draft = artifacts.Artifact("big", "dataset")
    draft.add_file(str(path), "big.bin")
    v = store.commit(draft)
    e = v.entries["big.bin"]
    raw = Raw(store.url)
    info = raw.fs.info(f"{raw.root}/blobs/sha256/{e.digest[:2]}/{e.digest[2:]}")
    assert str(info["ETag"]).strip('"').endswith("-3")  # 5 + 5 + 1 MiB
    assert artifacts.open_store(store.url).artifact("big:v0").read_bytes("big.bin") == data


# -- the local cache of read bytes ----------------------------------------------------------------
def test_a_cache_serves_a_second_epoch_without_the_store(store, tmp_path, monkeypatch):
    commit_clips(store, "clips", range(30))
    draft = artifacts.Artifact("one", "dataset")
    draft.add(clip(99, n=2000), "big")  # a lone file: a blob, not a pack member
    store.commit(draft)
    folder = tmp_path / "cache"
    s = artifacts.open_store(store.url, cache=folder, cache_size=10 << 20)
    v, one = s.artifact("clips:v0"), s.artifact("one:v0")
    first = [v.get(f"clip{i}").numpy() for i in range(30)] + [one.get("big").numpy()]
    assert sum(1 for p in folder.rglob("*") if p.is_file()) == 31
    ranges = Ranges(monkeypatch, s)
    monkeypatch.setattr(s.backend, "open", None)  # a blob read now would fail
    monkeypatch.setattr(s.backend, "read", None)
    v2, one2 = s.artifact("clips:v0"), s.artifact("one:v0")
    again = [v2.get(f"clip{i}").numpy() for i in range(30)] + [one2.get("big").numpy()]
    assert ranges.calls == []  # every byte came from the cache, checked
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_a_damaged_cache_file_is_read_again_from_the_store(store, tmp_path):
    commit_clips(store, "clips", range(20))
    folder = tmp_path / "cache"
    s = artifacts.open_store(store.url, cache=folder)
    s.artifact("clips:v0").get("clip4").numpy()
    c = clip(4)
    cached = folder / c.sha256[:2] / c.sha256
    data = bytearray(cached.read_bytes())
    data[60] ^= 0xFF
    cached.write_bytes(bytes(data))
    got = artifacts.open_store(store.url, cache=folder).artifact("clips:v0").get("clip4")
    assert np.array_equal(got.numpy(), c.numpy())
    assert cached.read_bytes() == c.in_memory_bytes()  # replaced by the store's bytes


def test_a_cache_keeps_its_budget_least_recently_used_out(store, tmp_path):
    commit_clips(store, "clips", range(20))
    size = clip(0).size
    folder = tmp_path / "cache"
    s = artifacts.open_store(store.url, cache=folder, cache_size=5 * size)
    v = s.artifact("clips:v0")
    for i in range(20):
        v.get(f"clip{i}").numpy()
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 5 * size
    assert {p.name for p in files} >= {clip(19).sha256}  # the newest stay


def test_verify_reads_the_store_not_the_cache(store, tmp_path):
    commit_clips(store, "clips", range(20))
    folder = tmp_path / "cache"
    s = artifacts.open_store(store.url, cache=folder)
    v = s.artifact("clips:v0")
    [v.get(f"clip{i}").numpy() for i in range(20)]
    raw = Raw(store.url)
    (pid,) = packs_of(raw)
    e = v.entries[f"media/audio/{clip(5).sha256[:20]}.wav"]
    raw.flip_byte(pack_path(pid), e.offset + 60)
    problems = artifacts.open_store(store.url, cache=folder).artifact("clips:v0").verify(False)
    assert len(problems) == 1 and e.path in problems[0]


def test_a_cache_inside_a_local_store_is_refused(tmp_path):
    with pytest.raises(ValueError, match="inside the store"):
        artifacts.open_store(tmp_path / "store", cache=tmp_path / "store" / "cache")
    with pytest.raises(ValueError, match="Invalid cache_size"):
        artifacts.open_store(tmp_path / "store", cache=tmp_path / "c", cache_size=-1)


@pytest.mark.parametrize(
    "text",
    ['{"a":1}', '{"a":1} ', '{"a":1}\n', '{"a":1}x', '{"a":', '{"a":NaN}', "{}{}"]
    + ['{"a":"\\ud800"}'],
)
def test_a_value_json_is_parsed_as_json_loads_parses_it(text):
    # (get() parses the usual one-object text with json's scanner, anything else as before)
    import json

    from artifacts.version import _loads

    def outcome(parse):
        try:
            return "ok", repr(parse(text))
        except ValueError as exc:
            return type(exc).__name__, str(exc)

    assert outcome(_loads) == outcome(json.loads)
