"""A first end-to-end check: save, commit, reload."""

import numpy as np

from artifacts import Artifact
from media import Audio


def test_commit_and_reload(store):
    clip = Audio(np.arange(100, dtype=np.int16), 8000, caption="c")
    draft = Artifact("clips", type="dataset")
    draft.add(clip, "clip0")
    v0 = store.commit(draft, aliases=["best"])
    assert v0.qualified_name == "clips:v0"
    got = store.artifact("clips:best").get("clip0")
    assert got == clip
    assert got.numpy().tobytes() == clip.numpy().tobytes()
