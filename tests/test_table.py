"""Table: construction, access, storage in artifacts (files once, cells lazy), runs, schema."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile

import schemas
from artifacts import Artifact, Run
from artifacts.manifest import blob_path, pack_path
from media import Audio, FolderSource, Table, Value


def clip(i: int, n: int = 160, caption: str | None = None) -> Audio:
    return Audio(np.full(n, i, dtype=np.int16), 16000, caption=caption)


def blobs(store) -> list[str]:
    return [rel for rel, _ in store.backend.walk_files("blobs")]


# -- construction -----------------------------------------------------------------------------
def test_construction_and_access():
    a, b = clip(1), clip(2, caption="b")
    t = Table(columns=["clip", "label", "score"], data=[[a, "dog", 0.5], [b, "cat", np.float32(1)]])
    assert len(t) == 2
    assert t.columns == ["clip", "label", "score"]
    assert t["label"] == ["dog", "cat"]
    assert t.get_column("score") == [0.5, 1.0] and type(t["score"][1]) is float
    assert [row[1] for row in t] == ["dog", "cat"]
    assert list(t.media()) == [a, b]
    t.add_data(clip(3), "bird", None)
    assert len(t) == 3 and t["label"][-1] == "bird"
    assert Table(["x"]) == Table(["x"], [])
    assert len(Table(["x"])) == 0
    assert t != Table(["clip", "label", "score"]) and t != 5
    assert repr(t) == "Table(columns=['clip', 'label', 'score'], rows=3)"


@pytest.mark.parametrize(
    ("columns", "data", "error", "message"),
    [
        ("abc", [], TypeError, "Invalid columns 'abc': give a list of column names"),
        ([1, "b"], [], TypeError, "Invalid column name 1: expected a str"),
        (["a", "a", "b"], [], ValueError, "Invalid columns: duplicate names ['a']"),
        (["a", "b"], [[1]], ValueError, "Invalid row 0: it has 1 cells, the table has 2"),
        (["a", "b"], ["xy"], TypeError, "Invalid row 0 'xy': a row is a list of cells"),
        (["a"], [[1], [object]], TypeError, "Invalid cell <class 'object'> in row 1, column 'a'"),
        (["a"], [[[1, 2]]], TypeError, "a cell is a str, int, float, bool, None or a media"),
        (["a"], [[float("nan")]], ValueError, "JSON has no NaN or infinity; use None"),
    ],
)
def test_construction_errors(columns, data, error, message):
    with pytest.raises(error) as info:
        Table(columns, data)
    assert message in str(info.value)


def test_missing_column():
    with pytest.raises(KeyError, match=r"no column 'nope'; columns: \['a'\]"):
        Table(["a"], [[1]])["nope"]


# -- artifacts --------------------------------------------------------------------------------
def test_table_in_artifact_stores_each_file_once(store):
    a, b = clip(1), clip(2)
    same_as_a = clip(1)  # equal samples: the same bytes
    t = Table(["clip", "label"], [[a, "x"], [b, "y"], [same_as_a, "z"], [a, "w"]])
    draft = Artifact("tab", "dataset")
    draft.add(t, "t")
    media_entries = [p for p in draft.entries if p.startswith("media/")]
    assert len(media_entries) == 2
    v0 = store.commit(draft)
    assert len(blobs(store)) == 2  # two clips (the small table JSON is inside the manifest)

    got = v0.get("t")
    assert isinstance(got, Table) and got == t
    assert got.artifact_source.artifact is v0 and got.artifact_source.name == "t"
    assert [c.numpy().tolist() for c in got["clip"]] == [
        c.numpy().tolist() for c in (a, b, same_as_a, a)
    ]
    # the table JSON refers to the stored files
    obj = json.loads(v0.read_bytes(v0.get_entry("t").path))
    schemas.validate(obj)
    assert obj["nrows"] == 4 and obj["ncols"] == 2
    assert {row[0]["path"] for row in obj["data"]} == set(media_entries)

    # re-adding the loaded table to a new version copies no bytes
    draft2 = v0.new_draft()
    draft2.add(got, "t2")
    v1 = store.commit(draft2)
    assert len(blobs(store)) == 2
    assert v1.get("t2") == t
    assert v1.verify() == []


def test_table_json_is_valid_and_canonical(tmp_path):
    t = Table(["clip", "n", "flag", "none"], [[clip(1, caption="c"), 1, True, None]])
    draft = Artifact("tab", "dataset")
    draft.add(t, "t")
    obj = t.to_json(draft)
    schemas.validate(obj, "table")
    assert obj["data"][0][0]["_type"] == "audio-file"
    schemas.validate(obj["data"][0][0])
    assert obj == json.loads(json.dumps(obj))
    bad = dict(obj, columns="clip")
    with pytest.raises(schemas.SchemaError, match=r"invalid 'table' JSON at \$\.columns"):
        Value.init_from_json(bad, None)
    ragged = dict(obj, data=[[1, 2]])
    with pytest.raises(schemas.SchemaError, match=r"at \$\.data\[0\]: has 2 cells for 4 columns"):
        Value.init_from_json(ragged, None)


def test_invalid_cell_json_is_reported_when_its_column_is_read():
    obj = {"_type": "table", "columns": ["clip"], "data": [[{"_type": "audio-file", "path": 3}]]}
    t = Value.init_from_json(obj, None)
    assert len(t) == 1
    with pytest.raises(schemas.SchemaError, match=r"invalid 'audio-file' JSON at \$"):
        t["clip"]


def test_large_table_opens_without_reading_audio(tmp_path, monkeypatch):
    import artifacts

    store = artifacts.open_store(str(tmp_path / "store"))
    clips = [clip(i, n=16) for i in range(50)]
    t = Table(["clip", "label"], [[clips[i % 50], f"l{i % 7}"] for i in range(10_000)])
    draft = Artifact("big", "dataset")
    draft.add(t, "t")
    v0 = store.commit(draft)

    def where(e):  # what reading an entry asks the backend for: a blob, or a pack's range
        return (pack_path(e.pack), e.offset) if e.pack else (blob_path(e.digest), None)

    table_at = where(v0.entries["t.table.json"])
    clip7_at = where(v0.entries[f"media/audio/{clips[7].sha256[:20]}.wav"])
    assert table_at[0].startswith("packs/")  # 51 files: one pack

    reads: list[tuple[str, int | None]] = []
    for name in ("read", "open", "read_range", "read_into", "map_range"):
        original = getattr(store.backend, name)

        def spy(path, *args, _original=original, **kwargs):
            reads.append((path, args[0] if args else None))
            return _original(path, *args, **kwargs)

        monkeypatch.setattr(store.backend, name, spy)

    def no_soundfile(*args, **kwargs):
        raise AssertionError("soundfile was asked to read audio")

    for name in ("read", "info", "SoundFile"):
        monkeypatch.setattr(soundfile, name, no_soundfile)

    got = store.artifact("big:v0").get("t")
    assert len(got) == 10_000
    labels = got["label"]
    assert labels[:8] == ["l0", "l1", "l2", "l3", "l4", "l5", "l6", "l0"]
    cells = got["clip"]
    assert [c.sample_rate for c in cells[:3]] == [16000] * 3
    assert sum(c.duration for c in cells) == pytest.approx(10_000 * 16 / 16000)
    assert {c.channels for c in cells} == {1}
    rows = list(got)
    assert len(rows) == 10_000 and rows[3][1] == "l3"
    assert [r for r in reads if r[0].startswith(("blobs/", "packs/"))] == [table_at]

    # a sample read goes to exactly one stored file, when asked
    assert cells[7].numpy().tolist() == [7] * 16
    assert [r for r in reads if r[0].startswith(("blobs/", "packs/"))] == [table_at, clip7_at]


# -- runs -------------------------------------------------------------------------------------
def test_table_through_a_run(tmp_path):
    a, b = clip(1, caption="one"), clip(2)
    t = Table(["clip", "label"], [[a, "x"], [b, "y"], [a, "z"]])
    run = Run(dir=tmp_path / "run")
    row = run.log({"t": t})
    schemas.validate(row["t"], "table")
    paths = {cell[0]["path"] for cell in row["t"]["data"]}
    assert paths == {f"media/audio/t_0_{c.sha256[:20]}.wav" for c in (a, b)}
    (loaded,) = run.history()
    got = loaded["t"]
    assert isinstance(got, Table) and got == t
    assert got["clip"][0].caption == "one"
    assert isinstance(got["clip"][1].artifact_source.artifact, FolderSource)
    assert got["clip"][2].numpy().tolist() == a.numpy().tolist()

    # the loaded table goes into an artifact: its files come from the run folder
    import artifacts

    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("from-run", "dataset")
    draft.add(got, "t")
    v0 = store.commit(draft)
    assert v0.get("t") == t
    assert len(blobs(store)) == 2  # the two clips; the table JSON is inside the manifest


def test_table_with_a_plugin_cell_round_trips(store):
    label_track = Value.type_mapping()["label-track"]  # the installed example plugin
    labels = label_track([(0.0, 0.5, "dog"), (0.5, 1.0, "cat")])
    t = Table(["clip", "labels"], [[clip(1), labels]])
    draft = Artifact("tab", "dataset")
    draft.add(t, "t")
    got = store.commit(draft).get("t")
    assert got == t
    assert got["labels"][0].labels == [(0.0, 0.5, "dog"), (0.5, 1.0, "cat")]
