"""Tables in the ecosystem: Parquet in HF datasets' Audio layout (read by the real `datasets`),
bit-exact import back, audio folders from Python and from `artifacts put --audiofolder`."""

from __future__ import annotations

import csv
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from artifacts import Artifact, open_store
from artifacts.cli import main as cli_main
from artifacts.hf import audiofolder_table, import_audiofolder, table_from_parquet, to_parquet
from media import Audio, Table, Value


@pytest.fixture(autouse=True)
def _hf_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))


def wav_bytes(i: int, frames: int, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    x = ((np.arange(frames) * (i + 1)) % 2000 - 1000).astype(np.int16)
    soundfile.write(buf, x, 16000, format="WAV", subtype=subtype)
    return buf.getvalue()


def version_with_table(store):
    clips = [Audio(io.BytesIO(wav_bytes(i, 800 + 100 * i))) for i in range(4)]
    clips[1] = Audio(np.linspace(-1, 1, 300, dtype=np.float32), 8000, caption="ramp")
    flac = io.BytesIO()
    soundfile.write(flac, np.arange(500, dtype=np.int16), 16000, format="FLAC")
    clips[3] = Audio(io.BytesIO(flac.getvalue()), caption="flac")
    t = Table(
        columns=["clip", "label", "n", "score", "ok", "mixed", "maybe"],
        data=[
            [clips[0], "a", 1, 0.5, True, 1, None],
            [clips[1], "b", 2, -1.25, False, "two", None],
            [clips[2], "a", 3, 3.0, True, 2.5, None],
            [clips[3], "c", 2**40, 0.0, False, None, None],
        ],
    )
    draft = Artifact("corpus", "dataset")
    draft.add(t, "train")
    return store.commit(draft)


def stored_bytes(cell: Audio) -> bytes:
    with cell.open() as f:
        return f.read()


def test_parquet_loads_in_datasets_and_comes_back_bit_exact(store, tmp_path):
    import datasets

    v = version_with_table(store)
    path = to_parquet(v, "train", tmp_path / "train.parquet")
    original = v.get("train")
    want = [stored_bytes(c) for c in original["clip"]]

    ds = datasets.Dataset.from_parquet(str(path))
    assert isinstance(ds.features["clip"], datasets.Audio)
    assert ds.column_names == original.columns
    ds = ds.cast_column("clip", datasets.Audio(decode=False))
    assert [row["clip"]["bytes"] for row in ds] == want
    assert ds["label"] == ["a", "b", "a", "c"] and ds["n"] == [1, 2, 3, 2**40]
    assert ds["score"] == [0.5, -1.25, 3.0, 0.0] and ds["ok"] == [True, False, True, False]

    back = table_from_parquet(path)
    assert back == original
    assert [type(c) for c in back["mixed"]] == [int, str, float, type(None)]
    assert [stored_bytes(c) for c in back["clip"]] == want
    assert [c.caption for c in back["clip"]] == [None, "ramp", None, "flac"]
    # stored again: the same files, so the same digests
    draft = Artifact("again", "dataset")
    draft.add(back, "train")
    w = store.commit(draft)
    assert [c.sha256 for c in w.get("train")["clip"]] == [c.sha256 for c in original["clip"]]


def test_parquet_written_by_datasets(tmp_path, store):
    import datasets

    data = [wav_bytes(i, 400 + i) for i in range(3)]
    ds = datasets.Dataset.from_dict(
        {
            "audio": [{"bytes": b, "path": f"{i}.wav"} for i, b in enumerate(data)],
            "text": list("xyz"),
        }
    )
    # (a cast, not features=: datasets 5 encodes Audio values with torchcodec, not installed)
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    ds.to_parquet(str(tmp_path / "hf.parquet"))
    t = table_from_parquet(tmp_path / "hf.parquet")
    assert t.columns == ["audio", "text"] and t["text"] == ["x", "y", "z"]
    assert [stored_bytes(c) for c in t["audio"]] == data
    draft = Artifact("hf", "dataset")
    draft.add(t, "train")
    got = store.commit(draft).get("train")
    assert [hashlib.sha256(stored_bytes(c)).hexdigest() for c in got["audio"]] == [
        hashlib.sha256(b).hexdigest() for b in data
    ]


def test_parquet_errors(store, tmp_path, monkeypatch):
    class Point(Value):
        artifact_type = "tables-test-point"

        def to_json(self, run_or_artifact):
            return {"_type": self.artifact_type}

        @classmethod
        def from_json(cls, json_obj, source):
            return cls()

    t = Table(columns=["p", "a"], data=[[Point(), Audio(io.BytesIO(wav_bytes(0, 10)))]])
    draft = Artifact("x", "dataset")
    draft.add(t, "t")
    draft.add(Audio(io.BytesIO(wav_bytes(1, 10))), "clip")
    v = store.commit(draft)
    with pytest.raises(ValueError, match="column 'p' holds OpaqueValue cells; Parquet export"):
        to_parquet(v, "t", tmp_path / "t.parquet")
    with pytest.raises(ValueError, match="x:v0/clip is a value of type Audio, not a Table"):
        to_parquet(v, "clip", tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"pip install media-artifacts\[parquet\]"):
        table_from_parquet(tmp_path / "t.parquet")


# -- audio folders ----------------------------------------------------------------------------
def make_audiofolder(root: Path, n: int = 6) -> list[bytes]:
    (root / "clips").mkdir(parents=True)
    data = []
    with open(root / "metadata.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file_name", "transcription", "speaker_id", "snr"])
        for i in range(n):
            b = wav_bytes(i, 300 + 50 * i)
            name = f"clips/{i:03d}.wav" if i % 2 else f"{i:03d}.wav"
            (root / name).write_bytes(b)
            data.append(b)
            w.writerow([name, f"words {i}", 10 + i % 2, "" if i == 3 else f"{i}.5"])
    return data


