"""Fuzzing the readers with Hypothesis: generated JSON and mutated valid objects.

Targets: ``Value.init_from_json`` (and then every lazy accessor of the value it returns, so
that errors deferred to the first read are fuzzed too), ``Manifest.parse`` /
``check_manifest``, a store reading a planted manifest (open, verify, get every value), and
``Audio`` reading mutated WAV bytes.  Only the project's own errors or ``ValueError`` /
``TypeError`` / ``OSError`` subclasses may escape -- never ``KeyError``, ``IndexError``,
``AttributeError``, ``RecursionError`` or another bare exception.

Each target runs 8 x the profile's ``max_examples`` cases (200 quick, 4000 thorough); the
number tried is printed.
"""

from __future__ import annotations

import copy
import io
import json
import os
import struct
import uuid
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import artifacts
from artifacts import Artifact, Manifest
from artifacts.manifest import canonical_json, check_manifest, entries_digest
from media import Audio, MediaError, Table, Value

EXAMPLES = 8 * settings().max_examples
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=False,
)
ALLOWED = (MediaError, ValueError, TypeError, OSError)
FORBIDDEN = (KeyError, IndexError, AttributeError, RecursionError, AssertionError)


def expect_clean(call) -> str:
    """Run ``call``; return ``"ok"`` or the name of an allowed error, fail on anything else."""
    try:
        call()
    except FORBIDDEN as exc:
        raise AssertionError(f"{type(exc).__name__} escaped: {exc!r}") from exc
    except ALLOWED as exc:
        return type(exc).__name__
    return "ok"


# -- strategies ------------------------------------------------------------------------------
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
HOSTILE_TEXT = st.sampled_from(
    ["", "..", "../x", "/etc/passwd", "C:/x", "a\\b", "a\x00b", "x" * 300, "a//b", "v0"]
)
TAGS = st.sampled_from(["audio-file", "table", "audio", "manifest", "alias", "nope", "", 5])
KEYS = st.text(max_size=8) | st.sampled_from(["_type", "path", "data", "entries"])
json_values = st.recursive(
    SCALARS | HOSTILE_TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=20,
)


def _paths(obj: Any, prefix: tuple = ()) -> list[tuple]:
    """Every location in a JSON object (as a tuple of keys and indexes)."""
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def mutated(draw, base: Any) -> Any:
    """``base`` after 1-4 random mutations: delete, replace, retag, hostile strings."""
    obj = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        locations = _paths(obj)
        where = draw(st.sampled_from(locations))
        new = draw(json_values | HOSTILE_TEXT | TAGS)
        if not where:
            obj = new if draw(st.booleans()) else obj
            continue
        parent = obj
        for step in where[:-1]:
            parent = parent[step]
        op = draw(st.sampled_from(["replace", "delete", "wrap", "retag"]))
        last = where[-1]
        if op == "replace":
            parent[last] = new
        elif op == "delete":
            del parent[last]
        elif op == "wrap":
            parent[last] = [parent[last]] if draw(st.booleans()) else {"_type": parent[last]}
        elif isinstance(parent, dict):
            parent["_type"] = draw(TAGS)
    return obj


# -- fixtures: a store with something to read --------------------------------------------
def _wav(array: np.ndarray, rate: int) -> bytes:
    return Audio(array, rate).in_memory_bytes()


