"""Files written by the wandb client 0.31 (``tests/fixtures/wandb_generated/basic/``) load here.

wandb's audio-file JSON carries only ``_type``, ``path``, ``sha256``, sometimes ``size`` and
``caption``; sample rate, duration and channels come from the media file.  The clips: a
1-second 16 kHz mono 440 Hz sine (caption ``"x"``) and a 0.5-second stereo clip (660 Hz left,
880 Hz right, amplitude 0.5, no caption), both stored by wandb as 16-bit PCM WAV.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import artifacts
import schemas
from artifacts import Artifact, Run
from artifacts.run import load_row, read_history
from media import Audio, FolderSource, IntegrityError, Value

# made by tests/fixtures/wandb_generated/make.py with the real client (test_wandb_generated.py
# checks that the client still writes exactly these files)
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "wandb_generated" / "basic"
EXPECTED_FILES = [
    "artifact/clip0.audio-file.json",
    "artifact/media/audio/293ddc5e3c2e349dc387.wav",
    "run_files/media/audio/a_0_2122efeed254db10980d.wav",
    "run_files/media/audio/l_1_2122efeed254db10980d.wav",
    "run_files/media/audio/l_1_571fd60687fb4879bc98.wav",
    "run_history_audio_list.json",
    "run_history_single_audio.json",
]
QUANTUM = 1 / 32768  # one step of 16-bit PCM


@pytest.fixture(scope="module")
def fixtures() -> Path:
    missing = [f for f in EXPECTED_FILES if not (FIXTURES / f).is_file()]
    if missing:
        pytest.fail(
            f"the wandb fixtures are missing from {FIXTURES}: {missing}. Make them with the "
            "real client: WANDB_MODE=offline .venv/bin/python "
            "tests/fixtures/wandb_generated/make.py",
            pytrace=False,
        )
    return FIXTURES


def row(fixtures: Path, name: str) -> dict:
    return json.loads((fixtures / f"run_history_{name}.json").read_text(encoding="utf-8"))


def sine(seconds: float, hz: float, amplitude: float = 1.0) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    return amplitude * np.sin(2 * np.pi * hz * t)


def check_mono(clip: Audio) -> None:
    assert isinstance(clip, Audio)
    assert (clip.sample_rate, clip.duration, clip.channels) == (16000, 1.0, 1)
    assert (clip.frames, clip.dtype, clip.ndim) == (16000, "int16", 1)
    assert clip.caption == "x"
    samples = clip.numpy()
    assert samples.dtype == np.int16 and samples.shape == (16000,)
    assert np.abs(samples / 32768 - sine(1.0, 440)).max() <= QUANTUM * 1.0001


def check_stereo(clip: Audio) -> None:
    assert isinstance(clip, Audio)
    assert (clip.sample_rate, clip.duration, clip.channels) == (16000, 0.5, 2)
    assert (clip.frames, clip.dtype, clip.ndim) == (8000, "int16", 2)
    assert clip.caption is None
    samples = clip.numpy()
    assert samples.dtype == np.int16 and samples.shape == (8000, 2)
    expected = np.stack([sine(0.5, 660, 0.5), sine(0.5, 880, 0.5)], axis=1)
    assert np.abs(samples / 32768 - expected).max() <= QUANTUM * 1.0001


def test_the_fixtures_are_there(fixtures):
    assert fixtures.is_dir()


def test_wandb_json_lacks_the_metadata_and_still_validates(fixtures):
    single = row(fixtures, "single_audio")["a"]
    assert set(single) == {"_type", "caption", "path", "sha256", "size"}
    listed = row(fixtures, "audio_list")["l"]
    assert "caption" not in listed["audio"][1]
    staged = json.loads((fixtures / "artifact/clip0.audio-file.json").read_text())
    assert set(staged) == {"_type", "caption", "path", "sha256"}
    for obj in (single, listed, staged, *listed["audio"]):
        schemas.validate(obj)
    for name in ("single_audio", "audio_list"):
        schemas.validate(row(fixtures, name), "history-row")


def test_single_audio_row_loads_through_init_from_json(fixtures):
    obj = row(fixtures, "single_audio")["a"]
    source = FolderSource(fixtures / "run_files")
    clip = Value.init_from_json(obj, source, name="a")
    assert clip.artifact_source.artifact is source and clip.artifact_source.name == "a"
    assert repr(clip).startswith("Audio(<not yet read: media/audio/a_0_")
    check_mono(clip)
    assert clip.sha256 == obj["sha256"] and clip.size == obj["size"] == 32044
    assert repr(clip) == "Audio(int16, 16000 Hz, 1 ch, 1.000 s, caption='x')"


def test_audio_list_row_loads_with_metadata_from_the_files(fixtures):
    got = load_row(row(fixtures, "audio_list"), FolderSource(fixtures / "run_files"))
    assert got["_step"] == 1
    first, second = got["l"]
    check_mono(first)
    check_stereo(second)
    assert Audio.sample_rates(got["l"]) == [16000, 16000]
    assert Audio.durations(got["l"]) == [1.0, 0.5]
    assert Audio.captions(got["l"]) == ["x", ""]


def test_wandb_history_reads_as_a_run_history(fixtures, tmp_path):
    lines = [json.dumps(row(fixtures, n)) for n in ("single_audio", "audio_list")]
    (tmp_path / "history.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.copytree(fixtures / "run_files" / "media", tmp_path / "media")
    rows = read_history(tmp_path)
    assert [r["_step"] for r in rows] == [0, 1]
    check_mono(rows[0]["a"])
    check_mono(rows[1]["l"][0])
    check_stereo(rows[1]["l"][1])
    assert rows[0]["a"] == rows[1]["l"][0]  # the same clip, logged twice
    run = Run(dir=tmp_path, resume=True)  # a run continues wandb's history
    assert run.step == 2
    run.log({"b": rows[1]["l"][1]})
    check_stereo(run.history()[-1]["b"])


def test_artifact_json_without_size_loads(fixtures):
    obj = json.loads((fixtures / "artifact/clip0.audio-file.json").read_text())
    clip = Value.init_from_json(obj, FolderSource(fixtures / "artifact"), name="clip0")
    check_mono(clip)
    wav = (fixtures / "artifact" / obj["path"]).read_bytes()
    assert clip.size == len(wav) and clip.sha256 == hashlib.sha256(wav).hexdigest()


def test_wandb_clips_move_into_a_run_and_a_store_unchanged(fixtures, tmp_path):
    got = load_row(row(fixtures, "audio_list"), FolderSource(fixtures / "run_files"))
    stereo = got["l"][1]
    original = (fixtures / "run_files" / got["l"][1].source_file()[1]).read_bytes()
    run = Run(dir=tmp_path / "run")
    written = run.log({"s": stereo})["s"]
    assert (tmp_path / "run" / written["path"]).read_bytes() == original  # not re-encoded
    assert written["sample_rate"] == 16000 and written["duration"] == 0.5
    assert written["channels"] == 2 and written["caption"] is None
    assert written["size"] == len(original)
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("from-wandb", type="dataset")
    draft.add(stereo, "stereo")
    v0 = store.commit(draft)
    back = v0.get("stereo")
    check_stereo(back)
    assert back == stereo
    assert back.numpy().tobytes() == stereo.numpy().tobytes()


def test_a_tampered_wandb_file_is_detected(fixtures, tmp_path):
    shutil.copytree(fixtures / "run_files", tmp_path / "run_files")
    obj = row(fixtures, "single_audio")["a"]
    path = tmp_path / "run_files" / obj["path"]
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    path.write_bytes(bytes(data))
    clip = Value.init_from_json(obj, FolderSource(tmp_path / "run_files"))
    with pytest.raises(IntegrityError, match=r"a_0_2122efeed254db10980d\.wav.*sha256"):
        clip.numpy()
