"""The manifest check's two ways: a quick verdict in bulk (the compiled schema plus what it
does not say) for the common manifest, and the field-by-field loop that names the first bad
field.  Whatever the way, a manifest is refused exactly when the loop refuses it, with the
loop's error."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from integrity_helpers import resealed

import artifacts
import schemas
from artifacts import Artifact, Manifest
from artifacts.manifest import (
    _check_fields,
    _digest_of_checked,
    _surely_valid,
    canonical_json,
    check_manifest,
    entries_digest,
)
from media import Audio, IntegrityError

HEX = "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """The manifest JSON of a format-2 version with pack members, inline value JSONs and a
    blob, and of a version that references the first."""
    store = artifacts.open_store(str(tmp_path_factory.mktemp("store")))
    draft = Artifact("clips", "dataset")
    rng = np.random.default_rng(0)
    for i in range(20):  # (16 small files or more go into a pack)
        draft.add(Audio(rng.standard_normal(200).astype(np.float32), 8000), f"clip{i}")
    draft.add(Audio(rng.standard_normal(1_200_000).astype(np.float32), 8000), "long")
    v0 = store.commit(draft)
    copy_ = Artifact("copy", "dataset")
    copy_.add(v0.get("clip0"), "clip0")
    v1 = store.commit(copy_)
    return [json.loads(canonical_json(v.manifest.obj)) for v in (v0, v1)]


def loop_verdict(obj) -> tuple[type, str] | None:
    """What the field-by-field loop alone says of ``obj`` (then the digest)."""
    try:
        _check_fields(obj)
        if entries_digest(obj["entries"]) != obj["digest"]:
            raise IntegrityError("manifest digest does not match its entries (it was altered)")
    except (schemas.SchemaError, IntegrityError) as exc:
        return type(exc), str(exc)
    return None


def verdict(obj) -> tuple[type, str] | None:
    try:
        check_manifest(obj)
    except (schemas.SchemaError, IntegrityError) as exc:
        return type(exc), str(exc)
    return None


def with_entry(base: dict, change, fmt: int | None = None) -> dict:
    """``base`` with ``change(path, entry)`` applied to its first pack member (the digest
    fixed, as a careful forger would)."""
    obj = copy.deepcopy(base)
    path = next(p for p, e in sorted(obj["entries"].items()) if "pack" in e)
    change(obj["entries"], path)
    if fmt is not None:
        obj["format"] = fmt
    obj["digest"] = entries_digest(obj["entries"])
    return obj


def setter(field, value):
    def change(entries, path):
        entries[path][field] = value

    return change


def renamer(name):
    def change(entries, path):
        entries[name] = entries.pop(path)

    return change


def drop_format_2(entries, path):
    for e in entries.values():
        e.pop("blake3", None)
        e.pop("chunks", None)


def test_the_committed_manifests_take_the_quick_way(committed, monkeypatch):
    kinds = {artifacts.manifest.entry_kind(e) for m in committed for e in m["entries"].values()}
    assert {"packed", "inline", "blob"} <= kinds
    assert any("chunks" in e for e in committed[0]["entries"].values())

    def loop(obj):
        raise AssertionError("the field-by-field loop ran")

    monkeypatch.setattr(artifacts.manifest, "_check_fields", loop)
    for obj in committed:
        assert _surely_valid(obj)
        Manifest.parse(resealed(obj), "m.json")


# what the schema does not say, each refused by the loop with the field named
REFUSED_BEYOND_THE_SCHEMA = {
    "size 5.0": (setter("size", 5.0), None, r"\.size: invalid size 5\.0"),
    "offset 0.0": (setter("offset", 0.0), None, r"\.pack: pack \(a 64-hex id\) and offset"),
    "a component of 256 bytes": (
        renamer("a" * 256 + ".wav"),
        None,
        r"Invalid entry name .*a component is longer than 255 bytes",
    ),
    "a BLAKE3 digest in format 1": (
        setter("blake3", HEX),
        1,
        r"\.blake3: BLAKE3 digests need manifest format 2",
    ),
    "a chunk table in format 1": (
        lambda entries, path: (
            drop_format_2(entries, path),
            entries[path].update(chunks={"algorithm": "blake3", "size": 32768, "table": HEX}),
        ),
        1,
        r"\.chunks: chunk tables need manifest format 2",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_BEYOND_THE_SCHEMA))
def test_what_the_schema_does_not_say_is_still_refused(committed, case):
    change, fmt, message = REFUSED_BEYOND_THE_SCHEMA[case]
    obj = with_entry(committed[0], change, fmt)
    assert not _surely_valid(obj)
    with pytest.raises(schemas.SchemaError, match=message):
        Manifest.parse(resealed(obj), "m.json")
    assert verdict(obj) == loop_verdict(obj) is not None


@pytest.mark.parametrize(
    "name", ["with space.wav", "été/a.wav", "é" * 127, "ab:c.wav", ".hidden", "a/-b", "a\nb"]
)
def test_names_the_quick_way_leaves_to_the_loop_are_still_accepted(committed, name):
    obj = with_entry(committed[0], renamer(name))
    assert not _surely_valid(obj)  # (not surely safe: the loop checks them)
    assert verdict(obj) is None
    Manifest.parse(resealed(obj), "m.json")


def test_an_entry_by_uri_takes_the_quick_way_and_its_digest_the_general_one(committed):
    def by_uri(entries, path):
        entries["ref.bin"] = {"size": 5, "uri": 's3://b/k"\\', "etag": "e\n1"}

    obj = with_entry(committed[0], by_uri)
    assert _surely_valid(obj) and verdict(obj) is None
    assert _digest_of_checked(obj["entries"]) == entries_digest(obj["entries"])
    obj["entries"]["ref.bin"]["etag"] = "e\n2"  # (the digest not fixed)
    assert verdict(obj) == loop_verdict(obj) is not None


@pytest.mark.parametrize("fmt", [1, 2])
def test_a_format_1_manifest_without_blake3_passes(committed, fmt):
    obj = with_entry(committed[0], drop_format_2, fmt)
    assert _surely_valid(obj) and verdict(obj) is None


# values that are wrong for some fields and right for others, or nearly right
TRICKY = st.sampled_from(
    [0, 1, 7, -1, 2**53, 2**53 + 1, 2**70, 5.0, 0.5, True, False, None, "", "x", HEX]
    + [HEX.upper(), HEX + "\n", HEX[:-1], "a" * 4096, "é" * 4097, "\ud800"]
    + [[], {}, {"algorithm": "blake3", "size": 32768, "table": HEX}, {"artifact": "a:v0"}]
    + [{"artifact": "a:v0", "path": "p", "store": "memory://x"}, "s3://b/k"]
)
FIELDS = st.sampled_from(
    ["size", "digest", "pack", "offset", "blake3", "chunks", "inline", "uri", "etag", "ref"]
    + ["options", "other"]
)
NAMES = st.sampled_from(
    ["a.wav", "a b.wav", "../a", "a//b", "/a", "a/", "C:a", "a\\b", "a\x00b", "", "é"]
    + ["x" * 256, "clip0.audio-file.json", "a\nb"]
)


@st.composite
def mutations(draw, bases):
    obj = copy.deepcopy(draw(st.sampled_from(bases)))
    entries = obj["entries"]
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(sorted(entries)))
        op = draw(st.sampled_from(["set", "delete", "rename", "format"]))
        if op == "set":
            entries[path][draw(FIELDS)] = draw(TRICKY)
        elif op == "delete" and entries[path]:
            del entries[path][draw(st.sampled_from(sorted(entries[path])))]
        elif op == "rename":
            entries[draw(NAMES)] = entries.pop(path)
        elif op == "format":
            obj["format"] = draw(st.sampled_from([1, 2, 3, 2.0, None]))
        if not entries:
            break
    if draw(st.booleans()):
        try:
            obj["digest"] = entries_digest(entries)
        except (KeyError, TypeError, AttributeError, UnicodeEncodeError):
            pass  # (no digest can be made of it: the manifest keeps its old one)
    return obj


def test_the_quick_way_never_passes_what_the_loop_refuses(committed):
    @settings(
        max_examples=8 * settings().max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(mutations(committed))
    def run(obj):
        if _surely_valid(obj):
            _check_fields(obj)  # must not raise
            assert _digest_of_checked(obj["entries"]) == entries_digest(obj["entries"])
        assert verdict(obj) == loop_verdict(obj)

    run()


def test_value_names_are_indexed_as_the_name_pattern_says(committed, tmp_path):
    # the index of value names tries only the names that can match VALUE_JSON_RE, which
    # ends at the end of the name ("\Z"): a name with a final newline is a file, not a value
    from artifacts.entryset import EntrySet

    class Entries(EntrySet):
        def __init__(self, entries):
            self._entries, self._index = entries, None

    entries = dict(committed[0]["entries"])
    entries["odd.audio-file.json\n"] = entries["clip0.audio-file.json"]
    names = Entries(entries).value_names()
    assert "odd" not in names and "clip0" in names and "long" in names
    assert not any(n.startswith("media/") for n in names)
