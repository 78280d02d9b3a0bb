"""Round trips of every built-in value: through JSON, through a Run, through a store.

One property test over ``st.from_type(Value)`` (strategies registered in ``strategies.py``)
checks for every drawn value: samples bit-exact, metadata equal, JSON valid against its
schema, and the canonical form stable: encode(decode(encode(x))) == encode(x) byte for byte.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from typing import Any

import numpy as np
from hypothesis import find, given
from hypothesis import strategies as st
from strategies import audio_arrays, audios, sample_rates

import schemas
from artifacts import Artifact, Run, read_history
from artifacts.manifest import canonical_json
from media import ArtifactSource, Audio, AudioSegment, FolderSource, Table, Value

AUDIO_META = ("sample_rate", "channels", "frames", "duration", "caption", "dtype", "ndim")


def encode(value: Value, target: Any) -> bytes:
    """The canonical bytes of a value's JSON."""
    return canonical_json(value.to_json(target))


def assert_same_audio(a: Audio, b: Audio) -> None:
    """Metadata equal, and samples with the same dtype, shape and bits."""
    assert {m: getattr(b, m) for m in AUDIO_META} == {m: getattr(a, m) for m in AUDIO_META}
    x, y = a.numpy(), b.numpy()
    assert (y.dtype, y.shape) == (x.dtype, x.shape)
    assert y.tobytes() == x.tobytes()


def assert_same(a: Value, b: Value) -> None:
    """``b`` (loaded) is ``a`` (original): type, content, and equality both ways."""
    assert type(b) is type(a)
    if isinstance(a, Audio):
        assert_same_audio(a, b)
    else:
        assert isinstance(a, Table) and isinstance(b, Table)
        assert b.columns == a.columns
        assert len(b.data) == len(a.data)
        for row_a, row_b in zip(a.data, b.data):
            for x, y in zip(row_a, row_b):
                assert type(y) is type(x)
                if isinstance(x, Audio):
                    assert_same_audio(x, y)
                else:
                    assert y == x
    assert b == a and a == b
    assert not (b != a)


def assert_valid(obj: dict[str, Any]) -> None:
    """The JSON and the JSON of every value nested in a table validate."""
    schemas.validate(obj)
    if obj["_type"] == "table":
        for row in obj["data"]:
            for cell in row:
                if isinstance(cell, dict):
                    schemas.validate(cell)


def json_via_run(value: Value) -> None:
    with tempfile.TemporaryDirectory() as d:
        run = Run(dir=d)
        value.bind_to_run(run, "v", 0)
        obj = json.loads(json.dumps(value.to_json(run)))
        assert obj["_type"] == value.artifact_type
        assert_valid(obj)
        source = FolderSource(d)
        loaded = Value.init_from_json(obj, source)
        assert loaded.artifact_source == ArtifactSource(source, None)
        assert_same(value, loaded)
        # canonical form: rebinding the loaded value gives the same bytes
        first = encode(value, run)
        loaded.bind_to_run(run, "v", 0)
        assert encode(loaded, run) == first


def via_run_history(value: Value) -> None:
    with tempfile.TemporaryDirectory() as d:
        run = Run(dir=d)
        row = run.log({"v": value, "loss": 0.5})
        schemas.validate(row, "history-row")
        (got,) = run.history()
        assert got["_step"] == 0 and got["loss"] == 0.5
        assert_same(value, got["v"])
        assert got["v"].artifact_source is not None
        with open(f"{d}/history.jsonl", encoding="utf-8") as f:
            for line in f:
                schemas.validate(json.loads(line), "history-row")
                assert_valid(json.loads(line)["v"])


def via_store(value: Value, store: Any) -> None:
    name = f"rt-{uuid.uuid4().hex[:12]}"
    draft = Artifact(name, type="dataset")
    entry = draft.add(value, "v")
    assert entry.path == Value.type_mapping()[value.artifact_type].with_suffix("v")
    committed = store.commit(draft)
    raw = committed.read_bytes(entry.path)
    assert_valid(json.loads(raw))
    got = committed.get("v")
    assert got.artifact_source.artifact is committed
    assert got.artifact_source.name == "v"
    assert_same(value, got)
    # canonical form: the loaded value, added to another draft, writes the same bytes
    assert encode(got, Artifact(name + "-again", type="dataset")) == raw


@given(value=st.from_type(Value))
def test_every_value_round_trips_through_json_a_run_and_a_store(value, store):
    json_via_run(value)
    via_run_history(value)
    via_store(value, store)


def test_from_type_value_draws_every_builtin_type():
    for cls in (Audio, AudioSegment, Table):
        assert isinstance(find(st.from_type(Value), lambda v, c=cls: type(v) is c), cls)


@given(array=audio_arrays(), rate=sample_rates())
def test_samples_survive_two_runs_bit_for_bit(array, rate):
    """A clip logged in one run, read back, and logged into a second run is unchanged."""
    clip = Audio(array, rate)
    with tempfile.TemporaryDirectory() as d1, tempfile.TemporaryDirectory() as d2:
        Run(dir=d1).log({"a": [clip, clip]})
        (row,) = read_history(d1)
        first, second = row["a"]
        Run(dir=d2).log({"a": first})
        (row2,) = read_history(d2)
        for got in (first, second, row2["a"]):
            assert got.numpy().tobytes() == array.tobytes()
            assert (got.numpy().dtype, got.numpy().shape) == (array.dtype, array.shape)


FLAC_RATES = st.one_of(st.integers(1, 65535), st.integers(6554, 65535).map(lambda r: r * 10))


@given(
    array=audio_arrays().filter(lambda a: a.dtype == np.int16 and a.shape[0] > 0),
    rate=FLAC_RATES,
)
def test_flac_int16_round_trips_bit_for_bit(array, rate):
    clip = Audio(array, rate, format="flac")
    assert clip.extension == "flac"
    with tempfile.TemporaryDirectory() as d:
        run = Run(dir=d)
        row = run.log({"a": clip})
        assert row["a"]["path"].endswith(".flac")
        (got,) = run.history()
        assert_same_audio(clip, got["a"])


@given(clips=st.lists(audios(max_frames=50), min_size=1, max_size=4))
def test_audio_lists_round_trip_in_seq_form(clips):
    with tempfile.TemporaryDirectory() as d:
        run = Run(dir=d)
        row = run.log({"clips": clips})
        seq = row["clips"]
        schemas.validate(seq, "audio")
        assert seq["count"] == len(clips)
        assert seq["sampleRates"] == [c.sample_rate for c in clips]
        assert seq["durations"] == [c.duration for c in clips]
        assert ("captions" in seq) == any(c.caption is not None for c in clips)
        (got,) = run.history()
        assert len(got["clips"]) == len(clips)
        for a, b in zip(clips, got["clips"]):
            assert_same_audio(a, b)
