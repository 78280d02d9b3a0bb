"""Segments: ``clip.segment(start, stop)``, a range of a recording's file.

Round trips (through JSON, a run and a store on every backend), storage (a recording is
stored once however many segments name it, and not at all when the store already holds it),
reads (a reloaded segment reads its window only, counted by a real
:class:`media.FolderSource` subclass) and the wandb client, which must not take a segment's
JSON for the whole recording.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import uuid

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st
from strategies import DTYPES, segments
from test_windows import CountingSource, clip_json

import schemas
from artifacts import Artifact, Run, open_store, view
from artifacts.backend import LocalBackend
from media import Audio, AudioSegment, FolderSource, SchemaError, Table, Value


def store_files(store) -> dict[str, int]:
    """Every file of the store and its size, read around the store (folder or fsspec)."""
    backend = store.backend
    if isinstance(backend, LocalBackend):
        out = {}
        for dirpath, _, filenames in os.walk(backend.root):
            for f in filenames:
                full = os.path.join(dirpath, f)
                out[os.path.relpath(full, backend.root)] = os.path.getsize(full)
        return out
    backend.fs.invalidate_cache()
    found = backend.fs.find(backend.root, detail=True)
    return {path: info["size"] for path, info in found.items()}


def new_files(store, before: dict[str, int]) -> dict[str, int]:
    return {p: n for p, n in store_files(store).items() if before.get(p) != n}


def recording(seconds=60, rate=16000, channels=1) -> Audio:
    rng = np.random.default_rng(seconds)
    return Audio(rng.integers(-20000, 20000, (seconds * rate, channels), dtype=np.int16), rate)


# -- round trips -------------------------------------------------------------------------------
@given(segment=segments(), window=st.data(), dtype=st.sampled_from((None, *DTYPES)))
def test_segments_round_trip_through_json_a_run_and_a_store(
    segment, window, dtype, store, tmp_path_factory
):
    a = window.draw(st.integers(0, segment.frames))
    b = window.draw(st.integers(a, segment.frames))
    rec = segment.recording
    want = rec.numpy(segment.start + a, segment.start + b, dtype=dtype)
    assert segment.numpy().tobytes() == rec.numpy(segment.start, segment.stop).tobytes()

    run_dir = tmp_path_factory.mktemp("run")
    run = Run(dir=run_dir)
    run.log({"s": segment})
    (row,) = run.history()
    draft = Artifact(f"s-{uuid.uuid4().hex[:10]}", "dataset")
    draft.add(segment, "s")
    committed = store.commit(draft)
    obj = json.loads(committed.read_bytes("s.audio-segment.json"))
    schemas.validate(obj)
    assert (obj["start"], obj["stop"]) == (segment.start, segment.stop)
    assert obj["frames"] == segment.frames == segment.stop - segment.start
    for loaded in (row["s"], committed.get("s"), Value.init_from_json(obj, committed)):
        assert type(loaded) is AudioSegment and loaded == segment
        assert (loaded.start, loaded.stop) == (segment.start, segment.stop)
        got = loaded.numpy(a, b, dtype=dtype)
        assert (got.dtype, got.shape, got.tobytes()) == (want.dtype, want.shape, want.tobytes())
        assert loaded.recording.numpy().tobytes() == rec.numpy().tobytes()


def test_a_segment_is_an_audio_of_the_range():
    clip = Audio(np.arange(2000, dtype=np.float32).reshape(1000, 2), 8000, caption="rec")
    seg = clip.segment(100, 350)
    assert isinstance(seg, Audio) and type(seg) is AudioSegment
    assert (seg.sample_rate, seg.channels, seg.dtype, seg.ndim) == (8000, 2, "float32", 2)
    assert (seg.frames, seg.duration, seg.caption) == (250, 250 / 8000, "rec")
    assert np.array_equal(seg.numpy(), clip.numpy(100, 350))
    assert np.array_equal(seg.numpy(10, 20, dtype="int16"), clip.numpy(110, 120, dtype="int16"))
    inner = seg.segment(50, 60)
    assert (inner.start, inner.stop, inner.recording) == (150, 160, clip)
    assert np.array_equal(inner.numpy(), clip.numpy(150, 160))
    assert seg.sha256 == clip.sha256  # the file is the recording's
    # equal: the same frames; a range of equal length elsewhere is another segment
    assert clip.segment(100, 350) == seg and clip.segment(101, 351) != seg
    assert clip.segment(0, 0) == clip.segment(5, 5)
    assert seg != clip and clip != seg
    assert "frames 100..350 of a clip in memory" in repr(seg)


# -- storage -----------------------------------------------------------------------------------
def test_thousands_of_segments_store_the_recording_once(store):
    rec = recording(seconds=300)  # 9.6 MB
    size = rec.size
    before = store_files(store)
    draft = Artifact("many", "dataset")
    for i in range(1000):
        draft.add(rec.segment(i * 4000, i * 4000 + 16000), f"s{i}")
    draft.add(Table(["clip"], [[rec.segment(i, i + 100)] for i in range(0, 2_000_000, 1000)]), "t")
    v0 = store.commit(draft)
    media = [p for p in v0.manifest.entries if p.startswith("media/")]
    assert media == [f"media/audio/{rec.sha256[:20]}.wav"]
    assert v0.get_entry(media[0]).size == size
    written = new_files(store, before)
    json_bytes = sum(e.size for p, e in v0.entries.items() if p.endswith(".json"))
    assert size <= sum(written.values()) < size + json_bytes + (1 << 20)
    assert sum(written.values()) < 2 * size
    assert len(v0.get("t").data) == 2000
    assert np.array_equal(v0.get("s999").numpy(), rec.numpy(999 * 4000, 999 * 4000 + 16000))


def test_a_segment_of_a_stored_clip_writes_no_audio_bytes(store):
    rec = recording(seconds=20)
    draft = Artifact("rec", "dataset")
    draft.add(rec, "rec")
    stored = store.commit(draft).get("rec")
    before = store_files(store)
    draft = Artifact("segs", "dataset")
    for i in range(50):
        draft.add(stored.segment(i * 1000, i * 1000 + 8000), f"s{i}")
    v0 = store.commit(draft)
    written = new_files(store, before)
    assert all("/segs/" in p for p in written), written  # its manifest only: no blob, no pack
    assert sum(written.values()) < 64 << 10
    (path,) = [p for p in v0.manifest.entries if p.startswith("media/")]
    assert "ref" in v0.manifest.entries[path]
    assert np.array_equal(v0.get("s7").numpy(), rec.numpy(7000, 15000))


def test_a_reloaded_segment_reads_only_its_window(tmp_path):
    rate = 16000
    t = np.arange(rate * 600)
    sf.write(tmp_path / "long.wav", (t % 20000 - 10000).astype(np.int16), rate, subtype="PCM_16")
    source = CountingSource(tmp_path)
    clip = Value.init_from_json(clip_json(tmp_path / "long.wav", "long.wav"), source)
    start = 400 * rate
    seg = clip.segment(start, start + 5 * rate)
    obj = json.loads(json.dumps(AudioSegment.to_json(seg, _Target())))
    assert source.whole_bytes == source.range_bytes == 0  # nothing read to describe it
    loaded = Value.init_from_json(obj, source)
    samples = loaded.numpy()
    assert np.array_equal(samples, (t[start : start + 5 * rate] % 20000 - 10000).astype(np.int16))
    assert source.whole_bytes == 0 and source.range_bytes <= 4096 + 5 * rate * 2
    source.range_bytes = 0
    assert np.array_equal(loaded.numpy(100, 200, dtype="float32"), samples[100:200] / 32768)
    assert source.range_bytes <= 4096 + 200


class _Target:
    """A target that keeps files where they are (as a folder of files written elsewhere)."""

    def store_media(self, media):
        return media.source_file()[1]


def test_segments_logged_to_a_run_copy_the_recording_once(tmp_path):
    rec = recording(seconds=5, channels=2)
    run = Run(dir=tmp_path)
    for step in range(30):
        run.log({"seg": rec.segment(step * 100, step * 100 + 2000), "other": rec.segment(0, 10)})
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path / "media") for f in fs]
    assert files == [str(tmp_path / "media/audio/recordings" / f"{rec.sha256[:20]}.wav")]
    rows = run.history()
    assert np.array_equal(rows[29]["seg"].numpy(), rec.numpy(2900, 4900))
    assert rows[3]["other"] == rec.segment(0, 10)


def test_a_list_of_segments_is_not_logged_as_whole_clips(tmp_path):
    rec = recording(seconds=1)
    run = Run(dir=tmp_path)
    with pytest.raises(ValueError, match="log each audio-segment under its own key"):
        run.log({"one": rec.segment(0, 10), "l": [rec, rec.segment(0, 10)]})
    assert not os.path.exists(tmp_path / "media")  # checked before any file was copied
    assert run.history() == []


# -- the wandb client --------------------------------------------------------------------------
class CountingEntries:
    """What the client asks of a source artifact: ``get_entry(path).download()``, counted."""

    def __init__(self, artifact, root):
        self.artifact, self.root, self.downloads = artifact, root, []

    def get_entry(self, path):
        source = self

        class Entry:
            def download(self, root=None):
                source.downloads.append(path)
                dest = source.root / path
                dest.parent.mkdir(parents=True, exist_ok=True)
                dest.write_bytes(source.artifact.read_bytes(path))
                return str(dest)

        return Entry()


def test_the_wandb_client_does_not_take_a_segment_for_the_whole_recording(wandb, store, tmp_path):
    from wandb.sdk.data_types.base_types.wb_value import WBValue

    rec = recording(seconds=2)
    draft = Artifact("segs", "dataset")
    draft.add(rec.segment(100, 1100), "seg")
    draft.add(Table(["clip", "n"], [[rec.segment(0, 500), 1], [rec.segment(9, 10), 2]]), "t")
    draft.add(Table(["clip"], [[rec.segment(0, 500)], [rec]]), "mixed")
    v0 = store.commit(draft)
    source = CountingEntries(v0, tmp_path / "download")

    obj = json.loads(v0.read_bytes("seg.audio-segment.json"))
    assert WBValue.init_from_json(obj, source) is None  # no type for it: nothing loaded
    table = wandb.Table.from_json(json.loads(v0.read_bytes("t.table.json")), source)
    for (cell, _), stop in zip(table.data, (500, 10)):
        assert not isinstance(cell, wandb.Audio)  # left as the JSON it is
        assert cell["_type"] == "audio-segment" and cell["stop"] == stop
    assert source.downloads == []  # the recording was not fetched
    # beside a whole clip in one column: the client refuses the table
    with pytest.raises(TypeError, match="incompatible types"):
        wandb.Table.from_json(json.loads(v0.read_bytes("mixed.table.json")), source)


def test_the_page_plays_the_segment_not_the_recording(tmp_path):
    rec = recording(seconds=3)
    draft = Artifact("p", "dataset")
    draft.add(rec.segment(1000, 5000), "seg")
    page = view.render([open_store(tmp_path / "s").commit(draft)])
    (wav,) = re.findall(r'src="data:audio/wav;base64,([^"]+)"', page)
    played, rate = sf.read(io.BytesIO(base64.b64decode(wav)), dtype="int16")
    assert rate == 16000 and np.array_equal(played, rec.numpy(1000, 5000)[:, 0])
    assert "frames 1000 to 5000 of the recording (int16 WAV)" in page
    # compared with another range of the same file, the change is named
    draft = Artifact("p", "dataset")
    draft.add(rec.segment(1000, 5000), "seg")
    a = open_store(tmp_path / "s").commit(draft)
    draft = Artifact("p", "dataset")
    draft.add(rec.segment(2000, 6000), "seg")
    b = open_store(tmp_path / "s").commit(draft)
    changes = view.compare(a, b)["values"]["seg"]["changes"]
    # (the same file, so no sha256 change; other frames of it, so other samples)
    assert changes == {"start": [1000, 2000], "stop": [5000, 6000], "samples": [None, "changed"]}


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "stop"), [(-1, 5), (5, 4), (0, 101), (101, 102)])
def test_segments_outside_the_clip_say_what_is_allowed(start, stop):
    clip = Audio(np.zeros(100, dtype=np.int16), 8000)
    with pytest.raises(ValueError, match=r"Invalid segment .* 0 <= start <= stop <= 100"):
        clip.segment(start, stop)
    with pytest.raises(ValueError, match=r"0 <= start <= stop <= 10\b"):
        clip.segment(0, 10).segment(start, stop)


def test_segment_bounds_and_clips_have_the_right_types():
    clip = Audio(np.zeros(100, dtype=np.int16), 8000)
    for start, stop in [(1.0, 10), ("3", 10), (0, 10.5), (True, 5), (0, np.float64(3))]:
        with pytest.raises(TypeError, match="frame index"):
            clip.segment(start, stop)
    with pytest.raises(TypeError, match="a segment is a range of an Audio clip"):
        AudioSegment(np.zeros(10), 0, 5)


def segment_json(**changes):
    obj = {
        "_type": "audio-segment",
        "path": "media/audio/x.wav",
        "sha256": "0" * 64,
        "size": 100,
        "start": 10,
        "stop": 20,
        "sample_rate": 8000,
        "duration": 10 / 8000,
        "channels": 1,
        "frames": 10,
        "dtype": "int16",
        "ndim": 1,
        "caption": None,
    }
    obj.update(changes)
    return {k: v for k, v in obj.items() if v is not ...}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"frames": 11}, "$.frames"),
        ({"start": 30, "stop": 20, "frames": -10}, "$.frames"),
        ({"start": -1}, "$.start"),
        ({"stop": ...}, "$"),
        ({"size": ...}, "$"),
        ({"channels": 2}, "$.ndim"),
        ({"path": "../x.wav"}, "$.path"),
    ],
)
def test_bad_segment_json_is_refused_naming_the_field(changes, field):
    with pytest.raises(SchemaError) as info:
        Value.init_from_json(segment_json(**changes), FolderSource("."))
    assert info.value.field == field and info.value.tag == "audio-segment"
