"""JSON of a type no installed plugin knows: containers load it opaque and re-save it exactly."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

import artifacts
from artifacts import Artifact, Run
from artifacts.manifest import blob_path, canonical_json
from artifacts.run import read_history
from media import OpaqueValue, Table, UnknownTypeError, Value

TAG = "mystery-type"
PAYLOAD = b"bytes of a file only the mystery plugin can read\n"
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()
MYSTERY = {
    "_type": TAG,
    "path": "media/mystery/one.bin",
    "sha256": DIGEST,
    "extra": {"nested": [1, 2.5, None, {"path": "media/mystery/absent.bin"}]},
}


def write_source(store, tmp_path, name: str = "src") -> artifacts.Artifact:
    """A committed artifact as a newer plugin would write it: a mystery value, a table, a file."""
    media_file = tmp_path / "one.bin"
    media_file.write_bytes(PAYLOAD)
    draft = Artifact(name, "dataset")
    draft.add_file(media_file, "media/mystery/one.bin")
    with draft.new_file(f"thing.{TAG}.json", mode="wb") as f:
        f.write(canonical_json(MYSTERY))
    table = {
        "_type": "table",
        "columns": ["m", "label"],
        "data": [[MYSTERY, "a"], [None, "b"]],
        "ncols": 2,
        "nrows": 2,
    }
    with draft.new_file("t.table.json", mode="wb") as f:
        f.write(canonical_json(table))
    return store.commit(draft)


def test_init_from_json_alone_still_raises():
    with pytest.raises(UnknownTypeError) as info:
        Value.init_from_json(MYSTERY, None)
    assert isinstance(info.value, ValueError) and info.value.tag == TAG
    message = str(info.value)
    assert message.startswith(f"unknown media type tag {TAG!r}; known tags: ")
    assert "audio-file, audio-segment, label-track, table" in message
    assert "entry-point group 'media.types'" in message


def test_artifact_entry_loads_opaque_and_resaves_exactly(store, tmp_path):
    src = write_source(store, tmp_path)
    value = src.get("thing")
    assert isinstance(value, OpaqueValue)
    assert value.tag == TAG and value.json == MYSTERY
    assert value.artifact_source.artifact is src and value.artifact_source.name == "thing"
    assert value.paths() == ["media/mystery/absent.bin", "media/mystery/one.bin"]
    assert value == OpaqueValue(json.loads(json.dumps(MYSTERY))) and value != MYSTERY

    draft = Artifact("copy", "dataset")
    draft.add(value, "thing")
    # the file is referred to (no bytes copied); a path the source lacks is left alone
    assert sorted(draft.entries) == ["media/mystery/one.bin", f"thing.{TAG}.json"]
    copy = store.commit(draft)
    assert copy.read_bytes(f"thing.{TAG}.json") == src.read_bytes(f"thing.{TAG}.json")
    assert copy.read_bytes("media/mystery/one.bin") == PAYLOAD
    assert copy.manifest["entries"]["media/mystery/one.bin"]["ref"] == {
        "artifact": "src:v0",
        "path": "media/mystery/one.bin",
    }
    assert copy.get("thing") == value
    assert copy.verify() == []


def test_gc_keeps_the_files_of_a_resaved_opaque_value(tmp_path):
    store = artifacts.open_store(str(tmp_path / "store"))
    src = write_source(store, tmp_path)
    draft = Artifact("copy", "dataset")
    draft.add(src.get("thing"), "thing")
    store.commit(draft)
    only_src = tmp_path / "only-src.bin"
    only_src.write_bytes(b"a file only the source version has")
    extra = src.new_draft()
    extra.add_file(only_src, "only-src.bin")
    src_v1 = store.commit(extra)
    only_src_blob = blob_path(src_v1.entries["only-src.bin"].digest)
    # drop the source versions, as if deleted: only the copy refers to the mystery file now
    store.backend.delete("artifacts/src/versions/v0.json")
    store.backend.delete("artifacts/src/versions/v1.json")
    store = artifacts.open_store(str(tmp_path / "store"))
    report = store.gc(grace=0)
    assert blob_path(DIGEST) not in report.deleted
    assert only_src_blob in report.deleted  # only the dropped versions referred to it
    copy = store.artifact("copy:latest")
    assert copy.read_bytes("media/mystery/one.bin") == PAYLOAD
    assert copy.verify() == []


def test_table_cell_loads_opaque_and_resaves_exactly(store, tmp_path):
    src = write_source(store, tmp_path)
    table = src.get("t")
    assert isinstance(table, Table) and len(table) == 2
    cell = table["m"][0]
    assert isinstance(cell, OpaqueValue) and cell.json == MYSTERY
    assert table["label"] == ["a", "b"]

    draft = Artifact("copy", "dataset")
    draft.add(table, "t")
    assert sorted(draft.entries) == ["media/mystery/one.bin", "t.table.json"]
    copy = store.commit(draft)
    assert copy.read_bytes("t.table.json") == src.read_bytes("t.table.json")
    assert copy.read_bytes("media/mystery/one.bin") == PAYLOAD
    assert copy.get("t") == table


def test_history_value_loads_opaque_and_keeps_its_files(tmp_path):
    old = tmp_path / "old-run"
    (old / "media" / "mystery").mkdir(parents=True)
    (old / "media" / "mystery" / "one.bin").write_bytes(PAYLOAD)
    row = {"_step": 0, "m": MYSTERY, "loss": 0.5}
    (old / "history.jsonl").write_text(json.dumps(row) + "\n")

    (loaded,) = read_history(old)
    value = loaded["m"]
    assert isinstance(value, OpaqueValue) and value.json == MYSTERY and loaded["loss"] == 0.5

    # logged again into another run: the same JSON, and the file is copied over
    run = Run(dir=tmp_path / "new-run")
    written = run.log({"m": value})
    assert written["m"] == MYSTERY
    assert (tmp_path / "new-run" / "media" / "mystery" / "one.bin").read_bytes() == PAYLOAD
    assert not (tmp_path / "new-run" / "media" / "mystery" / "absent.bin").exists()
    assert run.history()[0]["m"] == value

    # added to an artifact: the file becomes a blob of the store, the run folder may go
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("from-run", "dataset")
    draft.add(value, "m")
    shutil.rmtree(old)
    v0 = store.commit(draft)
    assert store.gc(grace=0).deleted == []
    assert v0.read_bytes(f"m.{TAG}.json") == canonical_json(MYSTERY)
    assert v0.read_bytes("media/mystery/one.bin") == PAYLOAD


def test_a_different_file_at_an_opaque_path_is_refused(store, tmp_path):
    src = write_source(store, tmp_path)
    other = tmp_path / "other.bin"
    other.write_bytes(b"something else")
    draft = Artifact("copy", "dataset")
    draft.add_file(other, "media/mystery/one.bin")
    with pytest.raises(ValueError, match="an entry named 'media/mystery/one.bin' is already in"):
        draft.add(src.get("thing"), "thing")
    assert sorted(draft.entries) == ["media/mystery/one.bin"]  # the draft is left as it was
