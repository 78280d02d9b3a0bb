"""Hostile stored data: value JSON, manifests, aliases and blobs written by someone else.

Two kinds of attack.  A *forged* version is committed normally but carries hostile value JSON
or media bytes (the store is consistent, the content lies).  A *tampered* store has its files
edited in place on disk (the manifest digest and blob digests catch that).  Each case gets a
specific error that names the entry (or loads correctly, for the legitimate edge cases), and
the store's bytes are the same before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct

import numpy as np
import pytest
from integrity_helpers import (
    blob_file,
    manifest_path,
    read_manifest,
    snapshot,
    write_manifest,
)

import artifacts
from artifacts import Artifact, ArtifactNotFoundError, IntegrityError, read_history
from media import Audio, OpaqueValue, SchemaError, UnknownTypeError, Value

FRAMES, RATE = 100, 16000


@pytest.fixture
def store(tmp_path):
    """A local store holding ``clips:v0``: one int16 clip (100 frames at 16 kHz)."""
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("clips", "dataset")
    draft.add(Audio(np.arange(FRAMES, dtype=np.int16), RATE), "clip")
    store.commit(draft, aliases=["best"])
    return store


@pytest.fixture
def good(store):
    """``(json, wav bytes)`` of the good clip."""
    art = store.artifact("clips:v0")
    obj = json.loads(art.read_bytes("clip.audio-file.json"))
    return obj, art.read_bytes(obj["path"])


def forge(store, value_json, files=None, name="x.audio-file.json") -> Artifact:
    """Commit a version of ``h`` whose entry ``name`` holds ``value_json`` (an object or raw
    bytes) and whose other entries hold ``files`` (path -> bytes)."""
    draft = Artifact("h", "dataset")
    with draft.new_file(name, "wb") as f:
        f.write(value_json if isinstance(value_json, bytes) else json.dumps(value_json).encode())
    for path, data in (files or {}).items():
        with draft.new_file(path, "wb") as f:
            f.write(data)
    return store.commit(draft)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def set_rate(wav: bytes, rate: int) -> bytes:
    out = bytearray(wav)
    struct.pack_into("<I", out, 24, rate)
    return bytes(out)


def set_data_size(wav: bytes, size: int) -> bytes:
    out = bytearray(wav)
    struct.pack_into("<I", out, out.find(b"data") + 4, size)
    return bytes(out)


def _load(art: Artifact, name: str, step: str):
    value = art.get(name)
    if step == "numpy":
        return value.numpy()
    if step == "meta":
        return value.sample_rate
    return value


# id -> (make(good_json, good_wav) -> (value JSON, files), step, error type, message regex)
# the message must also start with the entry's qualified name: h:vN/<entry>
VALUE_CASES = {
    "wrong type": (
        lambda j, w: ({**j, "sample_rate": "16000"}, {j["path"]: w}),
        "get",
        SchemaError,
        r"x\.audio-file\.json: invalid 'audio-file' JSON at \$\.sample_rate: '16000' is not of "
        r"type 'integer'",
    ),
    "caption of wrong type": (
        lambda j, w: ({**j, "caption": ["a"]}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.caption: \['a'\] is not of type 'string', 'null'",
    ),
    "missing key": (
        lambda j, w: ({k: v for k, v in j.items() if k != "sha256"}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$: 'sha256' is a required property",
    ),
    "missing _type": (
        lambda j, w: ({k: v for k, v in j.items() if k != "_type"}, {j["path"]: w}),
        "get",
        SchemaError,
        r"invalid '\?' JSON at \$\._type: missing, or not a string",
    ),
    "_type not a string": (
        lambda j, w: ({**j, "_type": 7}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\._type: missing, or not a string",
    ),
    "huge integer": (
        lambda j, w: ({**j, "sample_rate": 10**400}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.sample_rate: 1000000000\d+ is greater than the maximum of 2147483647",
    ),
    "integer too long to parse": (
        lambda j, w: (
            json.dumps(j).replace('"frames": 100', '"frames": ' + "9" * 5000).encode(),
            {j["path"]: w},
        ),
        "get",
        ValueError,
        r"x\.audio-file\.json is not JSON: Exceeds the limit \(4300 digits\)",
    ),
    "infinite number": (
        lambda j, w: (json.dumps(j).replace('"frames": 100', '"frames": 1e999').encode(), {}),
        "get",
        SchemaError,
        r"at \$\.frames: inf is not of type 'integer'",
    ),
    "negative size": (
        lambda j, w: ({**j, "size": -1}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.size: -1 is less than the minimum of 0",
    ),
    "zero channels": (
        lambda j, w: ({**j, "channels": 0}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.channels: 0 is less than the minimum of 1",
    ),
    "ndim 1 with 2 channels": (
        lambda j, w: ({**j, "channels": 2, "ndim": 1}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.ndim: ndim 1 needs channels 1",
    ),
    "path with ..": (
        lambda j, w: ({**j, "path": "../../../etc/passwd"}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.path: '\.\./\.\./\.\./etc/passwd' is not of the required form",
    ),
    "absolute path": (
        lambda j, w: ({**j, "path": "/etc/passwd"}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.path: '/etc/passwd' is not of the required form",
    ),
    "drive letter path": (
        lambda j, w: ({**j, "path": "C:/Windows/win.ini"}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.path: 'C:/Windows/win\.ini' is not of the required form",
    ),
    "backslash path": (
        lambda j, w: ({**j, "path": "media\\..\\..\\x"}, {j["path"]: w}),
        "get",
        SchemaError,
        r"at \$\.path: .* is not of the required form",
    ),
    "path to no entry": (
        lambda j, w: ({**j, "path": "media/audio/missing.wav"}, {j["path"]: w}),
        "numpy",
        FileNotFoundError,
        r"'media/audio/missing\.wav' is not an entry of h:v\d+",
    ),
    "sha256 differs from the manifest": (
        lambda j, w: ({**j, "sha256": "0" * 64}, {j["path"]: w}),
        "numpy",
        IntegrityError,
        r"media/audio/\w+\.wav: the value's JSON says sha256 0{64}, the manifest says [0-9a-f]{64}",
    ),
    "size differs from the manifest": (
        lambda j, w: ({**j, "size": 3}, {j["path"]: w}),
        "numpy",
        IntegrityError,
        r"media/audio/\w+\.wav: the value's JSON says 3 bytes, the manifest says \d+",
    ),
    "truncated media (digest of the whole file)": (
        lambda j, w: (j, {j["path"]: w[:-10]}),
        "numpy",
        IntegrityError,
        r"media/audio/\w+\.wav: the value's JSON says sha256 [0-9a-f]{64}, the manifest says",
    ),
    "bytes that are not audio": (
        lambda j, w: (
            {**j, "sha256": sha(b"MZ not audio"), "size": 12},
            {j["path"]: b"MZ not audio"},
        ),
        "numpy",
        IntegrityError,
        r"media/audio/\w+\.wav: the stored bytes are not readable audio",
    ),
    "bytes that are not audio, wandb JSON": (
        lambda j, w: (
            {"_type": "audio-file", "path": j["path"], "sha256": sha(b"<html>")},
            {j["path"]: b"<html>"},
        ),
        "meta",
        IntegrityError,
        r"media/audio/\w+\.wav: .* is not an audio file that soundfile can read",
    ),
    "header says 8000 Hz, JSON 16000": (
        lambda j, w: (
            {**j, "sha256": sha(set_rate(w, 8000))},
            {j["path"]: set_rate(w, 8000)},
        ),
        "numpy",
        IntegrityError,
        r"the file header says 8000 Hz, 1 channel\(s\), 100 frames, but its JSON says 16000 Hz",
    ),
    "header says 8000 Hz, partial JSON 16000": (
        lambda j, w: (
            {
                "_type": "audio-file",
                "path": j["path"],
                "sha256": sha(set_rate(w, 8000)),
                "sample_rate": 16000,
            },
            {j["path"]: set_rate(w, 8000)},
        ),
        "meta",
        IntegrityError,
        r"its JSON says sample_rate 16000 \(header: 8000\); the file header disagrees",
    ),
    "JSON frames differ from the file": (
        lambda j, w: ({**j, "frames": 50}, {j["path"]: w}),
        "numpy",
        IntegrityError,
        r"the file header says 16000 Hz, 1 channel\(s\), 100 frames, but its JSON says "
        r"16000 Hz, 1 channel\(s\), 50 frames",
    ),
    "JSON channels differ from the file": (
        lambda j, w: ({**j, "channels": 2, "ndim": 2}, {j["path"]: w}),
        "numpy",
        IntegrityError,
        r"the file header says 16000 Hz, 1 channel\(s\), 100 frames, but its JSON says "
        r"16000 Hz, 2 channel\(s\)",
    ),
    "data chunk larger than the file": (
        lambda j, w: (
            {**j, "sha256": sha(set_data_size(w, 10**6))},
            {j["path"]: set_data_size(w, 10**6)},
        ),
        "numpy",
        IntegrityError,
        r"the WAV data chunk says 1000000 bytes but only 200 follow it",
    ),
    "data chunk larger than the file, wandb JSON": (
        lambda j, w: (
            {"_type": "audio-file", "path": j["path"], "sha256": sha(set_data_size(w, 10**6))},
            {j["path"]: set_data_size(w, 10**6)},
        ),
        "numpy",
        IntegrityError,
        r"the WAV data chunk says 1000000 bytes but only 200 follow it",
    ),
    "not JSON": (
        lambda j, w: (b"\xff\xfe{", {}),
        "get",
        ValueError,
        r"x\.audio-file\.json is not JSON",
    ),
    "JSON nested too deeply to parse": (
        lambda j, w: (b"[" * 100_000 + b"]" * 100_000, {}),
        "get",
        ValueError,
        r"x\.audio-file\.json is not JSON: maximum recursion depth exceeded",
    ),
    "a JSON list, not an object": (
        lambda j, w: ([j], {}),
        "get",
        SchemaError,
        r"invalid '\?' JSON at \$: expected a JSON object, got list",
    ),
}


@pytest.mark.parametrize("case", list(VALUE_CASES))
def test_hostile_value_json_gets_a_clear_error_naming_the_entry(store, good, case):
    make, step, error, pattern = VALUE_CASES[case]
    value_json, files = make(*good)
    art = forge(store, value_json, files)
    before = snapshot(store)
    with pytest.raises(error) as info:
        _load(art, "x", step)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert f"h:{art.version}" in message  # names the version (and the entry, checked above)
    assert snapshot(store) == before
    store.artifact("clips:v0").verify()  # the good version is untouched


TABLE_CASES = {
    "row of the wrong length": (
        {"_type": "table", "columns": ["a"], "data": [[1, 2]]},
        SchemaError,
        r"at \$\.data\[0\]: has 2 cells for 1 columns",
    ),
    "duplicate columns": (
        {"_type": "table", "columns": ["a", "a"], "data": []},
        ValueError,
        r"Invalid columns: duplicate names \['a'\]",
    ),
    "columns not a list": (
        {"_type": "table", "columns": "ab", "data": []},
        SchemaError,
        r"at \$\.columns: 'ab' is not of type 'array'",
    ),
    "rows not lists": (
        {"_type": "table", "columns": ["a"], "data": [5]},
        SchemaError,
        r"at \$\.data\[0\]: 5 is not of type 'array'",
    ),
    "a cell with a bad value": (
        {"_type": "table", "columns": ["a"], "data": [[{"_type": "audio-file"}]]},
        SchemaError,
        r"h:v\d+/t: row 0, column 'a': invalid 'audio-file' JSON at \$: 'path' is a required",
    ),
    "a cell whose path escapes": (
        {
            "_type": "table",
            "columns": ["a"],
            "data": [[{"_type": "audio-file", "path": "../../x.wav", "sha256": "0" * 64}]],
        },
        SchemaError,
        r"h:v\d+/t: row 0, column 'a': invalid 'audio-file' JSON at \$\.path: "
        r"'\.\./\.\./x\.wav' is not of the required form",
    ),
}


@pytest.mark.parametrize("case", list(TABLE_CASES))
def test_hostile_table_json_gets_a_clear_error_naming_the_entry(store, case):
    value_json, error, pattern = TABLE_CASES[case]
    art = forge(store, value_json, name="t.table.json")
    before = snapshot(store)
    with pytest.raises(error) as info:
        art.get("t")
        art.get("t").data  # noqa: B018  (cells may be decoded lazily)
        [list(row) for row in art.get("t")]
    assert re.search(pattern, str(info.value)), str(info.value)
    assert f"h:{art.version}/t" in str(info.value)
    assert snapshot(store) == before


def _nested_tables(depth: int) -> bytes:
    text = json.dumps({"_type": "table", "columns": ["a"], "data": [[1]]})
    for _ in range(depth):
        text = '{"_type": "table", "columns": ["a"], "data": [[' + text + "]]}"
    return text.encode()


def test_deeply_nested_tables_load_lazily_without_recursion(store):
    art = forge(store, _nested_tables(300), name="t.table.json")  # 900 JSON levels
    table = art.get("t")
    for _ in range(300):
        table = table.data[0][0]
    assert table.data == [[1]]


def test_tables_nested_too_deeply_to_parse_are_refused(store):
    art = forge(store, _nested_tables(400), name="t.table.json")  # 1200 JSON levels
    before = snapshot(store)
    with pytest.raises(ValueError) as info:
        art.get("t")
    assert re.search(
        r"h:v\d+/t\.table\.json is not JSON: maximum recursion depth exceeded", str(info.value)
    )
    assert snapshot(store) == before


def test_an_unknown_type_loads_as_an_opaque_value_and_init_from_json_says_what_is_known(
    store, good
):
    obj = {**good[0], "_type": "video-file"}
    art = forge(store, obj, {good[0]["path"]: good[1]}, name="x.video-file.json")
    value = art.get("x")
    assert isinstance(value, OpaqueValue) and value.tag == "video-file"
    with pytest.raises(UnknownTypeError) as info:
        Value.init_from_json(obj, art)
    assert str(info.value).startswith("unknown media type tag 'video-file'; known tags: ")
    assert "audio-file" in info.value.known and "table" in info.value.known


# -- legitimate edge cases --------------------------------------------------------------------
EDGE_ARRAYS = [
    np.zeros(0, np.float32),
    np.zeros(0, np.int16),
    np.zeros((0, 2), np.int32),
    np.zeros((0, 3), np.float64),
    np.array([0.25], np.float32),
    np.array([-1.0], np.float64),
    np.array([-32768], np.int16),
    np.array([[2**31 - 1]], np.int32),
    np.array([[-(2**31)], [5]], np.int32),
]


@pytest.mark.parametrize("array", EDGE_ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}")
def test_zero_length_and_one_sample_clips_load_correctly(store, array):
    draft = Artifact("edge", "dataset")
    draft.add(Audio(array, 8000, caption="edge"), "c")
    art = store.commit(draft)
    clip = store.artifact(art.qualified_name).get("c")
    got = clip.numpy()
    assert got.dtype == array.dtype and got.shape == array.shape
    assert got.tobytes() == array.tobytes()
    assert clip.frames == array.shape[0] and clip.duration == array.shape[0] / 8000
    assert clip.caption == "edge"
    art.verify()


@pytest.mark.parametrize("frames", [0, 1])
def test_zero_and_one_frame_files_load_from_wandb_style_json(store, good, frames):
    wav = Audio(np.ones(frames, np.int16), 22050).in_memory_bytes()
    path = f"media/audio/{sha(wav)[:20]}.wav"
    art = forge(store, {"_type": "audio-file", "path": path, "sha256": sha(wav)}, {path: wav})
    clip = art.get("x")
    assert (clip.sample_rate, clip.frames, clip.channels) == (22050, frames, 1)
    assert clip.numpy().tolist() == [1] * frames


# -- tampered stores: files edited in place -------------------------------------------------
def _refused(store, call, error, pattern):
    before = snapshot(store)
    with pytest.raises(error) as info:
        call()
    assert re.search(pattern, str(info.value)), str(info.value)
    assert snapshot(store) == before
    return info.value


def _fresh(store):
    """The same store opened again (no cached manifests)."""
    return artifacts.open_store(store.url)


@pytest.mark.parametrize("sealed", [True, False], ids=["sealed", "written before seals"])
def test_a_manifest_edited_without_its_digest_is_rejected(store, sealed):
    m = read_manifest(store, "clips", "v0")
    path = next(p for p in m["entries"] if p.endswith(".wav"))
    m["entries"][path]["size"] += 1
    if not sealed:  # as the code before seals wrote it: checked by its digest alone
        del m["_seal"]
    write_manifest(store, "clips", "v0", m, fix_digest=False)
    err = _refused(
        _fresh(store),
        lambda: _fresh(store).artifact("clips:v0"),
        IntegrityError,
        r"artifacts/clips/versions/v0\.json: the manifest of clips:v0 does not match its seal"
        if sealed
        else r"artifacts/clips/versions/v0\.json: manifest digest does not match its entries "
        r"\(it was altered\)",
    )
    assert isinstance(err, ValueError)


# id -> (change the manifest JSON in place, error, message regex); digests are recomputed
MANIFEST_CASES = {
    "entry path with ..": (
        lambda m: m["entries"].update({"../../../etc/passwd": {"digest": "0" * 64, "size": 1}}),
        SchemaError,
        r"v0\.json: invalid 'manifest' JSON at \$\.entries\['\.\./\.\./\.\./etc/passwd'\]: "
        r"Invalid entry name",
    ),
    "absolute entry path": (
        lambda m: m["entries"].update({"/etc/passwd": {"digest": "0" * 64, "size": 1}}),
        SchemaError,
        r"\$\.entries\['/etc/passwd'\]: Invalid entry name '/etc/passwd': it is absolute",
    ),
    "backslash entry path": (
        lambda m: m["entries"].update({"a\\..\\..\\b": {"digest": "0" * 64, "size": 1}}),
        SchemaError,
        r"Invalid entry name .*: it contains a backslash",
    ),
    "size of the wrong type": (
        lambda m: [e.update(size="12") for e in m["entries"].values()],
        SchemaError,
        r"\.size: invalid size '12'",
    ),
    "huge size": (
        lambda m: [e.update(size=10**30) for e in m["entries"].values()],
        SchemaError,
        r"\.size: invalid size 10{30}",
    ),
    "digest not hex": (
        lambda m: [e.update(digest="../" + "0" * 61) for e in m["entries"].values()],
        SchemaError,
        r"\.digest: invalid digest '\.\./0+'",
    ),
    "entry not an object": (
        lambda m: m["entries"].update({"x": [1, 2]}),
        SchemaError,
        r"\$\.entries\['x'\]: not an entry object",
    ),
    "entry with an unknown key": (
        lambda m: [e.update(exec="rm -rf /") for e in m["entries"].values()],
        SchemaError,
        r"not an entry object",
    ),
    "missing key": (
        lambda m: m.pop("type"),
        SchemaError,
        r"invalid 'manifest' JSON at \$: 'type' is a required property",
    ),
    "wrong _type": (
        lambda m: m.update({"_type": "alias"}),
        SchemaError,
        r"at \$\._type: 'manifest' was expected",
    ),
    "entries not an object": (
        lambda m: m.update(entries=[1]),
        SchemaError,
        r"\$\.entries: \[1\] is not of type 'object'",
    ),
    "reference out of the store's names": (
        lambda m: [
            e.update(ref={"artifact": "../x:v0", "path": "a"}) for e in m["entries"].values()
        ],
        SchemaError,
        r"\.ref\.artifact: '\.\./x:v0' is not of the required form",
    ),
    "a version that names another": (
        lambda m: m.update(version="v7"),
        IntegrityError,
        r"artifacts/clips/versions/v0\.json names itself clips:v7; the store was altered",
    ),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_a_forged_manifest_is_rejected_naming_the_field(store, case):
    change, error, pattern = MANIFEST_CASES[case]
    m = read_manifest(store, "clips", "v0")
    change(m)
    write_manifest(store, "clips", "v0", m)
    fresh = _fresh(store)
    _refused(fresh, lambda: fresh.artifact("clips:v0"), error, pattern)
    _refused(fresh, lambda: fresh.artifact("clips:best"), error, pattern)


@pytest.mark.parametrize(
    ("data", "pattern"),
    [
        (b"", r"v0\.json is not JSON"),
        (b"\x00\x01garbage", r"v0\.json is not JSON"),
        (b"[" * 100_000, r"v0\.json is not JSON .*recursion"),
        (b"[]", r"invalid 'manifest' JSON at \$"),
        (b'{"entries": {}}', r"invalid 'manifest' JSON at \$"),
    ],
)
def test_a_manifest_that_is_not_a_manifest_is_rejected(store, data, pattern):
    with open(manifest_path(store, "clips", "v0"), "wb") as f:
        f.write(data)
    fresh = _fresh(store)
    _refused(fresh, lambda: fresh.artifact("clips:v0"), SchemaError, pattern)


def test_gc_refuses_to_run_when_a_manifest_cannot_be_read(store):
    with open(manifest_path(store, "clips", "v0"), "wb") as f:
        f.write(b"{broken")
    fresh = _fresh(store)
    # deleting blobs while a manifest cannot be read could delete live data: gc stops
    _refused(fresh, lambda: fresh.gc(grace=0), SchemaError, r"v0\.json is not JSON")


def test_a_version_file_with_a_strange_name_is_ignored(store):
    folder = os.path.dirname(manifest_path(store, "clips", "v0"))
    for junk in ("v01.json", "v1.json.bak", "../v2.json", "latest.json"):
        with open(os.path.join(folder, junk), "wb") as f:
            f.write(b"{}")
    assert _fresh(store).versions("clips") == ["v0"]
    assert _fresh(store).artifact("clips:latest").version == "v0"


@pytest.mark.parametrize(
    ("alias_json", "error", "pattern"),
    [
        (b"not json", SchemaError, r"invalid 'alias' JSON at \$: not JSON"),
        (
            {"_type": "alias", "artifact": "clips", "alias": "best", "version": "../../x"},
            SchemaError,
            r"invalid 'alias' JSON at \$\.version: '\.\./\.\./x' is not of the required form",
        ),
        (
            {"_type": "alias", "artifact": "clips", "alias": "best", "version": "v99"},
            ArtifactNotFoundError,
            r"no version clips:v99 in ",
        ),
    ],
)
def test_a_tampered_alias_is_refused(store, alias_json, error, pattern):
    path = os.path.join(store.backend.root, "artifacts", "clips", "aliases", "best.json")
    with open(path, "rb") as f:
        good_alias = json.loads(f.read())
    if isinstance(alias_json, dict):
        alias_json = json.dumps({**good_alias, **alias_json}).encode()
    with open(path, "wb") as f:
        f.write(alias_json)
    fresh = _fresh(store)
    _refused(fresh, lambda: fresh.artifact("clips:best"), error, pattern)
    assert fresh.artifact("clips:latest").version == "v0"  # the rest still reads


def test_a_tampered_store_marker_is_refused(tmp_path, store):
    marker = os.path.join(store.backend.root, "store.json")
    with open(marker, "wb") as f:
        f.write(b'{"_type": "store", "format": 99}')
    before = snapshot(store)
    with pytest.raises(ValueError, match=r"has a store\.json that is not a media-artifacts store"):
        artifacts.open_store(store.url)
    assert snapshot(store) == before


def test_a_tampered_value_json_is_named_on_get(store):
    m = read_manifest(store, "clips", "v0")
    e = m["entries"]["clip.audio-file.json"]  # a small value JSON travels inside the manifest
    e["inline"] = "[" + e["inline"][1:]
    write_manifest(store, "clips", "v0", m)
    _refused(
        store,
        lambda: _fresh(store).artifact("clips:v0").get("clip"),
        IntegrityError,
        r"clips:v0/clip\.audio-file\.json: sha256 of the stored bytes does not match",
    )


@pytest.mark.parametrize(
    "lie",
    [('"channels":1', '"channels":2'), ('"frames":100', '"frames":200')],
    ids=["channels", "frames"],
)
def test_inline_json_that_still_reads_but_changed_is_refused_on_get(store, lie):
    # same length, still an object, still valid audio-file JSON: only its sha256 tells
    m = read_manifest(store, "clips", "v0")
    e = m["entries"]["clip.audio-file.json"]
    assert lie[0] in e["inline"]
    e["inline"] = e["inline"].replace(*lie)
    write_manifest(store, "clips", "v0", m)
    _refused(
        store,
        lambda: _fresh(store).artifact("clips:v0").get("clip"),
        IntegrityError,
        r"clips:v0/clip\.audio-file\.json: sha256 of the stored bytes does not match",
    )


def test_a_missing_blob_is_named_on_read(store):
    clip = store.artifact("clips:v0").get("clip")
    path = clip.source_file()[1]
    os.unlink(blob_file(store, clip.sha256))
    _refused(
        store,
        lambda: _fresh(store).artifact("clips:v0").get("clip").numpy(),
        IntegrityError,
        rf"clips:v0/{re.escape(path)}: its blob [0-9a-f]{{16}}\.\.\. is missing",
    )


# -- run folders ----------------------------------------------------------------------------
def test_a_history_row_whose_path_escapes_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    secret = tmp_path / "secret.wav"
    secret.write_bytes(Audio(np.ones(4, np.int16), 8000).in_memory_bytes())
    row = {
        "_step": 0,
        "_timestamp": 0.0,
        "_runtime": 0.0,
        "clip": {"_type": "audio-file", "path": "../secret.wav", "sha256": "0" * 64},
    }
    (run_dir / "history.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(SchemaError, match=r"at \$\.path: '\.\./secret\.wav' is not of the"):
        read_history(run_dir)


def test_a_planted_link_in_a_run_folder_cannot_read_outside(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "media" / "audio").mkdir(parents=True)
    secret = tmp_path / "secret.wav"
    secret.write_bytes(Audio(np.ones(4, np.int16), 8000).in_memory_bytes())
    os.symlink(secret, run_dir / "media" / "audio" / "leak.wav")
    row = {
        "_step": 0,
        "_timestamp": 0.0,
        "_runtime": 0.0,
        "clip": {
            "_type": "audio-file",
            "path": "media/audio/leak.wav",
            "sha256": sha(secret.read_bytes()),
        },
    }
    (run_dir / "history.jsonl").write_text(json.dumps(row) + "\n")
    clip = read_history(run_dir)[0]["clip"]
    with pytest.raises(ValueError, match=r"Invalid media path 'media/audio/leak\.wav': it leads"):
        clip.numpy()