def test_audiofolder_table(tmp_path):
    data = make_audiofolder(tmp_path / "af")
    t = audiofolder_table(tmp_path / "af")
    assert t.columns == ["audio", "file_name", "transcription", "speaker_id", "snr"]
    assert [stored_bytes(c) for c in t["audio"]] == data
    assert t["speaker_id"] == [10, 11, 10, 11, 10, 11] and type(t["speaker_id"][0]) is int
    assert t["snr"] == [0.5, 1.5, 2.5, None, 4.5, 5.5]
    assert t["file_name"][1] == "clips/001.wav"


def test_audiofolder_as_a_version_then_splits_copy_no_audio(store, tmp_path):
    data = make_audiofolder(tmp_path / "af", n=10)
    v = import_audiofolder(store, "speech", tmp_path / "af")
    assert v.qualified_name == "speech:v0"
    t = v.get("data")
    assert [stored_bytes(c) for c in t["audio"]] == data
    ds = v.dataset("data")
    assert len(ds) == 10 and ds[4]["transcription"] == "words 4"

    def written() -> tuple[int, int]:
        files = list(store.backend.walk_files(""))
        blobs = [rel for rel, _ in files if rel.startswith(("blobs/", "packs/"))]
        return len(blobs), sum(store.backend.size(rel) for rel in blobs)

    before = written()
    rows = list(t.rows())
    draft = v.new_draft()
    for split, keep in (("train", lambda i: i % 5), ("test", lambda i: not i % 5)):
        part = Table(columns=t.columns)
        for i, row in enumerate(rows):
            if keep(i):
                part.add_data(*row.values())
        draft.add(part, split)
    w = store.commit(draft)
    assert written() == before  # no audio byte (nor any blob or pack) was written
    assert len(w.dataset("train")) == 8 and len(w.dataset("test")) == 2
    assert stored_bytes(w.get("test")["audio"][1]) == data[5]


