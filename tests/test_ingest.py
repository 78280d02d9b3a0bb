"""Bulk ingest (``draft.add_many``): the same result with any Executor, all or nothing."""

from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import os

import numpy as np
import pytest
import soundfile as sf

import artifacts
from artifacts import Artifact
from media import Audio, Table


def _clips(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal(800 + 10 * i).astype(np.float32) for i in range(n)]


def _files(tmp_path, n: int) -> list[str]:
    paths = []
    for i in range(n):
        p = str(tmp_path / f"in{i}.wav")
        sf.write(p, (np.arange(400 + i, dtype=np.int16) * (i + 1)), 8000, subtype="PCM_16")
        paths.append(p)
    return paths


def _broken() -> Audio:
    raise RuntimeError("cannot load clip 3")


def _serial_entries(items) -> dict:
    draft = Artifact("clips", "dataset")
    for name, value in items:
        draft.add(value() if callable(value) and not isinstance(value, Audio) else value, name)
    return {p: (e.digest, e.size) for p, e in draft.entries.items()}


@pytest.fixture(params=["thread", "process"])
def executor(request):
    if request.param == "thread":
        ex = concurrent.futures.ThreadPoolExecutor(2)
    else:
        ex = concurrent.futures.ProcessPoolExecutor(
            2, mp_context=multiprocessing.get_context("spawn")
        )
    with ex:
        yield ex


def test_add_many_matches_add_and_round_trips(tmp_path, executor):
    arrays = _clips(12)
    paths = _files(tmp_path, 5)
    items = [(f"a{i}", Audio(a, 16000, caption=f"c{i}")) for i, a in enumerate(arrays)]
    items += [(f"f{i}", functools.partial(Audio, p)) for i, p in enumerate(paths)]
    items.append(("table", Table(columns=["clip", "n"], data=[[Audio(arrays[0], 16000), 1]])))
    draft = Artifact("clips", "dataset")
    entries = draft.add_many(items, executor, batch_size=4)
    assert [e.path for e in entries] == [
        f"{name}.{'table' if name == 'table' else 'audio-file'}.json" for name, _ in items
    ]
    assert {p: (e.digest, e.size) for p, e in draft.entries.items()} == _serial_entries(items)
    store = artifacts.open_store(str(tmp_path / "store"))
    v0 = store.commit(draft)
    for i, a in enumerate(arrays):
        got = v0.get(f"a{i}")
        assert got.caption == f"c{i}"
        assert got.numpy().dtype == np.float32
        assert got.numpy().tobytes() == a.tobytes()
    for i, p in enumerate(paths):
        with open(p, "rb") as f:
            assert v0.get(f"f{i}").open().read() == f.read()
    assert v0.get("table").get_column("clip")[0].numpy().tobytes() == arrays[0].tobytes()


def _peak(clip: Audio) -> float:
    return float(np.abs(clip.numpy()).max())


@pytest.mark.parametrize("url", ["local", "memory"])
def test_loaded_clips_and_versions_pickle_and_go_through_a_process_pool(tmp_path, url):
    import pickle

    store = artifacts.open_store(
        str(tmp_path / "store") if url == "local" else f"memory://pickled-{os.getpid()}"
    )
    arrays = _clips(6)
    draft = Artifact("clips", "dataset")
    for i, a in enumerate(arrays):
        draft.add(Audio(a, 16000), f"a{i}")
    v0 = store.commit(draft)
    loaded = [v0.get(f"a{i}") for i in range(6)]
    assert [c.numpy().tobytes() for c in loaded] == [a.tobytes() for a in arrays]
    again = pickle.loads(pickle.dumps(v0))  # after reads: its read-ahead stays behind
    assert again.qualified_name == "clips:v0" and again.store.url == store.url
    assert again.get("a2").numpy().tobytes() == arrays[2].tobytes()
    clip = pickle.loads(pickle.dumps(loaded[1]))
    assert clip.artifact_source.artifact.qualified_name == "clips:v0"
    assert clip.numpy().tobytes() == arrays[1].tobytes()
    # in another process they still refer to their source: added again, nothing is copied
    draft = Artifact("again", "dataset")
    with concurrent.futures.ProcessPoolExecutor(
        2, mp_context=multiprocessing.get_context("spawn")
    ) as ex:
        if url == "local":  # (a memory:// store is this process's memory only)
            assert list(ex.map(_peak, loaded)) == [float(np.abs(a).max()) for a in arrays]
        draft.add_many({f"b{i}": c for i, c in enumerate(loaded)}, ex)
    v1 = store.commit(draft)
    media = [e for p, e in v1.manifest.entries.items() if p.startswith("media/")]
    assert len(media) == 6 and all(e["ref"]["artifact"] == "clips:v0" for e in media)
    assert v1.get("b4").numpy().tobytes() == arrays[4].tobytes()


