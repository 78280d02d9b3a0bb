"""``Value`` (init_from_json, with_suffix, equality, artifact_source) and ``Media`` (sha256
and size by streaming, bind_to_run, is_bound, file_is_set, get_media_subdir)."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
import pytest
import soundfile as sf

import media
import schemas
from artifacts import Artifact, Run
from media import (
    ArtifactSource,
    Audio,
    FolderSource,
    IntegrityError,
    Media,
    OpaqueValue,
    SchemaError,
    Table,
    Value,
    load_cell,
)
from media import files as files_module


class Folder:
    """The smallest run a Media value can be bound to: a ``dir``."""

    def __init__(self, path: os.PathLike[str] | str):
        self.dir = os.fspath(path)


def clip_json(tmp_path, array=None, rate=16000, caption=None) -> dict[str, Any]:
    """audio-file JSON of a clip bound to a run in ``tmp_path``."""
    array = np.arange(-50, 50, dtype=np.int16) if array is None else array
    run = Run(dir=tmp_path)
    clip = Audio(array, rate, caption=caption)
    clip.bind_to_run(run, "clip", 0)
    return clip.to_json(run)


# -- init_from_json -----------------------------------------------------------------------
def test_init_from_json_dispatches_and_sets_artifact_source(tmp_path):
    obj = clip_json(tmp_path, caption="hi")
    source = FolderSource(tmp_path)
    got = Value.init_from_json(obj, source, name="clip")
    assert type(got) is Audio
    assert got.artifact_source == ArtifactSource(source, "clip")
    assert got.artifact_source.artifact is source and got.artifact_source.name == "clip"
    assert got.caption == "hi" and got.sample_rate == 16000
    # the Audio classmethod, the base and any subclass dispatch alike
    assert type(Audio.init_from_json(obj, source)) is Audio
    assert type(Table.init_from_json(obj, source)) is Audio


def test_artifact_source_is_none_without_a_source(tmp_path):
    obj = clip_json(tmp_path)
    assert Audio(np.zeros(3, np.int16), 8).artifact_source is None
    got = Value.init_from_json(obj, None)
    assert got.artifact_source is None
    assert got.sample_rate == 16000  # metadata from the JSON, no file needed
    with pytest.raises(FileNotFoundError, match="has no source to read from"):
        got.numpy()


def test_artifact_source_of_a_value_from_a_store(tmp_path):
    import artifacts

    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("clips", type="dataset")
    draft.add(Audio(np.zeros(4, np.float32), 8), "a/b")
    v0 = store.commit(draft)
    got = v0.get("a/b")
    assert got.artifact_source.artifact is v0
    assert got.artifact_source.name == "a/b"
    assert v0.get("a/b.audio-file.json").artifact_source.name == "a/b"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"sample_rate": 0}, "$.sample_rate"),
        ({"sample_rate": 1.5}, "$.sample_rate"),
        ({"sample_rate": "16000"}, "$.sample_rate"),
        ({"channels": 0}, "$.channels"),
        ({"sha256": "ABC"}, "$.sha256"),
        ({"size": -1}, "$.size"),
        ({"duration": -0.5}, "$.duration"),
        ({"dtype": "uint8"}, "$.dtype"),
        ({"ndim": 3}, "$.ndim"),
        ({"caption": 5}, "$.caption"),
        ({"path": "../escape.wav"}, "$.path"),
        ({"path": "/abs.wav"}, "$.path"),
        ({"path": "C:/x.wav"}, "$.path"),
        ({"path": "a\\b.wav"}, "$.path"),
        ({"path": None}, "$.path"),
    ],
)
def test_invalid_json_raises_schema_error_naming_the_field(tmp_path, change, field):
    obj = dict(clip_json(tmp_path), **change)
    with pytest.raises(SchemaError) as err:
        Value.init_from_json(obj, FolderSource(tmp_path))
    exc = err.value
    assert isinstance(exc, ValueError)
    assert exc.field == field and exc.tag == "audio-file"
    assert str(exc).startswith(f"invalid 'audio-file' JSON at {field}: ")


def test_missing_required_field_is_named(tmp_path):
    obj = clip_json(tmp_path)
    del obj["sha256"]
    with pytest.raises(SchemaError, match=r"'audio-file' JSON at \$: 'sha256' is a required"):
        Value.init_from_json(obj, None)


@pytest.mark.parametrize(
    "obj, message",
    [
        ([1, 2], r"invalid '\?' JSON at \$: expected a JSON object, got list"),
        ({"path": "x.wav"}, r"invalid '\?' JSON at \$\._type: missing"),
        ({"_type": 7}, r"invalid '\?' JSON at \$\._type: missing"),
    ],
)
def test_init_from_json_of_non_objects_and_untagged_objects(obj, message):
    with pytest.raises(SchemaError, match=message):
        Value.init_from_json(obj, None)


def test_media_schema_error_is_the_schemas_class():
    assert media.SchemaError is schemas.SchemaError
    assert issubclass(media.SchemaError, ValueError)


def test_seq_json_with_inconsistent_ndim_is_refused(tmp_path):
    obj = dict(clip_json(tmp_path), channels=2, ndim=1)
    with pytest.raises(SchemaError, match=r"at \$\.ndim: ndim 1 needs channels 1"):
        Value.init_from_json(obj, None)


# -- with_suffix --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, name, filetype, expected",
    [
        (Audio, "clip", "json", "clip.audio-file.json"),
        (Audio, "clip.audio-file.json", "json", "clip.audio-file.json"),
        (Audio, "dir/clip", "json", "dir/clip.audio-file.json"),
        (Audio, "clip.json", "json", "clip.json.audio-file.json"),
        (Audio, "clip.table.json", "json", "clip.table.json.audio-file.json"),
        (Table, "t", "json", "t.table.json"),
        (Table, "t.table.json", "json", "t.table.json"),
        (Table, "t", "parquet", "t.table.parquet"),
        (Table, "t.table.parquet", "parquet", "t.table.parquet"),
    ],
)
def test_with_suffix(cls, name, filetype, expected):
    assert cls.with_suffix(name, filetype) == expected


def test_with_suffix_default_filetype():
    assert Audio.with_suffix("clip") == "clip.audio-file.json"


# -- equality -----------------------------------------------------------------------------
FOREIGN = [5, None, "clip", 1.0, object(), [1], {"_type": "audio-file"}, np.zeros(3)]


@pytest.mark.parametrize("other", FOREIGN, ids=lambda o: type(o).__name__)
def test_equality_with_foreign_objects_never_raises(other):
    clip = Audio(np.zeros(3, np.int16), 8)
    table = Table(["a"], [[1]])
    for value in (clip, table, OpaqueValue({"_type": "x"})):
        assert (value == other) is False
        if not isinstance(other, np.ndarray):  # numpy compares element by element
            assert (other == value) is False
        assert (value != other) is True


def test_equality_across_value_types_is_false():
    clip = Audio(np.zeros(3, np.int16), 8)
    table = Table(["a"], [[clip]])
    assert clip != table and table != clip
    assert not (clip == table)


def test_values_are_unhashable():
    with pytest.raises(TypeError, match="unhashable"):
        hash(Audio(np.zeros(3, np.int16), 8))
    with pytest.raises(TypeError, match="unhashable"):
        hash(Table(["a"]))


def test_audio_equality_is_by_content(tmp_path):
    a = np.array([1, -2, 3], np.int16)
    assert Audio(a, 8) == Audio(a.copy(), 8)
    assert Audio(a, 8) != Audio(a, 9)
    assert Audio(a, 8) != Audio(a, 8, caption="c")
    assert Audio(a, 8) != Audio(a.astype(np.int32), 8)
    assert Audio(a, 8) != Audio(a[:, None], 8)  # mono 1-D vs one-channel 2-D
    assert Audio(a, 8) != Audio(np.array([1, -2, 4], np.int16), 8)
    assert Audio(np.zeros(2, np.float32), 8) != Audio(np.zeros(3, np.float32), 8)


def test_float_clips_compare_bits_not_values():
    """-0.0 and 0.0 are different samples: a lossless store keeps them apart."""
    assert Audio(np.array([0.0], np.float32), 8) != Audio(np.array([-0.0], np.float32), 8)


def test_path_clip_equals_array_clip_with_the_same_samples(tmp_path):
    array = np.arange(-100, 100, dtype=np.int16).reshape(100, 2)
    sf.write(tmp_path / "x.flac", array, 8000, subtype="PCM_16")
    from_path = Audio(tmp_path / "x.flac")
    from_array = Audio(array, 8000)
    assert from_path == from_array and from_array == from_path
    assert from_path.sha256 != from_array.sha256  # FLAC bytes vs WAV bytes
    assert from_path != Audio(array, 16000)


def test_table_equality():
    clip = Audio(np.zeros(3, np.int16), 8)
    same_clip = Audio(np.zeros(3, np.int16), 8)
    assert Table(["a", "b"], [[clip, 1]]) == Table(["a", "b"], [[same_clip, 1]])
    assert Table(["a", "b"], [[clip, 1]]) != Table(["a", "b"], [[clip, 2]])
    assert Table(["a", "b"], [[clip, 1]]) != Table(["b", "a"], [[clip, 1]])


# -- OpaqueValue and load_cell ------------------------------------------------------------
def test_unknown_json_in_a_table_stays_opaque_and_is_written_back_unchanged():
    cell = {"_type": "martian-type", "x": [1, 2]}
    obj = {"_type": "table", "columns": ["m", "n"], "data": [[cell, 3]]}
    table = Value.init_from_json(obj, None)
    (opaque, three) = table.data[0]
    assert isinstance(opaque, OpaqueValue) and opaque.tag == "martian-type"
    assert three == 3
    assert table.to_json(None)["data"] == [[cell, 3]]
    assert repr(opaque) == "OpaqueValue(_type='martian-type')"


def test_load_cell_passes_scalars_through():
    for cell in (1, "x", None, 2.5, [1, {"a": 2}], {"no_type": 1}):
        assert load_cell(cell, None) == cell


def test_table_rows_must_match_columns():
    obj = {"_type": "table", "columns": ["a", "b"], "data": [[1, 2], [3]]}
    with pytest.raises(SchemaError, match=r"invalid 'table' JSON at \$\.data\[1\]: has 1 cells"):
        Value.init_from_json(obj, None)
    with pytest.raises(ValueError, match=r"Invalid row 0: it has 1 cells, the table has 2"):
        Table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match=r"Invalid columns: duplicate names \['a'\]"):
        Table(["a", "a"])
    with pytest.raises(TypeError, match=r"Invalid cell .* in row 0, column 'a'"):
        Table(["a"], [[object()]])


def test_table_keeps_numpy_scalars_as_python_values():
    table = Table(["i", "f", "b"], [[np.int64(3), np.float32(0.5), np.bool_(True)]])
    assert table.data == [[3, 0.5, True]]
    assert [type(c) for c in table.data[0]] == [int, float, bool]


# -- Media: sha256 and size ---------------------------------------------------------------
class SpyFile:
    """A binary file that records the size of every read."""

    def __init__(self, f):
        self.f, self.reads = f, []

    def read(self, n=-1):
        self.reads.append(n)
        return self.f.read(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_path_clip_is_hashed_by_streaming(tmp_path, monkeypatch):
    frames = 1_500_000  # 6 MB of int32 mono samples
    path = tmp_path / "big.wav"
    rng = np.random.default_rng(0)
    sf.write(path, rng.integers(-(2**31), 2**31 - 1, frames, dtype=np.int32), 48000, "PCM_32")
    spies = []

    def spy_open(self):
        spies.append(SpyFile(open(self.path, "rb")))
        return spies[-1]

    monkeypatch.setattr(files_module.LocalFile, "open", spy_open)
    clip = Audio(path)
    assert spies == []  # the header was read by soundfile, nothing was hashed yet
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert clip.sha256 == digest
    assert clip.size == path.stat().st_size
    (spy,) = spies
    assert all(0 < n <= files_module.CHUNK for n in spy.reads), spy.reads
    assert len(spy.reads) >= path.stat().st_size // files_module.CHUNK
    assert clip.sha256 == digest and len(spies) == 1  # computed once


def test_sha256_and_size_of_an_array_clip():
    clip = Audio(np.arange(10, dtype=np.int16), 8)
    data = clip.open().read()
    assert clip.sha256 == hashlib.sha256(data).hexdigest()
    assert clip.size == len(data) == 44 + 20
    assert len(clip.sha256) == 64 and clip.sha256 == clip.sha256.lower()


def test_a_source_whose_bytes_changed_raises_integrity_error(tmp_path):
    obj = clip_json(tmp_path)
    path = tmp_path / obj["path"]
    path.write_bytes(path.read_bytes()[:-2] + b"\x00\x01")
    got = Value.init_from_json(obj, FolderSource(tmp_path))
    with pytest.raises(IntegrityError, match=r"audio/clip_0_.*\.wav: sha256 .* does not match"):
        got.numpy()


def test_folder_source_never_leaves_its_folder(tmp_path):
    (tmp_path / "outside.wav").write_bytes(b"x")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(tmp_path / "outside.wav", root / "link.wav")
    source = FolderSource(root)
    with pytest.raises(ValueError, match=r"Invalid media path 'link.wav': it leads outside"):
        source.open_media("link.wav")
    with pytest.raises(ValueError, match=r"Invalid media path '../outside.wav'"):
        source.open_media("../outside.wav")
    with pytest.raises(FileNotFoundError):
        source.open_media("missing.wav")


# -- Media: bind_to_run -------------------------------------------------------------------
def test_bind_to_run_layout(tmp_path):
    clip = Audio(np.arange(8, dtype=np.int16), 8)
    assert not clip.is_bound()
    clip.bind_to_run(Folder(tmp_path), "clip", 3)
    assert clip.is_bound()
    expected = tmp_path / "media" / "audio" / f"clip_3_{clip.sha256[:20]}.wav"
    assert expected.read_bytes() == clip.open().read()
    assert clip.bound_path(str(tmp_path)) == f"media/audio/clip_3_{clip.sha256[:20]}.wav"
    assert clip.bound_path(str(tmp_path / "elsewhere")) is None
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [expected.name]


def test_bind_to_run_with_an_id_and_a_nested_key(tmp_path):
    clip = Audio(np.arange(8, dtype=np.int16), 8, format="flac")
    clip.bind_to_run(Folder(tmp_path), "eval/clip", 0, id_="abc")
    assert (tmp_path / "media/audio/eval/clip_0_abc.flac").is_file()


def test_bind_to_run_copies_a_path_clip_unchanged(tmp_path):
    src = tmp_path / "in.ogg"
    sf.write(src, np.zeros((800, 2), np.float32), 8000, format="OGG")
    clip = Audio(src)
    run_dir = tmp_path / "run"
    clip.bind_to_run(Folder(run_dir), "k", 1)
    (copied,) = (run_dir / "media/audio").iterdir()
    assert copied.name == f"k_1_{clip.sha256[:20]}.ogg"
    assert copied.read_bytes() == src.read_bytes()


HOSTILE_KEYS = ["../../x", "/abs", "a\x00b", "a\\b", "C:/x", "", "a/../../b", "a//b", "a/", "."]


@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_raise_and_write_nothing(tmp_path, key):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    clip = Audio(np.zeros(4, np.int16), 8)
    with pytest.raises(ValueError, match=r"^Invalid run key .*: it "):
        clip.bind_to_run(Folder(run_dir), key, 0)
    assert list(tmp_path.rglob("*")) == [run_dir]
    assert not clip.is_bound()


@pytest.mark.parametrize("step, id_", [("x/../../..", None), (0, "../../../x"), (0, "a/../../..")])
def test_hostile_steps_and_ids_raise_and_write_nothing(tmp_path, step, id_):
    clip = Audio(np.zeros(4, np.int16), 8)
    with pytest.raises(ValueError, match=r"^Invalid (step|id_) .*part of a file name"):
        clip.bind_to_run(Folder(tmp_path / "run"), "k", step, id_=id_)
    assert list(tmp_path.rglob("*")) == []


def test_non_string_key_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match=r"Invalid run key 3: expected a str"):
        Audio(np.zeros(4, np.int16), 8).bind_to_run(Folder(tmp_path), 3, 0)  # type: ignore[arg-type]


def test_key_through_a_symlink_out_of_the_run_is_refused(tmp_path):
    run_dir, outside = tmp_path / "run", tmp_path / "outside"
    (run_dir / "media" / "audio").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, run_dir / "media" / "audio" / "evil")
    with pytest.raises(ValueError, match="leads outside"):
        Audio(np.zeros(4, np.int16), 8).bind_to_run(Folder(run_dir), "evil/x", 0)
    assert list(outside.iterdir()) == []


def test_file_is_set_and_get_media_subdir(tmp_path):
    assert Audio.get_media_subdir() == "media/audio"
    assert Media.get_media_subdir() == "media/file"
    clip = Audio(np.zeros(4, np.int16), 8)
    assert clip.file_is_set()
    assert Audio(clip_and_path(tmp_path)).file_is_set()
    loaded = Value.init_from_json(clip_json(tmp_path / "r"), None)
    assert loaded.file_is_set()
    bare = Media()
    assert not bare.file_is_set() and not bare.is_bound()
    with pytest.raises(ValueError, match="Media has no file set"):
        bare.sha256  # noqa: B018


def clip_and_path(tmp_path) -> str:
    path = tmp_path / "c.wav"
    sf.write(path, np.zeros(10, np.int16), 8000, subtype="PCM_16")
    return str(path)


def test_to_json_needs_a_target_and_a_bound_clip_for_a_run(tmp_path):
    clip = Audio(np.zeros(4, np.int16), 8)
    with pytest.raises(TypeError, match=r"Invalid target None: to_json needs a run or an artifact"):
        clip.to_json(None)
    run = Run(dir=tmp_path)
    with pytest.raises(ValueError, match=r"not bound to run .*: log it with run.log.*bind_to_run"):
        clip.to_json(run)
    clip.bind_to_run(run, "k", 0)
    obj = clip.to_json(run)
    assert obj["path"] == clip.bound_path(run.dir)
    schemas.validate(obj)


def test_to_json_with_a_draft_adds_the_file(tmp_path):
    clip = Audio(np.zeros(4, np.int16), 8)
    draft = Artifact("d", type="dataset")
    obj = clip.to_json(draft)
    assert obj["path"] == f"media/audio/{clip.sha256[:20]}.wav"
    assert obj["path"] in draft
    assert json.loads(json.dumps(obj)) == obj