@pytest.fixture(scope="module")
def source():
    """A committed artifact holding a clip, a table and junk entries the fuzzed JSON may name."""
    store = artifacts.open_store(f"memory://fuzz-{uuid.uuid4().hex}")
    draft = Artifact("fuzz", "dataset")
    clip = Audio(np.arange(50, dtype=np.int16), 8000, caption="c")
    draft.add(clip, "clip")
    draft.add(clip.segment(5, 40), "seg")
    draft.add(Table(["a", "b"], [[Audio(np.zeros(3, np.float32), 8000), 1]]), "table")
    good = _wav(np.arange(50, dtype=np.int16), 8000)
    for name, data in {
        "junk.wav": os.urandom(64),
        "short.wav": good[:30],
        "empty.wav": b"",
        "rate0.wav": good[:24] + struct.pack("<I", 0) + good[28:],
    }.items():
        with draft.new_file(name, "wb") as f:
            f.write(data)
    art = store.commit(draft)
    clip_json = json.loads(art.read_bytes("clip.audio-file.json"))
    table_json = json.loads(art.read_bytes("table.table.json"))
    seg_json = json.loads(art.read_bytes("seg.audio-segment.json"))
    return art, clip_json, table_json, seg_json


def poke(value: Any) -> None:
    """Touch everything a caller might touch on a loaded value (lazy reads included)."""
    if isinstance(value, Audio):
        for attr in ("sample_rate", "channels", "frames", "duration", "dtype", "caption"):
            getattr(value, attr)
        value.numpy()
        repr(value)
    elif isinstance(value, Table):
        for row in value.data:
            for cell in row:
                poke(cell)
        repr(value)
    elif isinstance(value, list):
        for v in value:
            poke(v)


def test_init_from_json_on_generated_json(source, capsys):
    art = source[0]
    seen: dict[str, int] = {}

    @FUZZ
    @given(json_values | st.dictionaries(st.just("_type"), TAGS).flatmap(_with_more))
    def run(obj):
        outcome = expect_clean(lambda: poke(Value.init_from_json(obj, art)))
        seen[outcome] = seen.get(outcome, 0) + 1

    run()
    _report(capsys, "init_from_json, generated JSON", seen)


def _with_more(head: dict) -> st.SearchStrategy:
    return st.dictionaries(st.text(max_size=10), json_values, max_size=5).map(
        lambda rest: {**rest, **head}
    )


@pytest.mark.parametrize("kind", ["audio-file", "audio-segment", "table"])
def test_init_from_json_on_mutated_valid_objects(source, kind, capsys):
    art, clip_json, table_json, seg_json = source
    base = {"audio-file": clip_json, "audio-segment": seg_json, "table": table_json}[kind]
    junk_paths = st.sampled_from(["junk.wav", "short.wav", "empty.wav", "rate0.wav"])
    seen: dict[str, int] = {}

    @FUZZ
    @given(mutated(base), junk_paths, st.booleans())
    def run(obj, junk, point_at_junk):
        if point_at_junk and isinstance(obj, dict) and "path" in obj:
            obj = {**obj, "path": junk}  # the JSON names an entry that is not audio
        outcome = expect_clean(lambda: poke(Value.init_from_json(obj, art)))
        seen[outcome] = seen.get(outcome, 0) + 1

    run()
    _report(capsys, f"init_from_json, mutated {kind}", seen)


def _manifest_obj(art: Artifact) -> dict:
    return json.loads(canonical_json(art.manifest.obj))


@pytest.mark.parametrize("fix_digest", [False, True])
def test_manifest_reader_on_mutated_manifests(source, fix_digest, capsys):
    base = _manifest_obj(source[0])
    seen: dict[str, int] = {}

    @FUZZ
    @given(mutated(base) | json_values)
    def run(obj):
        if fix_digest and isinstance(obj, dict) and isinstance(obj.get("entries"), dict):
            try:
                obj["digest"] = entries_digest(obj["entries"])
            except (KeyError, TypeError, AttributeError):
                pass  # the forger's tool failed; the reader still gets the object
        data = json.dumps(obj).encode()
        outcome = expect_clean(lambda: Manifest.parse(data, "fuzzed.json"))
        expect_clean(lambda: check_manifest(obj))
        seen[outcome] = seen.get(outcome, 0) + 1

    run()
    _report(capsys, f"Manifest.parse, mutated manifests (digest fixed: {fix_digest})", seen)