def test_add_many_takes_a_mapping_and_no_executor(tmp_path):
    arrays = _clips(3)
    draft = Artifact("clips", "dataset")
    draft.add_many({f"m{i}": Audio(a, 8000) for i, a in enumerate(arrays)})
    assert sorted(draft.entries) == sorted(
        [f"m{i}.audio-file.json" for i in range(3)]
        + [f"media/audio/{Audio(a, 8000).sha256[:20]}.wav" for a in arrays]
    )


def test_an_error_in_the_executor_adds_nothing(executor):
    draft = Artifact("clips", "dataset")
    draft.add(Audio(np.zeros(10, np.int16), 8000), "kept")
    before = draft.entries
    items = [(f"a{i}", Audio(a, 8000)) for i, a in enumerate(_clips(6))]
    items.insert(3, ("bad", _broken))
    with pytest.raises(RuntimeError, match="cannot load clip 3"):
        draft.add_many(items, executor, batch_size=2)
    assert draft.entries == before


def test_an_error_while_adding_leaves_the_draft_unchanged():
    draft = Artifact("clips", "dataset")
    draft.add(Audio(np.zeros(10, np.int16), 8000), "taken")
    before = draft.entries
    items = [(f"a{i}", Audio(a, 8000)) for i, a in enumerate(_clips(4))]
    items.append(("taken", Audio(np.ones(10, np.int16), 8000)))
    with pytest.raises(ValueError, match="an entry named 'taken.audio-file.json' is already in"):
        draft.add_many(items)
    assert draft.entries == before
    draft.add_many(items, overwrite=True)
    # four clips and their JSON added; 'taken' replaced, its old clip's file dropped
    assert len(draft.entries) == len(before) + 2 * 4
    assert f"media/audio/{Audio(np.zeros(10, np.int16), 8000).sha256[:20]}.wav" not in draft


def test_bad_items_are_refused_before_any_work():
    draft = Artifact("clips", "dataset")
    clip = Audio(np.zeros(10, np.int16), 8000)
    with pytest.raises(TypeError, match="Invalid items 'abc': give a mapping of name to value"):
        draft.add_many("abc")
    with pytest.raises(TypeError, match=r"Invalid item \('x',\): expected a \(name, value\) pair"):
        draft.add_many([("x",)])
    with pytest.raises(TypeError, match="Invalid value 5 for 'x': add_many takes media values"):
        draft.add_many([("x", 5)])
    with pytest.raises(ValueError, match=r"the name 'x' is given twice \(items 0 and 1\)"):
        draft.add_many([("x", clip), ("x", clip)])
    with pytest.raises(ValueError, match="Invalid batch_size 0: give a positive int"):
        draft.add_many([("x", clip)], batch_size=0)
    with pytest.raises(ValueError, match="Invalid entry name"):
        draft.add_many([("../x", clip)])
    with pytest.raises(TypeError, match="Invalid value 'no': .*callables with no arguments"):
        draft.add_many([("x", lambda: "no")])
    assert len(draft) == 0


def test_a_failed_add_undoes_its_files_and_folders(tmp_path):
    # add() undoes through a journal of its own changes (not a copy of the draft per add)
    draft = Artifact("clips", "dataset")
    draft.add(Audio(np.zeros(10, np.int16), 8000), "kept")
    before = draft.entries
    gone = _files(tmp_path, 1)[0]
    bad = Audio(gone)
    os.remove(gone)
    table = Table(
        columns=["clip"], data=[[Audio(np.ones(20, np.int16), 8000, caption="new")], [bad]]
    )
    with pytest.raises(FileNotFoundError):
        draft.add(table, "t")
    assert draft.entries == before
    draft.remove("kept")
    with draft.new_file("media") as f:  # 'media' is no longer a folder of entries
        f.write("a file now")
    assert sorted(draft.entries) == ["media"]
