"""Interop with the wandb client 0.31: what it wrote loads here, and it reads what we write.

Fixtures: ``tests/fixtures/wandb_generated/`` and its ``basic/`` folder (made by its ``make.py``
with the real client, offline).
The client itself is imported for real: ``make test`` installs it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

import schemas
from artifacts import Artifact, Run
from artifacts.run import load_row, read_history
from media import Audio, FolderSource, Table

GENERATED = Path(__file__).parent / "fixtures" / "wandb_generated"
BASIC = GENERATED / "basic"


def load_folder(store, folder: Path, name: str = "from-wandb"):
    draft = Artifact(name, "dataset")
    draft.add_dir(folder)
    return store.commit(draft)


# -- artifacts the client wrote -----------------------------------------------------------
def test_basic_artifact_folder_loads(store):
    v0 = load_folder(store, BASIC / "artifact")
    clip = v0.get("clip0")
    assert isinstance(clip, Audio)
    assert (clip.sample_rate, clip.channels, clip.duration) == (16000, 1, 1.0)
    assert clip.caption == "x" and clip.dtype == "int16"
    samples = clip.numpy()
    t = np.arange(16000) / 16000
    assert samples.shape == (16000,)
    assert np.abs(samples / 32768 - np.sin(2 * np.pi * 440 * t)).max() <= 1 / 32768 + 1e-9
    assert (
        clip.sha256
        == json.loads((BASIC / "artifact" / "clip0.audio-file.json").read_text())["sha256"]
    )


@pytest.mark.parametrize(
    ("name", "rate", "channels", "frames", "caption", "ext"),
    [
        ("stereo", 16000, 2, 8000, "stereo clip", "wav"),
        ("int16", 16000, 1, 4000, "int16 clip", "wav"),
        ("flac", 22050, 1, 8000, "from a FLAC file", "flac"),
        ("nocap", 8000, 1, 8000, None, "wav"),
    ],
)
def test_generated_artifact_clips_load(store, name, rate, channels, frames, caption, ext):
    v0 = load_folder(store, GENERATED / "artifact")
    assert sorted(v0.value_names()) == ["flac", "int16", "nocap", "stereo"]
    raw = json.loads((GENERATED / "artifact" / f"{name}.audio-file.json").read_text())
    assert set(raw) <= {"_type", "path", "sha256", "caption"}  # what the client writes
    clip = v0.get(name)
    assert (clip.sample_rate, clip.channels, clip.frames) == (rate, channels, frames)
    assert clip.duration == frames / rate
    assert clip.caption == caption and clip.extension == ext
    samples = clip.numpy()
    assert samples.shape == ((frames,) if channels == 1 else (frames, channels))
    assert samples.dtype == np.int16  # the client writes 16-bit PCM
    if name == "int16":  # int16 input is kept exactly
        source = (np.sin(2 * np.pi * 440 * np.arange(4000) / 16000) * 20000).astype(np.int16)
        assert np.array_equal(samples, source)
    if name == "flac":
        assert raw["path"] == f"media/audio/{raw['sha256'][:20]}/chirp.flac"

    # saved again by us: our full JSON, the same file, no bytes copied
    draft = Artifact("ours", "dataset")
    draft.add(clip, name)
    ours = store.commit(draft)
    obj = json.loads(ours.read_bytes(f"{name}.audio-file.json"))
    schemas.validate(obj)
    assert obj["path"] == raw["path"] and obj["sha256"] == raw["sha256"]
    assert (obj["sample_rate"], obj["channels"], obj["caption"]) == (rate, channels, caption)
    assert ours.get(name) == clip


# -- history rows the client wrote ---------------------------------------------------------
def test_basic_history_rows_load():
    source = FolderSource(BASIC / "run_files")
    row = load_row(json.loads((BASIC / "run_history_single_audio.json").read_text()), source)
    a = row["a"]
    assert (row["_step"], a.caption, a.sample_rate, a.channels, a.duration) == (0, "x", 16000, 1, 1)
    row = load_row(json.loads((BASIC / "run_history_audio_list.json").read_text()), source)
    first, second = row["l"]
    assert first.caption == "x" and second.caption is None
    assert (second.sample_rate, second.channels, second.duration) == (16000, 2, 0.5)
    left, right = second.numpy().T / 32768
    t = np.arange(8000) / 16000
    assert np.abs(left - 0.5 * np.sin(2 * np.pi * 660 * t)).max() <= 1 / 32768 + 1e-9
    assert np.abs(right - 0.5 * np.sin(2 * np.pi * 880 * t)).max() <= 1 / 32768 + 1e-9


def test_generated_history_rows_load_through_read_history(tmp_path):
    shutil.copytree(GENERATED / "run_files", tmp_path / "run")
    rows = json.loads((GENERATED / "history_rows.json").read_text())
    with open(tmp_path / "run" / "history.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    loaded = read_history(tmp_path / "run")
    assert [r["_step"] for r in loaded] == [0, 1, 2, 3]
    stereo, flac = loaded[0]["stereo"], loaded[1]["flac"]
    assert (stereo.channels, stereo.sample_rate, stereo.caption) == (2, 16000, "stereo clip")
    assert (flac.sample_rate, flac.frames, flac.extension) == (22050, 8000, "flac")
    pair = loaded[2]["pair"]
    assert [c.caption for c in pair] == ["int16 clip", None]
    assert Audio.sample_rates(pair) == rows[2]["pair"]["sampleRates"] == [16000, 8000]
    assert Audio.durations(pair) == rows[2]["pair"]["durations"] == [0.25, 1.0]
    # a clip the client made from a path: null rate and duration in the row, read from the file
    files = loaded[3]["files"]
    assert rows[3]["files"]["sampleRates"] == [None, 8000]
    assert Audio.sample_rates(files) == [22050, 8000]
    assert files[0].numpy().tolist() == flac.numpy().tolist()

    # logged again by our own run: our JSON, which the same reader loads
    run = Run(dir=tmp_path / "ours")
    run.log({"files": files})
    (again,) = run.history()
    assert again["files"] == files


# -- the client reads ours -----------------------------------------------------------------
class _Entry:
    """What ``wandb.Audio.from_json`` asks of an entry: ``download()`` -> a local path."""

    def __init__(self, artifact, path: str, root: Path):
        self.artifact, self.path, self.root = artifact, path, root

    def download(self, root: str | None = None) -> str:
        dest = Path(root or self.root) / self.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.artifact.read_bytes(self.path))
        return str(dest)


class MinimalSource:
    """A minimal source artifact for the wandb client: ``get_entry(path)`` serves our files."""

    def __init__(self, artifact, root: Path):
        self.artifact, self.root = artifact, root

    def get_entry(self, path: str) -> _Entry:
        return _Entry(self.artifact, path, self.root)


def our_clips() -> dict[str, Audio]:
    t = np.arange(4000) / 16000
    mono16 = (np.sin(2 * np.pi * 440 * t) * 12000).astype(np.int16)
    stereo = np.stack([np.sin(2 * np.pi * 330 * t), np.cos(2 * np.pi * 550 * t)], 1)
    return {
        "mono16": Audio(mono16, 16000, caption="int16 mono"),
        "stereo32": Audio(stereo.astype(np.float32), 16000, caption="float32 stereo"),
        "nocap64": Audio(np.linspace(-1, 1, 3000), 48000),
        "flac": Audio(mono16, 16000, format="flac"),
    }


def test_the_wandb_client_reads_our_audio_file_json(wandb, store, tmp_path):
    clips = our_clips()
    draft = Artifact("ours", "dataset")
    for name, clip in clips.items():
        draft.add(clip, name)
    v0 = store.commit(draft)
    source = MinimalSource(v0, tmp_path / "download")
    for name, clip in clips.items():
        obj = json.loads(v0.read_bytes(f"{name}.audio-file.json"))
        assert "caption" in obj  # null when none: the client's from_json needs the key
        theirs = wandb.Audio.from_json(obj, source)
        assert isinstance(theirs, wandb.Audio)
        assert theirs._sha256 == obj["sha256"] == clip.sha256
        assert theirs._caption == clip.caption
        samples, rate = soundfile.read(theirs._path, dtype=clip.dtype, always_2d=clip.ndim == 2)
        assert rate == clip.sample_rate
        assert samples.tobytes() == clip.numpy().tobytes()


def test_ours_to_the_client_and_back(wandb, store, tmp_path):
    clips = our_clips()
    draft = Artifact("ours", "dataset")
    draft.add(Table(["clip", "name"], [[c, n] for n, c in clips.items()]), "table")
    v0 = store.commit(draft)
    source = MinimalSource(v0, tmp_path / "download")

    theirs = wandb.Artifact("roundtrip", type="dataset")
    cells = json.loads(v0.read_bytes("table.table.json"))["data"]
    for obj, name in cells:  # the JSON of our table's cells, as the client reads it
        theirs.add(wandb.Audio.from_json(obj, source), name)
    staged = tmp_path / "staged"
    for path, entry in theirs.manifest.entries.items():
        (staged / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry.local_path, staged / path)
    assert os.path.exists(staged / "mono16.audio-file.json")

    back = load_folder(store, staged, "back")
    for name, clip in clips.items():
        got = back.get(name)
        assert got.sha256 == clip.sha256 and got.caption == clip.caption
        assert got.numpy().tobytes() == clip.numpy().tobytes()
        assert got.numpy().dtype == clip.numpy().dtype