def test_put_audiofolder_command(store, tmp_path):
    data = make_audiofolder(tmp_path / "af", n=3)
    assert cli_main(["--store", store.url, "put", "voices", str(tmp_path / "af"),
                     "--audiofolder", "clips"]) == 0  # fmt: skip
    v = open_store(store.url).artifact("voices:latest")
    assert [stored_bytes(c) for c in v.get("clips")["audio"]] == data
    assert v.value_names() == ["clips"]  # only the table (and its clips), not the folder


def test_put_audiofolder_subprocess(tmp_path):
    make_audiofolder(tmp_path / "af", n=2)
    script = str(Path(sys.executable).with_name("artifacts"))
    url = str(tmp_path / "store")
    done = subprocess.run(
        [script, "--store", url, "put", "v", str(tmp_path / "af"), "--audiofolder", "data"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "committed v:v0" in done.stdout
    (tmp_path / "af" / "metadata.csv").write_text("file_name\n../outside.wav\n")
    (tmp_path / "outside.wav").write_bytes(wav_bytes(0, 10))
    done = subprocess.run(
        [script, "--store", url, "put", "v", str(tmp_path / "af"), "--audiofolder", "data"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Invalid file_name of row 0" in done.stderr and "'..'" in done.stderr
    assert open_store(url).versions("v") == ["v0"]


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("name,label\na.wav,x\n", "has no file_name column"),
        ("file_name\n/etc/passwd\n", "Invalid file_name of row 0"),
        ("file_name\nmissing.wav\n", "row 0: no file 'missing.wav'"),
        ("file_name,x\na.wav\n", "line 2 has 1 fields, the header 2"),
        ("file_name,audio\na.wav,1\n", "has a column named 'audio'"),
        ("", "is empty; its first line names the columns"),
    ],
)
def test_audiofolder_errors(tmp_path, csv_text, message):
    (tmp_path / "a.wav").write_bytes(wav_bytes(0, 10))
    (tmp_path / "metadata.csv").write_text(csv_text)
    with pytest.raises(ValueError, match=message):
        audiofolder_table(tmp_path)


def test_audiofolder_without_metadata_and_jsonl(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.wav").write_bytes(wav_bytes(0, 10))
    (tmp_path / "a.flac").write_bytes(b"")  # listed by name; not audio, so refused
    with pytest.raises(ValueError, match="not an audio file"):
        audiofolder_table(tmp_path)
    (tmp_path / "a.flac").unlink()
    (tmp_path / "notes.txt").write_text("skip me")
    assert audiofolder_table(tmp_path)["file_name"] == ["b/x.wav"]
    (tmp_path / "metadata.jsonl").write_text('{"file_name": "b/x.wav", "tags": 3}\n\n')
    t = audiofolder_table(tmp_path)
    assert t.columns == ["audio", "file_name", "tags"] and t["tags"] == [3]
    with pytest.raises(ValueError, match="is not a folder"):
        audiofolder_table(tmp_path / "nope")


def test_parquet_missing_clips_and_path_only_structs(store, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = Table(columns=["clip", "n"], data=[[Audio(io.BytesIO(wav_bytes(0, 20))), 1], [None, 2]])
    draft = Artifact("gaps", "dataset")
    draft.add(t, "t")
    v = store.commit(draft)
    back = table_from_parquet(to_parquet(v, "t", tmp_path / "gaps.parquet"))
    assert back["clip"][1] is None and back == v.get("t")
    # a struct that names a file outside the Parquet file (datasets can write those)
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(
        pa.table({"audio": pa.array([{"bytes": None, "path": "x.wav"}], type=struct)}),
        tmp_path / "paths.parquet",
    )
    with pytest.raises(ValueError, match=r"row 0, column 'audio': the audio struct holds only"):
        table_from_parquet(tmp_path / "paths.parquet")


# -- segments -----------------------------------------------------------------------------
@pytest.mark.parametrize("store", ["local", "memory"], indirect=True)
def test_parquet_segments_are_their_own_frames_losslessly(store, tmp_path):
    import datasets

    frames = np.arange(16000 * 2, dtype=np.int16).reshape(16000, 2)
    rec = Audio(frames, 16000, caption="rec")
    flac = Audio(np.arange(-3000, 3000, dtype=np.int16), 8000, format="flac")
    floats = Audio(np.linspace(-1, 1, 999, dtype=np.float32), 8000)
    t = Table(
        columns=["audio", "f"],
        data=[
            [rec.segment(100, 900), floats.segment(10, 20)],
            [rec, flac.segment(5, 4005)],  # a whole clip and segments in one column
            [None, floats],
            [rec.segment(0, 1), None],
        ],
    )
    draft = Artifact("cuts", "dataset")
    draft.add(t, "train")
    v = store.commit(draft)
    stored = v.get("train")
    path = to_parquet(v, "train", tmp_path / "cuts.parquet")

    ds = datasets.Dataset.from_parquet(str(path))
    assert isinstance(ds.features["audio"], datasets.Audio)
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    ds = ds.cast_column("f", datasets.Audio(decode=False))
    for col in ("audio", "f"):
        for row, cell in zip(ds, stored[col]):
            if cell is None:
                assert row[col] is None
                continue
            data = row[col]["bytes"]
            x, rate = soundfile.read(io.BytesIO(data), dtype=cell.dtype, always_2d=cell.ndim == 2)
            # the segment's frames, bit for bit, never the whole recording
            assert rate == cell.sample_rate and np.array_equal(x, cell.numpy())
            if not hasattr(cell, "start"):
                assert data == stored_bytes(cell)  # a whole clip: its file as it is
    flac_seg = ds[1]["f"]
    assert flac_seg["bytes"][:4] == b"fLaC" and flac_seg["path"].endswith(".5-4005.flac")
    assert ds[0]["audio"]["path"].endswith(".100-900.wav")

    back = table_from_parquet(path)
    assert [c is None for c in back["audio"]] == [False, False, True, False]
    for got, want in zip(back["audio"] + back["f"], stored["audio"] + stored["f"]):
        if want is not None:
            assert got.dtype == want.dtype and np.array_equal(got.numpy(), want.numpy())
            assert got.caption == want.caption
    assert back["audio"][0].caption == "rec" and back["audio"][0].frames == 800


def test_parquet_export_of_many_splits_never_ends_a_map_early(tmp_path):
    # a StopIteration escaping to_parquet would end the map() silently after "train"
    store = open_store(str(tmp_path / "store"))
    rec = Audio(np.zeros((1600, 2), np.int16), 16000)
    draft = Artifact("splits", "dataset")
    draft.add(Table(["audio"], [[rec]]), "train")
    draft.add(Table(["audio"], [[rec.segment(0, 8)]]), "dev")
    draft.add(Table(["audio", "x"], [[rec.segment(8, 16), 1]]), "test")
    v = store.commit(draft)
    names = ["train", "dev", "test"]
    done = list(map(lambda n: to_parquet(v, n, tmp_path / f"{n}.parquet"), names))
    assert done == [str(tmp_path / f"{n}.parquet") for n in names]
    assert table_from_parquet(done[1])["audio"][0].frames == 8
    # Audio mixed with other cells in one column: an error naming it, never StopIteration
    draft = Artifact("mixed", "dataset")
    draft.add(Table(["audio"], [[rec], ["text"]]), "t")
    m = store.commit(draft)
    with pytest.raises(ValueError, match="column 'audio' mixes Audio cells with str cells"):
        list(map(lambda n: to_parquet(m, n, tmp_path / "m.parquet"), ["t"]))
    assert not (tmp_path / "m.parquet").exists()
