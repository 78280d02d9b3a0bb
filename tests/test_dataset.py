"""version.dataset(name): rows by index, batch plans (count and duration), resuming, reading
ahead; on every backend."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import artifacts
from artifacts import Artifact
from artifacts.dataset import Batches, Dataset
from media import Audio, Table

RATE = 1000


def clip(i: int, frames: int) -> Audio:
    return Audio(np.arange(frames, dtype=np.int16) + i, RATE)


def lengths(n: int) -> list[int]:
    return [100 + (i * 37) % 900 for i in range(n)]  # 0.1 .. 1.0 s


def make_version(store, n: int = 40, name: str = "speech"):
    t = Table(columns=["clip", "label", "seconds"])
    for i, frames in enumerate(lengths(n)):
        t.add_data(clip(i, frames), f"w{i % 3}", frames / RATE)
    draft = Artifact(name, "dataset")
    draft.add(t, "train")
    draft.add(clip(999, 10), "lonely")
    return store.commit(draft)


class Counter:
    """Counts the media files a committed version opens (its public reading methods)."""

    def __init__(self, monkeypatch, art):
        self.paths: list[str] = []
        self.lock = threading.Lock()
        for method in ("open_media", "read_media", "read_bytes"):
            real = getattr(art, method)

            def counted(path, *args, _real=real, **kwargs):
                with self.lock:
                    self.paths.append(path)
                return _real(path, *args, **kwargs)

            monkeypatch.setattr(art, method, counted)
        real_many = art.read_many

        def counted_many(files):
            files = list(files)
            with self.lock:
                self.paths.extend(path for path, _, _ in files)
            return real_many(files)

        monkeypatch.setattr(art, "read_many", counted_many)


def test_rows_by_index(store):
    v = make_version(store)
    ds = v.dataset("train")
    assert isinstance(ds, Dataset) and len(ds) == 40
    assert ds.columns == ["clip", "label", "seconds"]
    row = ds[3]
    assert set(row) == {"clip", "label", "seconds"} and row["label"] == "w0"
    assert isinstance(row["clip"], Audio)
    np.testing.assert_array_equal(row["clip"].numpy(), clip(3, lengths(40)[3]).numpy())
    assert ds[-1]["label"] == ds[39]["label"] and ds[np.int64(2)]["label"] == "w2"
    # the sequence protocol (what a map-style DataLoader and list() use)
    assert [r["label"] for r in ds][:4] == ["w0", "w1", "w2", "w0"]
    assert [r["label"] for r in ds.__getitems__([5, 1])] == ["w2", "w1"]
    with pytest.raises(IndexError, match="row 40 is out of range: train has 40 rows"):
        ds[40]
    with pytest.raises(TypeError, match="Invalid row index 'a': expected an int"):
        ds["a"]


def test_cells_are_lazy(store, monkeypatch):
    v = make_version(store, n=5)
    counter = Counter(monkeypatch, v)
    ds = v.dataset("train")
    before = list(counter.paths)
    row = ds[2]
    assert counter.paths == before  # a row reads no audio
    row["clip"].numpy()
    assert len(counter.paths) == len(before) + 1


def test_bad_names(store):
    v = make_version(store, n=3)
    with pytest.raises(ValueError, match=r"no table named 'nope' in speech:v0; tables: train"):
        v.dataset("nope")
    with pytest.raises(ValueError, match="lonely is a value of type Audio, not a Table"):
        v.dataset("lonely")
    with pytest.raises(ValueError, match="needs a committed version"):
        Artifact("x", "dataset").dataset("train")


# -- count mode -------------------------------------------------------------------------------
def test_batches_fixed_by_digest_seed_epoch(store, tmp_path):
    v = make_version(store)
    ds = v.dataset("train")
    plan = list(ds.batches(8, seed=1, epoch=0))
    assert all(len(b) == 8 for b in plan) and sorted(sum(plan, [])) == list(range(40))
    assert plan == list(ds.batches(8, seed=1, epoch=0))
    assert plan != list(ds.batches(8, seed=1, epoch=1))
    assert plan != list(ds.batches(8, seed=2, epoch=0))
    assert list(ds.batches(8, shuffle=False)) == [list(range(i, i + 8)) for i in range(0, 40, 8)]
    # the same content in another store: the same digest, the same plan
    other = artifacts.open_store(str(tmp_path / "other"))
    w = make_version(other)
    assert w.digest == v.digest
    assert list(w.dataset("train").batches(8, seed=1)) == plan
    # another version (one row more): another digest, another order
    x = make_version(other, n=41)
    assert x.digest != v.digest
    assert list(x.dataset("train").batches(8, seed=1))[:2] != plan[:2]


@pytest.mark.parametrize("world_size", [1, 2, 3, 7])
@pytest.mark.parametrize("mode", ["count", "duration"])
def test_ranks_are_disjoint_and_cover_every_row(store, world_size, mode):
    ds = make_version(store, n=37).dataset("train")
    kwargs = {"batch_size": 5} if mode == "count" else {"max_duration": 2.0}
    seen: list[int] = []
    counts = []
    for rank in range(world_size):
        plan = ds.batches(**kwargs, seed=3, epoch=2, rank=rank, world_size=world_size)
        batches = list(plan)
        counts.append(len(batches))
        assert len(plan) == len(batches)
        for b in batches:
            seen.extend(b)
    assert sorted(seen) == list(range(37))  # once each
    assert max(counts) - min(counts) <= 1


def test_batch_errors(store):
    ds = make_version(store, n=4).dataset("train")
    with pytest.raises(ValueError, match="needs a batching mode: batch_size=N .* or max_duration"):
        ds.batches()
    with pytest.raises(ValueError, match="Invalid batch_size 0: it must be at least 1"):
        ds.batches(0)
    with pytest.raises(TypeError, match="Invalid batch_size 2.5: expected an int"):
        ds.batches(2.5)
    with pytest.raises(ValueError, match="Invalid rank 2: ranks are 0..1"):
        ds.batches(2, rank=2, world_size=2)
    with pytest.raises(ValueError, match="Invalid max_duration -1: give a positive number"):
        ds.batches(max_duration=-1)
    with pytest.raises(ValueError, match="no column 'nope' in train; columns: "):
        ds.batches(max_duration=1, duration_column="nope")
    with pytest.raises(ValueError, match="duration_column= is used with max_duration="):
        ds.batches(2, duration_column="clip")
    with pytest.raises(ValueError, match="row 0, column 'label' has no duration"):
        ds.batches(max_duration=1, duration_column="label")


# -- duration mode ----------------------------------------------------------------------------
def test_duration_batches_from_stored_json_only(store, monkeypatch):
    v = make_version(store, n=60)
    ds = v.dataset("train")
    counter = Counter(monkeypatch, v)
    plan = list(ds.batches(max_duration=3.0, seed=5))
    assert counter.paths == []  # the epoch was planned without opening a file
    durations = np.array(lengths(60)) / RATE
    np.testing.assert_allclose(ds.durations(), durations)
    np.testing.assert_allclose(ds.durations("seconds"), durations)
    assert sorted(sum(plan, [])) == list(range(60))
    for b in plan:
        assert len(b) == 1 or durations[b].sum() <= 3.0 + 1e-9
    # similar durations together: the spread inside batches is far below the overall spread
    spread = np.mean([np.ptp(durations[b]) for b in plan if len(b) > 1])
    assert spread < 0.35 * np.ptp(durations)
    # a cap on rows, and the same plan from a numeric column of seconds
    assert max(len(b) for b in ds.batches(max_duration=3.0, batch_size=2)) == 2
    assert list(ds.batches(max_duration=3.0, seed=5, duration_column="seconds")) == plan
    # a row longer than max_duration is a batch of its own
    assert all(len(b) == 1 for b in ds.batches(max_duration=0.05))


def test_durations_missing_from_json(store, tmp_path):
    # a table as the wandb client writes it: audio JSON without frames, sample_rate, duration
    import hashlib
    import json

    import soundfile

    wav = tmp_path / "a.wav"
    soundfile.write(wav, np.zeros(100, dtype=np.int16), RATE, subtype="PCM_16")
    data = wav.read_bytes()
    cell = {
        "_type": "audio-file",
        "path": "media/audio/a.wav",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    draft = Artifact("w", "dataset")
    draft.add_file(wav, "media/audio/a.wav")
    with draft.new_file("train.table.json") as f:
        json.dump({"_type": "table", "columns": ["clip"], "data": [[cell]]}, f)
    ds = store.commit(draft).dataset("train")
    assert ds[0]["clip"].duration == 0.1  # read from the file's header, when asked
    with pytest.raises(ValueError, match="row 0, column 'clip' has no duration in its stored"):
        ds.batches(max_duration=1.0)


# -- resuming ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{"batch_size": 3}, {"max_duration": 2.5}])
def test_state_restores_the_exact_next_batch(store, kwargs):
    v = make_version(store, n=30)
    plan = v.dataset("train").batches(**kwargs, seed=9, epoch=4, rank=1, world_size=2)
    full = list(v.dataset("train").batches(**kwargs, seed=9, epoch=4, rank=1, world_size=2))
    got = []
    for b in plan:
        got.append(b)
        if len(got) == 3:
            state = plan.state_dict()
            break
    assert state["position"] == 3
    again = store.artifact("speech:v0").dataset("train")  # a new process would do this
    resumed = again.resume(state)
    assert isinstance(resumed, Batches)
    assert got + list(resumed) == full
    # a plan made with the same arguments can load it too; iterating goes on from there
    other = again.batches(**kwargs, seed=9, epoch=4, rank=1, world_size=2)
    other.load_state_dict(state)
    assert list(other) == full[3:]
    with pytest.raises(ValueError, match="it differs in epoch"):
        again.batches(**kwargs, seed=9, epoch=5, rank=1, world_size=2).load_state_dict(state)
    with pytest.raises(ValueError, match="saved for another version"):
        make_version(store, n=31).dataset("train").resume(state)
    with pytest.raises(ValueError, match="Invalid state"):
        again.resume({"position": 1})


# -- reading ahead ----------------------------------------------------------------------------
def test_iter_batches_reads_ahead_and_checks(store, monkeypatch):
    v = make_version(store, n=24)
    ds = v.dataset("train")
    plan = ds.batches(4, seed=2)
    order = list(ds.batches(4, seed=2))
    counter = Counter(monkeypatch, v)
    reader = ds.iter_batches(plan, prefetch=2, workers=4)
    first = next(reader)
    assert [r["label"] for r in first] == [f"w{i % 3}" for i in order[0]]
    assert plan.state_dict()["position"] == 1
    # batches 1 and 2 are being read while the caller holds batch 0
    wanted = {ds._rows[i][0]["path"] for b in order[1:3] for i in b}
    deadline = time.monotonic() + 10
    while not wanted <= set(counter.paths) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert wanted <= set(counter.paths)
    n_read = len(counter.paths)
    for row, i in zip(first, order[0]):
        np.testing.assert_array_equal(row["clip"].numpy(), clip(i, lengths(24)[i]).numpy())
    assert len(counter.paths) == n_read  # the samples came from what was read ahead
    rest = list(reader)
    assert [[r["label"] for r in b] for b in rest] == [[f"w{i % 3}" for i in b] for b in order[1:]]
    assert plan.state_dict()["position"] == len(order)


def test_iter_batches_damaged_file(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"), pack_min=None)
    v = make_version(store, n=6)
    ds = v.dataset("train")
    victim = ds._rows[4][0]["sha256"]
    blob = tmp_path / "s" / "blobs" / "sha256" / victim[:2] / victim[2:]
    assert blob.exists()
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    with pytest.raises(artifacts.IntegrityError):
        for _ in ds.iter_batches(ds.batches(2, shuffle=False)):
            pass


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_iter_batches_reads_exactly_prefetch_batches_ahead(tmp_path, monkeypatch, prefetch):
    v = make_version(artifacts.open_store(str(tmp_path / "s")), n=30)
    ds = v.dataset("train")
    order = list(ds.batches(3, seed=1))
    counter = Counter(monkeypatch, v)
    reader = ds.iter_batches(ds.batches(3, seed=1), prefetch=prefetch, workers=2)
    path_of = {i: ds._rows[i][0]["path"] for i in range(30)}
    for k in range(4):
        next(reader)
        wanted = {path_of[i] for b in order[: k + 1 + prefetch] for i in b}
        deadline = time.monotonic() + 10
        while not wanted <= set(counter.paths) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # nothing more arrives: batches beyond are not asked for yet
        assert set(counter.paths) == wanted
    reader.close()


@pytest.fixture(scope="module")
def sized_datasets():
    """Datasets of 0, 1, 5 and 33 rows in one memory:// store (made once for the module)."""
    import uuid

    store = artifacts.open_store(f"memory://sized-{uuid.uuid4().hex}")
    out = {}
    for n in (0, 1, 5, 33):
        out[n] = make_version(store, n=n, name=f"n{n}").dataset("train")
    return out


