"""``make demo``: the three user jobs end to end on the embedded default store.

1. Save audio into a versioned artifact (two versions; running the demo again adds none,
   because equal content makes no new version).
2. Reload it from the artifact's JSON, bit for bit.
3. Register a custom type (``Marker``, defined below) and use it, alone and in a table.

Then it writes the HTML preview of the latest version side by side with the first, and
prints where it is: ``python -m artifacts.demo [OUT.html]``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, ClassVar

import numpy as np

from artifacts import Artifact, ArtifactNotFoundError, default_store_path, open_store, view
from media import Audio, Table, Value, register

RATE = 16000


class Marker(Value):
    """A labelled moment of a recording: ``Marker("onset", 0.25)``."""

    artifact_type: ClassVar[str] = "demo-marker"
    json_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["_type", "label", "at"],
        "additionalProperties": False,
        "properties": {
            "_type": {"const": "demo-marker"},
            "label": {"type": "string"},
            "at": {"type": "number", "minimum": 0},
        },
    }

    def __init__(self, label: str, at: float):
        self.label = label
        self.at = float(at)

    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """``{"_type": "demo-marker", "label": ..., "at": seconds}``."""
        return {"_type": self.artifact_type, "label": self.label, "at": self.at}

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> Marker:
        """Rebuild a marker from its JSON."""
        return cls(json_obj["label"], json_obj["at"])

    def _eq_key(self) -> Any:
        return (self.label, self.at)

    def __repr__(self) -> str:
        return f"Marker({self.label!r}, {self.at})"


def _tone(freq: float, seconds: float, decay: float = 3.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t) * np.exp(-decay * t)).astype(np.float32)


def _clips() -> dict[str, Audio]:
    """Deterministic clips (the same bytes on every run)."""
    chord = np.stack([_tone(261.63, 1.0) + _tone(329.63, 1.0), _tone(392.0, 1.0)], axis=1)
    noise = np.random.default_rng(0).standard_normal(RATE // 2) * np.linspace(0.3, 0, RATE // 2)
    return {
        "a440": Audio(_tone(440, 1.0, 1.0), RATE, caption="A4, 440 Hz"),
        "chord": Audio(chord, RATE, caption="C major, stereo"),
        "noise": Audio(noise, RATE, caption="a noise burst (float64)"),
        "beep": Audio((_tone(1000, 0.25, 0.0) * 32767).astype(np.int16), RATE, caption="beep"),
    }


def main(argv: list[str] | None = None) -> str:
    """Run the demo, print what it did, and return the path of the HTML preview."""
    argv = sys.argv[1:] if argv is None else argv
    store = open_store()  # the embedded default store, a local folder
    print(f"store: {store.url}")
    clips = _clips()

    # 1. save audio into a versioned artifact
    draft = Artifact("demo-clips", type="dataset", metadata={"source": "make demo"})
    for name in ("a440", "chord", "noise"):
        draft.add(clips[name], name)
    try:  # a second run finds the versions the first run made: equal content, no new version
        first = store.artifact("demo-clips:first")
        if first.digest != draft.digest:
            raise ArtifactNotFoundError("demo-clips:first holds something else")
    except ArtifactNotFoundError:
        first = store.commit(draft, aliases=["first"])
    draft = first.new_draft()
    draft.add(clips["beep"], "beep")
    second = store.commit(draft)
    print(
        f"1. saved {first.qualified_name} ({len(first.value_names())} clips) and "
        f"{second.qualified_name} (+ beep); aliases {', '.join(store.aliases('demo-clips'))}"
    )

    # 2. reload it from the artifact's JSON
    latest = store.artifact("demo-clips:latest")
    raw = json.loads(latest.read_bytes("a440.audio-file.json"))
    shown = {k: raw[k] for k in ("_type", "path", "sample_rate", "duration")}
    print(f"2. a440.audio-file.json: {json.dumps(shown)}")
    for name, clip in clips.items():
        loaded = latest.get(name)
        same = np.array_equal(loaded.numpy(), clip.numpy())
        assert same and loaded.numpy().dtype == clip.numpy().dtype, name
        print(f"   {name}: {loaded!r}, bit-exact {same}")

    # 3. register a custom type and use it
    register(Marker)
    draft = Artifact("demo-annotated", type="dataset")
    draft.add(Marker("onset", 0.0), "first-onset")
    table = Table(
        ["clip", "marker"],
        [[latest.get("a440"), Marker("peak", 0.01)], [latest.get("beep"), Marker("end", 0.25)]],
    )
    draft.add(table, "annotated")
    annotated = store.commit(draft)
    back = annotated.get("annotated")
    assert annotated.get("first-onset") == Marker("onset", 0.0) and back == table
    print(
        f"3. registered Marker ('demo-marker'); {annotated.qualified_name} holds "
        f"{annotated.get('first-onset')!r} and a table with {back['marker']!r}"
    )

    # the HTML preview: the latest version beside the first
    out = (
        argv[0]
        if argv
        else os.path.join(
            os.path.dirname(os.path.abspath(default_store_path())), "previews", "demo-clips.html"
        )
    )
    path = view.write([store.artifact("demo-clips:first"), latest], out)
    table_page = view.write([annotated], os.path.join(os.path.dirname(path), "demo-annotated.html"))
    print(f"preview: {path}\n         {table_page}")
    return path


if __name__ == "__main__":
    main()
