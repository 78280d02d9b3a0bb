"""Audio JSON that lies about its file (issue 12, case 11).

Every field of an audio-file JSON that decides how the file is decoded (sample_rate,
channels, frames, dtype) is checked against the file: a lie is an IntegrityError naming
the entry, never samples that differ from the stored ones.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import artifacts
from artifacts import Artifact, IntegrityError
from media import Audio

CLIPS = {
    "int16": np.arange(-50, 50, dtype=np.int16),
    "float32": np.linspace(-1, 1, 100, dtype=np.float32),
    "int32": np.arange(100, dtype=np.int32) * 1000,
    "float64": np.linspace(-0.5, 0.5, 100),
}


def _forge(store, obj, files):
    draft = Artifact("h", "dataset")
    with draft.new_file("x.audio-file.json", "wb") as f:
        f.write(json.dumps(obj).encode())
    for path, data in files.items():
        with draft.new_file(path, "wb") as f:
            f.write(data)
    return store.commit(draft)


def _good(store, array, fmt="wav"):
    draft = Artifact("clips", "dataset")
    draft.add(Audio(array, 8000, format=fmt), "clip")
    art = store.commit(draft)
    obj = json.loads(art.read_bytes("clip.audio-file.json"))
    return obj, art.read_bytes(obj["path"])


@pytest.mark.parametrize("stored, said", [(a, b) for a in CLIPS for b in CLIPS if a != b])
def test_a_json_dtype_that_differs_from_the_file_is_refused(tmp_path, stored, said):
    store = artifacts.open_store(tmp_path / "s")
    obj, wav = _good(store, CLIPS[stored])
    art = _forge(store, {**obj, "dtype": said}, {obj["path"]: wav})
    with pytest.raises(IntegrityError, match=f"holds {stored} samples, but its JSON says dtype"):
        art.get("x").numpy()


def test_a_flac_whose_json_says_float32_is_refused(tmp_path):
    store = artifacts.open_store(tmp_path / "s")
    obj, data = _good(store, CLIPS["int16"], fmt="flac")
    art = _forge(store, {**obj, "dtype": "float32"}, {obj["path"]: data})
    with pytest.raises(IntegrityError, match="holds int16 samples, but its JSON says dtype"):
        art.get("x").numpy()


def test_partial_json_with_a_wrong_dtype_is_refused(tmp_path):
    store = artifacts.open_store(tmp_path / "s")
    obj, wav = _good(store, CLIPS["int16"])
    partial = {
        "_type": "audio-file",
        "path": obj["path"],
        "sha256": hashlib.sha256(wav).hexdigest(),
        "dtype": "float64",
    }
    art = _forge(store, partial, {obj["path"]: wav})
    with pytest.raises(IntegrityError, match="dtype float64"):
        art.get("x").numpy()


def test_honest_json_reads_every_dtype_bit_for_bit(tmp_path):
    store = artifacts.open_store(tmp_path / "s")
    for name, array in CLIPS.items():
        obj, wav = _good(store, array)
        art = _forge(store, obj, {obj["path"]: wav})
        out = art.get("x").numpy()
        assert out.dtype.name == name and np.array_equal(out, array)
