"""Any Audio survives commit, a store reopened in a new process, and ``get``, bit for bit.

Each Hypothesis example commits a few clips and starts one fresh interpreter that opens the
same store URL and prints what ``get`` returns; subprocesses are slow, so examples are few.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import audios

from artifacts import Artifact, open_store

READER = r"""
import base64, json, sys
from artifacts import open_store

url, ref = sys.argv[1], sys.argv[2]
art = open_store(url).artifact(ref)
out = {"qualified_name": art.qualified_name, "clips": {}}
for name in art.value_names():
    clip = art.get(name)
    samples = clip.numpy()
    out["clips"][name] = {
        "source": [clip.artifact_source.artifact.qualified_name, clip.artifact_source.name],
        "dtype": samples.dtype.str,
        "shape": list(samples.shape),
        "samples": base64.b64encode(samples.tobytes()).decode(),
        "sample_rate": clip.sample_rate,
        "caption": clip.caption,
        "sha256": clip.sha256,
    }
json.dump(out, sys.stdout)
"""

EXAMPLES = max(3, settings.default.max_examples // 5)


def _read_in_new_process(url: str, ref: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", READER, url, ref],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def url(request, tmp_path):
    """A store URL another process can open: a local folder, or s3:// on moto's server."""
    if request.param == "local":
        return str(tmp_path / "store")
    return request.getfixturevalue("s3_bucket") + "/store"


@settings(max_examples=EXAMPLES)
@given(clips=st.lists(audios(max_frames=200), min_size=1, max_size=3))
def test_any_audio_round_trips_through_a_new_process(url, clips):
    name = f"clips-{uuid.uuid4().hex[:8]}"
    draft = Artifact(name, type="dataset")
    for i, clip in enumerate(clips):
        draft.add(clip, f"clip{i}")
    committed = open_store(url).commit(draft)
    got = _read_in_new_process(url, f"{name}:latest")
    assert got["qualified_name"] == committed.qualified_name
    assert sorted(got["clips"]) == [f"clip{i}" for i in range(len(clips))]
    for i, clip in enumerate(clips):
        out = got["clips"][f"clip{i}"]
        expected = clip.numpy()
        assert out["source"] == [committed.qualified_name, f"clip{i}"]
        assert (out["dtype"], out["shape"]) == (expected.dtype.str, list(expected.shape))
        assert base64.b64decode(out["samples"]) == expected.tobytes()
        assert (out["sample_rate"], out["caption"]) == (clip.sample_rate, clip.caption)
        assert out["sha256"] == clip.sha256