@given(
    n=st.sampled_from([0, 1, 5, 33]),
    batch_size=st.integers(1, 40),
    world_size=st.integers(1, 6),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 1000),
    max_duration=st.one_of(st.none(), st.floats(0.05, 20)),
    shuffle=st.booleans(),
    buckets=st.integers(1, 12),
)
def test_every_plan_is_a_partition(
    sized_datasets, n, batch_size, world_size, seed, epoch, max_duration, shuffle, buckets
):
    ds = sized_datasets[n]
    kwargs = dict(seed=seed, epoch=epoch, shuffle=shuffle, world_size=world_size)
    if max_duration is None:
        kwargs["batch_size"] = batch_size
    else:
        kwargs.update(max_duration=max_duration, duration_column="seconds", buckets=buckets)
    plans = [list(ds.batches(**kwargs, rank=r)) for r in range(world_size)]
    rows = [i for plan in plans for batch in plan for i in batch]
    assert sorted(rows) == list(range(n))  # disjoint, and every row once
    assert all(batch for plan in plans for batch in plan)  # no empty batch
    counts = [len(p) for p in plans]
    if max_duration is None:
        assert all(len(b) <= batch_size for p in plans for b in p)
        assert max(counts) - min(counts) <= 1
    else:
        d = ds.durations("seconds")
        assert all(len(b) == 1 or d[b].sum() <= max_duration + 1e-9 for p in plans for b in p)
        assert max(counts) - min(counts) <= 1
    assert plans == [list(ds.batches(**kwargs, rank=r)) for r in range(world_size)]