def test_store_reading_a_planted_manifest(source, tmp_path_factory, capsys):
    art = source[0]
    base = _manifest_obj(art)
    root = tmp_path_factory.mktemp("planted")
    store = artifacts.open_store(str(root / "store"))
    # the planted manifest may name the source's blobs: copy them into this store
    for e in art.manifest.entries.values():
        if "inline" in e:  # travels inside the manifest
            continue
        path = f"blobs/sha256/{e['digest'][:2]}/{e['digest'][2:]}"
        store.backend.write(path, art.store.backend.read(path))
    versions = root / "store" / "artifacts" / "fuzz" / "versions"
    versions.mkdir(parents=True)
    seen: dict[str, int] = {}

    @FUZZ
    @given(mutated(base))
    def run(obj):
        if isinstance(obj, dict) and isinstance(obj.get("entries"), dict):
            try:
                obj["digest"] = entries_digest(obj["entries"])
            except (KeyError, TypeError, AttributeError):
                pass
        (versions / "v0.json").write_bytes(json.dumps(obj).encode())

        def read():
            fresh = artifacts.open_store(str(root / "store"))
            a = fresh.artifact("fuzz:v0")
            a.verify(raise_on_error=False)
            for name in a.value_names():
                expect_clean(lambda name=name: poke(a.get(name)))
            fresh.gc(dry_run=True, grace=0)

        outcome = expect_clean(read)
        seen[outcome] = seen.get(outcome, 0) + 1

    run()
    _report(capsys, "store reading a planted manifest", seen)


class BytesSource:
    """A media source that returns the same bytes for any path (no digest check)."""

    def __init__(self, data: bytes):
        self.data = data

    def open_media(self, path, sha256=None, size=None):
        return io.BytesIO(self.data)


@st.composite
def mutated_wav(draw) -> bytes:
    dtype = draw(st.sampled_from(["int16", "int32", "float32", "float64"]))
    channels = draw(st.integers(1, 3))
    frames = draw(st.just(0) | st.integers(channels, 20))  # frames >= channels, or none
    data = bytearray(_wav(np.zeros((frames, channels), dtype), draw(st.integers(1, 96000))))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "u32", "u16", "cut", "append"]))
        if op == "cut":
            del data[draw(st.integers(0, len(data))) :]
        elif op == "append":
            data += draw(st.binary(max_size=16))
        elif data:
            i = draw(st.integers(0, len(data) - 1))
            if op == "flip":
                data[i] ^= 1 << draw(st.integers(0, 7))
            elif op == "u32" and i + 4 <= len(data):
                struct.pack_into("<I", data, i, draw(st.sampled_from([0, 1, 2**31, 2**32 - 1])))
            elif op == "u16" and i + 2 <= len(data):
                struct.pack_into("<H", data, i, draw(st.sampled_from([0, 1, 3, 0xFFFE, 0xFFFF])))
    return bytes(data)


def test_audio_reading_mutated_wav_bytes(capsys):
    seen: dict[str, int] = {}
    meta = {"sample_rate": 8000, "frames": 4, "channels": 1, "dtype": "int16", "ndim": 1}

    @FUZZ
    @given(mutated_wav(), st.booleans())
    def run(data, full_json):
        obj = {"_type": "audio-file", "path": "x.wav", "sha256": "0" * 64}
        if full_json:
            obj.update(meta)
        outcome = expect_clean(lambda: poke(Value.init_from_json(obj, BytesSource(data))))
        expect_clean(lambda: poke(Audio(io.BytesIO(data))))
        seen[outcome] = seen.get(outcome, 0) + 1

    run()
    _report(capsys, "Audio reading mutated WAV bytes", seen)


def _report(capsys, what: str, seen: dict[str, int]) -> None:
    total = sum(seen.values())
    assert total > 0
    with capsys.disabled():
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(seen.items()))
        print(f"\nfuzz: {what}: {total} cases ({outcomes})")
