"""Plausible misuse gets a clear error of the right type, and leaves nothing behind."""

import numpy as np
import pytest
from integrity_helpers import resealed

import schemas
from artifacts import Artifact, IntegrityError, Run, open_store
from media import Audio, Table


def clip(seed=0):
    return Audio(np.full(100, seed, dtype=np.int16), 8000)


@pytest.mark.parametrize("url_kind", ["local", "memory"])
def test_file_changed_after_add_is_refused_at_commit_and_nothing_is_published(tmp_path, url_kind):
    url = str(tmp_path / "s") if url_kind == "local" else f"memory://changed-{tmp_path.name}"
    store = open_store(url)
    f = tmp_path / "notes.txt"
    f.write_bytes(b"hello")
    draft = Artifact("x", "dataset")
    draft.add_file(f, "notes.txt")
    f.write_bytes(b"HELLO")
    with pytest.raises(IntegrityError, match="changed after it was added"):
        store.commit(draft)
    assert store.versions("x") == []
    assert list(store.backend.walk_files("blobs")) == []
    f.unlink()
    with pytest.raises(FileNotFoundError, match="is gone since it was added"):
        store.commit(draft)


@pytest.mark.parametrize("change", ["deleted", "resized"])
def test_a_file_gone_or_resized_after_add_is_refused_before_any_write(tmp_path, change):
    # (before: the other new files of the draft were written first, and stayed as debris)
    store = open_store(tmp_path / "s")
    store.commit(Artifact("keep", "dataset"))  # an existing store: nothing undoes for us
    before = sorted(store.backend.walk_files("blobs"))
    f = tmp_path / "notes.txt"
    f.write_bytes(b"hello")
    draft = Artifact("x", "dataset")
    draft.add(clip(), "clip")  # a new file written before notes.txt, were it written
    draft.add_file(f, "notes.txt")
    if change == "deleted":
        f.unlink()
        error, says = FileNotFoundError, "is gone since it was added"
    else:
        f.write_bytes(b"hello, world")
        error, says = IntegrityError, "has 12 bytes, 5 when it was added to the draft"
    with pytest.raises(error, match=says):
        store.commit(draft)
    assert store.versions("x") == []
    assert sorted(store.backend.walk_files("blobs")) == before


def test_aliases_given_as_one_string(tmp_path):
    store = open_store(tmp_path / "s")
    v0 = store.commit(Artifact("x", "dataset"), aliases="best")
    assert v0.aliases == ["best", "latest"]


def test_failed_log_writes_no_media_and_binds_nothing(tmp_path):
    run = Run(dir=tmp_path / "run")
    a = clip()
    with pytest.raises(TypeError, match="cannot be logged"):
        run.log({"a": a, "b": object()})
    assert not a.is_bound()
    assert not (tmp_path / "run" / "media").exists()
    assert run.history() == []


def test_history_rows_carry_their_type_tag(tmp_path):
    run = Run(dir=tmp_path / "run")
    row = run.log({"loss": 0.5, "clip": clip()})
    assert row["_type"] == "history-row"
    schemas.validate(row)  # dispatches on "_type" like every other form


@pytest.mark.parametrize("target", [None, object(), "a-string"])
def test_binding_needs_a_run(target):
    with pytest.raises(TypeError, match="needs a run"):
        clip().bind_to_run(target, "k", 0)
    with pytest.raises(TypeError, match="needs a run"):
        Audio.seq_to_json([clip()], target, "k", 0)
    with pytest.raises(TypeError, match="needs a run"):
        Table(["c"], [[clip()]]).bind_to_run(target, "k", 0)


@pytest.mark.parametrize("step, id_", [("1/2", None), (1, "a/b"), (1, ""), (1, "a\x00")])
def test_step_and_id_cannot_add_folders(tmp_path, step, id_):
    run = Run(dir=tmp_path / "run")
    with pytest.raises(ValueError, match="part of a file name"):
        clip().bind_to_run(run, "k", step, id_)
    assert not (tmp_path / "run" / "media").exists()


@pytest.mark.parametrize("fn", [Audio.captions, Audio.durations, Audio.sample_rates])
def test_audio_list_helpers_refuse_other_items(fn):
    with pytest.raises(TypeError, match="expected Audio"):
        fn([clip(), 1])


def test_store_path_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_bytes(b"x")
    with pytest.raises(NotADirectoryError, match="a store is a folder"):
        open_store(f)


def test_run_store_of_wrong_type(tmp_path):
    with pytest.raises(TypeError, match="give a Store, a store URL or None"):
        Run(dir=tmp_path / "run", store=5)


def _state(draft):
    return (dict(draft._entries), dict(draft._pending), dict(draft._sources), set(draft._dirs))


def test_a_failing_add_leaves_the_draft_as_it_was(tmp_path):
    import soundfile as sf

    draft = Artifact("x", "dataset")
    draft.add(clip(1), "first")
    draft.add(Table(["c"], [[clip(4)]]), "tab")
    draft.add_file(__file__, "code/test.py")
    gone = tmp_path / "gone.wav"
    sf.write(gone, np.zeros(10, np.int16), 8000, subtype="PCM_16")
    doomed = Audio(gone)
    gone.unlink()  # its bytes cannot be read when the table is added
    before = _state(draft)
    with pytest.raises(FileNotFoundError):
        draft.add(Table(["c"], [[clip(2)], [doomed]]), "table")
    assert _state(draft) == before
    with pytest.raises(FileNotFoundError):  # replacing a value: the same guarantee
        draft.add(Table(["c"], [[clip(3)], [doomed]]), "tab", overwrite=True)
    assert _state(draft) == before


def test_a_failing_add_dir_adds_nothing(tmp_path):
    folder = tmp_path / "folder"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "one.txt").write_text("1")
    (folder / "two.txt").write_text("2")
    draft = Artifact("x", "dataset")
    draft.add_file(__file__, "two.txt")  # the folder's second file collides with it
    before = _state(draft)
    with pytest.raises(ValueError, match="already in"):
        draft.add_dir(folder)
    assert _state(draft) == before


@pytest.mark.parametrize(
    "inline", [None, 5, "x" * 4097, {"_type": "audio-file"}], ids=["null", "int", "long", "obj"]
)
def test_a_bad_inline_entry_is_refused(tmp_path, inline):
    import json

    from artifacts.manifest import Manifest, entries_digest

    store = open_store(tmp_path / "s")
    draft = Artifact("x", "dataset")
    draft.add(clip(), "c")
    obj = json.loads(store.commit(draft).manifest.to_bytes())
    assert isinstance(obj["entries"]["c.audio-file.json"]["inline"], str)  # small JSON: inline
    obj["entries"]["c.audio-file.json"]["inline"] = inline
    obj["digest"] = entries_digest(obj["entries"])
    with pytest.raises(schemas.SchemaError, match=r"\.inline: must be text of at most 4096"):
        Manifest.parse(resealed(obj), "forged.json")


def test_progress_without_tqdm(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if tqdm were not installed
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None if name == "tqdm" else 1)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    auto = open_store(tmp_path / "auto")  # a terminal, no tqdm: no bars and no error
    draft = Artifact("x", "dataset")
    draft.add(clip(1), "a")
    draft.add(clip(2), "b")
    assert auto.commit(draft).version == "v0"
    with pytest.raises(ImportError, match=r"pip install 'media-artifacts\[progress\]'"):
        open_store(tmp_path / "forced", progress=True).commit(draft)