def test_durations_of_segment_columns_and_columns_starting_with_none(store):
    # the audio column is found by its first cell that is not None; segments count
    rec = Audio(np.zeros((5 * RATE, 2), np.int16), RATE)
    cuts = [rec.segment(k, k + 100 * (1 + j % 3)) for j, k in enumerate(range(0, 4000, 400))]
    draft = Artifact("cuts", "dataset")
    draft.add(Table(["audio", "label"], [[c, str(j)] for j, c in enumerate(cuts)]), "segs")
    draft.add(Table(["label", "audio"], [["x", None], ["y", clip(1, 250)], ["z", cuts[1]]]), "gaps")
    v = store.commit(draft)
    ds = v.dataset("segs")
    want = [c.frames / RATE for c in cuts]  # each segment's own length, not the recording's
    np.testing.assert_allclose(ds.durations(), want)
    np.testing.assert_allclose(ds.durations("audio"), want)
    plan = list(ds.batches(max_duration=0.45, seed=2, buckets=2))
    assert sorted(sum(plan, [])) == list(range(len(cuts)))
    assert any(len(b) > 1 for b in plan)
    for b in plan:
        assert len(b) == 1 or np.array(want)[b].sum() <= 0.45 + 1e-9
    gaps = v.dataset("gaps")
    # found (not "0 audio columns"); the empty row says what it is
    for call in (gaps.durations, lambda: gaps.durations("audio")):
        with pytest.raises(ValueError, match=r"row 0, column 'audio' has no duration: the cell "):
            call()
    with pytest.raises(ValueError, match="is empty \\(None\\); drop the rows without audio"):
        gaps.batches(max_duration=1.0)
