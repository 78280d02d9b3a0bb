"""A store of format 1, frozen in ``tests/fixtures/store-format-1/`` by the code of
2026-12-01 (``tests/fixtures/make_store_format_1.py``), must be read bit-exact forever.

It holds a loose blob (a WAV and a text file), inline value JSONs (an Audio and a Table),
a pack of 20 small files with its index, an alias and a reference to another artifact's
entry.  The test reads a copy (so that a store that wrote would not alter the fixture) and
checks that reading wrote nothing.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest
from frozen_stores import read_only_copy

import artifacts
from media import Audio, Table

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "store-format-1")

#: sha256 of every file of the frozen store: a change here means the fixture was altered
FILES = {
    "artifacts/clips/aliases/best.json": (
        "a5cb4b3932a11d9e51c56f624701f6a29ce8c53ea75547b02f470ca03f2d49e5"
    ),
    "artifacts/clips/versions/v0.json": (
        "c8c3e3ddd12983228a9f5313ce3321fff42dab1b0b65b4db1442b851dbebb884"
    ),
    "artifacts/derived/versions/v0.json": (
        "9e717f6b444af26e7c265306574ea82c48f152746ac9d613e00c54affd3f7cc8"
    ),
    "artifacts/packed/versions/v0.json": (
        "84a69213fc669e7a5157fd5245955fd148e25323a9dc724c5e1db43d39168322"
    ),
    "blobs/sha256/1a/ff827b063da7ab2a46ce12d39a11d28c21e9ca13aaeda01e66f6a3e768e115": (
        "1aff827b063da7ab2a46ce12d39a11d28c21e9ca13aaeda01e66f6a3e768e115"
    ),
    "blobs/sha256/af/0264f870747000cf58f072ca76dd22fe22bcecc24ac66625a8cf9f5fcaec45": (
        "af0264f870747000cf58f072ca76dd22fe22bcecc24ac66625a8cf9f5fcaec45"
    ),
    "packs/f7adcdc5cc06d5333dd898542aa389f1973fe72a2dd45cd71afc13b3447d5452": (
        "50a6ea4915917366d93dc1e81180256182881f1473d7d11670e0bfba965c2e19"
    ),
    "packs/f7adcdc5cc06d5333dd898542aa389f1973fe72a2dd45cd71afc13b3447d5452.idx": (
        "c8d702f083478f4506dc1422ef4bf6f9a9482f8ffacdf725459e2da90aa67c09"
    ),
    "store.json": "e3e5ceae8759a9640b08375ba2e0d7f62c8df77aac43b6dbe092ee34f7da089c",
}

WAV = "media/audio/af0264f870747000cf58.wav"
WAV_SHA = "af0264f870747000cf58f072ca76dd22fe22bcecc24ac66625a8cf9f5fcaec45"
AUDIO_JSON = (
    b'{"_type":"audio-file","caption":"ramp","channels":1,"dtype":"float32","duration":0.0125,'
    b'"frames":100,"ndim":1,"path":"media/audio/af0264f870747000cf58.wav","sample_rate":8000,'
    b'"sha256":"af0264f870747000cf58f072ca76dd22fe22bcecc24ac66625a8cf9f5fcaec45","size":458}'
)
TABLE_JSON = (
    b'{"_type":"table","columns":["id","label"],"data":[[1,"a"],[2,"b"]],"ncols":2,"nrows":2}'
)

#: every entry of every version: its bytes, or (for the WAV) its sha256 and size
EXPECTED = {
    "clips:v0": {
        "labels.table.json": TABLE_JSON,
        WAV: (WAV_SHA, 458),
        "ramp.audio-file.json": AUDIO_JSON,
        "readme.txt": b"a loose blob\n",
    },
    "packed:v0": {f"notes/{i:02d}.txt": f"note {i}\n".encode() * (i + 1) for i in range(20)},
    "derived:v0": {WAV: (WAV_SHA, 458), "same-ramp.audio-file.json": AUDIO_JSON},
}
DIGESTS = {
    "clips:v0": "5c1e051bb919844335e35abdaa8db1459bbcb533a3b058ecb7780f706035a5e2",
    "packed:v0": None,  # checked through the manifest file's sha256 above
    "derived:v0": "2eb234d476bfcb00732b1c1d99acb6d173ebd4c2c5a7339f608227f2d5136f9d",
}
RAMP = (np.arange(100, dtype=np.float32) - 50) / 64


@pytest.fixture
def frozen(tmp_path):
    """A copy of the frozen store; the test fails if reading it changed any file."""
    yield from read_only_copy(FIXTURE, FILES, tmp_path)


def test_names_versions_and_aliases(frozen):
    store = artifacts.open_store(frozen)
    assert store.names() == ["clips", "derived", "packed"]
    assert store.versions("clips") == ["v0"]
    assert store.aliases("clips") == {"best": "v0", "latest": "v0"}
    assert store.artifact("clips:best").qualified_name == "clips:v0"


@pytest.mark.parametrize("ref", sorted(EXPECTED))
def test_every_entry_reads_bit_exact(frozen, ref):
    art = artifacts.open_store(frozen).artifact(ref)
    assert sorted(art.manifest["entries"]) == sorted(EXPECTED[ref])
    if DIGESTS[ref] is not None:
        assert art.digest == DIGESTS[ref]
    for path, want in EXPECTED[ref].items():
        data = art.read_bytes(path)
        if isinstance(want, tuple):
            assert (hashlib.sha256(data).hexdigest(), len(data)) == want
        else:
            assert data == want
    assert art.verify() == []


def test_entry_kinds_are_the_ones_frozen(frozen):
    store = artifacts.open_store(frozen)
    clips = store.artifact("clips:v0").manifest["entries"]
    assert "inline" in clips["ramp.audio-file.json"] and "inline" in clips["labels.table.json"]
    assert set(clips["readme.txt"]) == {"digest", "size"}  # a loose blob
    packed = store.artifact("packed:v0").manifest["entries"]
    assert {e["pack"] for e in packed.values()} == {
        "f7adcdc5cc06d5333dd898542aa389f1973fe72a2dd45cd71afc13b3447d5452"
    }
    derived = store.artifact("derived:v0").manifest["entries"]
    assert derived[WAV]["ref"] == {"artifact": "clips:v0", "path": WAV}


def test_values_load_bit_exact(frozen):
    store = artifacts.open_store(frozen)
    clips = store.artifact("clips:latest")
    ramp = clips.get("ramp")
    assert isinstance(ramp, Audio)
    assert (ramp.sample_rate, ramp.caption, ramp.channels) == (8000, "ramp", 1)
    samples = ramp.numpy()
    assert samples.dtype == np.float32 and samples.tobytes() == RAMP.tobytes()
    table = clips.get("labels")
    assert isinstance(table, Table)
    assert table == Table(columns=["id", "label"], data=[[1, "a"], [2, "b"]])
    again = store.artifact("derived:v0").get("same-ramp")
    assert again.numpy().tobytes() == RAMP.tobytes()


def test_download_writes_the_same_bytes(frozen, tmp_path):
    out = artifacts.open_store(frozen).artifact("packed:v0").download(tmp_path / "out")
    for path, want in EXPECTED["packed:v0"].items():
        with open(os.path.join(out, path), "rb") as f:
            assert f.read() == want
