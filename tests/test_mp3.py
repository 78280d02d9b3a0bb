"""MP3s made by a real encoder: frames and duration come from decoding, not the header.

sox (with Debian's ``libsox-fmt-mp3``, installed by ``make test``) encodes through LAME.  For
its constant-bit-rate files the header's frame count is only an estimate (soundfile says 79670
where decoding gives 79488), so a clip that recorded the estimate could not be read back.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

import artifacts
from artifacts import Artifact
from media import Audio, FolderSource, Value

RATE = 44100


@pytest.fixture(scope="module")
def sox():
    path = shutil.which("sox")
    assert path, "sox is missing: make test installs it (apt-get install sox libsox-fmt-mp3)"
    return path


@pytest.fixture(scope="module")
def wav(tmp_path_factory):
    t = np.arange(77760) / RATE
    left = 0.3 * np.sin(2 * np.pi * 440 * t) * np.linspace(0, 1, t.size)
    stereo = np.stack([left, left[::-1]], axis=1).astype(np.float32)
    path = tmp_path_factory.mktemp("mp3") / "tone.wav"
    sf.write(path, stereo, RATE, subtype="PCM_16")
    return path


def encode(sox: str, wav, out, compression: str):
    subprocess.run([sox, str(wav), "-C", compression, str(out)], check=True)
    return out


def decoded(path) -> np.ndarray:
    return sf.read(path, dtype="float32", always_2d=True)[0]


# CBR: the header estimates the frame count; VBR: a Xing header gives it (both must hold)
@pytest.mark.parametrize("compression", ["128", "-4.2"], ids=["cbr", "vbr"])
def test_mp3_frames_and_duration_come_from_decoding(sox, wav, tmp_path, compression):
    mp3 = encode(sox, wav, tmp_path / "tone.mp3", compression)
    samples = decoded(mp3)
    if compression == "128":  # the case the fix is for: the header's count is off
        assert sf.info(mp3).frames != len(samples)
    clip = Audio(str(mp3), caption="speech")
    assert (clip.frames, clip.channels, clip.sample_rate) == (len(samples), 2, RATE)
    assert clip.duration == len(samples) / RATE

    store = artifacts.open_store(tmp_path / "store")
    draft = Artifact("mp3s", "dataset")
    draft.add(clip, "tone")
    v0 = store.commit(draft)
    obj = json.loads(v0.read_bytes("tone.audio-file.json"))
    assert (obj["frames"], obj["duration"]) == (len(samples), len(samples) / RATE)
    assert v0.verify() == []
    back = artifacts.open_store(tmp_path / "store").artifact("mp3s:v0").get("tone")
    assert back.numpy().shape == samples.shape
    assert np.array_equal(back.numpy(), samples)


def test_mp3_from_bytes_and_from_json_without_metadata(sox, wav, tmp_path):
    mp3 = encode(sox, wav, tmp_path / "tone.mp3", "128")
    frames = len(decoded(mp3))
    assert Audio(io.BytesIO(mp3.read_bytes())).frames == frames
    # JSON as the wandb client writes it (no frames): read from the file, by decoding
    clip = Audio(str(mp3))
    obj = {"_type": "audio-file", "path": "tone.mp3", "sha256": clip.sha256, "caption": None}
    loaded = Value.init_from_json(obj, FolderSource(tmp_path))
    assert loaded.frames == frames
    assert loaded.numpy().shape == (frames, 2)


def test_ogg_vorbis_header_count_is_exact(sox, wav, tmp_path):
    # OGG's frame count comes from the last page's granule position: exact, as decoded
    ogg = tmp_path / "tone.ogg"
    subprocess.run([sox, str(wav), str(ogg)], check=True)
    clip = Audio(str(ogg))
    assert clip.frames == len(decoded(ogg)) == sf.info(ogg).frames
