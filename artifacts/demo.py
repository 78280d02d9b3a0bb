"""``make demo``: save audio into a versioned artifact in the embedded store, reload it."""

from __future__ import annotations

import numpy as np

from artifacts import Artifact, open_store
from media import Audio


def main() -> None:
    """Run the demo and print what it did."""
    store = open_store()  # the embedded default store, a local folder
    print(f"store: {store.url}")
    t = np.arange(16000) / 16000
    clip = Audio(
        np.sin(2 * np.pi * 440 * t).astype(np.float32), sample_rate=16000, caption="440 Hz"
    )
    draft = Artifact("demo-clips", type="dataset", metadata={"source": "make demo"})
    draft.add(clip, "a440")
    committed = store.commit(draft, aliases=["demo"])
    print(f"committed {committed.qualified_name} (aliases: {', '.join(committed.aliases)})")
    loaded = store.artifact("demo-clips:latest").get("a440")
    print(f"reloaded {loaded!r} from {loaded.artifact_source.artifact.qualified_name}")
    same = np.array_equal(loaded.numpy(), clip.numpy())
    print(
        f"samples bit-exact: {same}; sample rate {loaded.sample_rate}, "
        f"{loaded.channels} channel(s), {loaded.duration} s, caption {loaded.caption!r}"
    )


if __name__ == "__main__":
    main()
