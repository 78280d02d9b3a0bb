"""Whole-file BLAKE3 digests: recorded at commit for every file a commit writes (manifest
format 2), and what reads check the bytes against (several times faster than sha256).

On every backend (local, ``memory://``, ``s3://`` on moto's server).  The reads are shown to
check the BLAKE3 digest, not the sha256, by a manifest whose ``blake3`` alone is altered: its
``digest`` still matches (BLAKE3 digests are derived data, outside it), the bytes still match
their sha256, and every read path refuses them naming BLAKE3.
"""

from __future__ import annotations

import hashlib
import json
import os

import blake3
import fsspec
import numpy as np
import pytest
from integrity_helpers import resealed

import artifacts
from artifacts import Artifact
from artifacts.manifest import Manifest, canonical_json
from media import Audio, IntegrityError, SchemaError

RATE = 16000


def clip(i: int, seconds: float = 0.25) -> Audio:
    x = (np.sin(np.arange(int(RATE * seconds)) * (i + 1) / 50) * 8000).astype(np.int16)
    return Audio(x, RATE)


def commit_clips(store, n: int = 20, name: str = "clips", big: bool = False, first: int = 0):
    draft = Artifact(name, "dataset")
    for i in range(first, first + n):
        draft.add(clip(i), f"c{i}")
    with draft.new_file("notes.txt") as f:
        f.write(f"notes of {name} " * 50)
    if big:  # a blob of its own (> 4 MiB), with a chunk table
        draft.add(clip(99, seconds=140), "long")
    return store.commit(draft)


def files_of(version) -> dict[str, dict]:
    """The entries whose bytes the store keeps (blobs and pack members)."""
    return {
        p: dict(e)
        for p, e in version.manifest.entries.items()
        if "inline" not in e and "uri" not in e
    }


def put_raw(store, rel: str, data: bytes) -> None:
    """Overwrite the store's file ``rel`` from outside the store (a fresh filesystem)."""
    if "://" not in store.url:
        full = os.path.join(store.url, rel)
        os.chmod(full, 0o644)
        with open(full, "r+b") as f:  # in place, as damage happens
            f.truncate(0)
            f.write(data)
        return
    fs, root = fsspec.core.url_to_fs(store.url, skip_instance_cache=True)
    fs.pipe_file(f"{root.rstrip('/')}/{rel}", data)


def rewrite_manifest(store, version, change) -> None:
    """Replace the stored manifest of ``version`` by ``change(obj)`` (its ``digest`` left
    alone: ``change`` must keep it right)."""
    rel = f"artifacts/{version.name}/versions/{version.version}.json"
    obj = json.loads(store.backend.read(rel))
    change(obj)
    put_raw(store, rel, resealed(obj))


def test_every_written_file_gets_its_blake3_and_format_2(store):
    v = commit_clips(store, big=True)
    assert v.manifest["format"] == 2
    files = files_of(v)
    assert len(files) == 22 and any("pack" in e for e in files.values())
    for path, e in files.items():
        data = v.read_bytes(path)
        assert e["blake3"] == blake3.blake3(data).hexdigest(), path
        assert e["digest"] == hashlib.sha256(data).hexdigest()
    # the JSON values kept inside the manifest have none (their text is checked by sha256)
    inline = [e for e in v.manifest.entries.values() if "inline" in e]
    assert inline and not any("blake3" in e for e in inline)
    Manifest.parse(canonical_json(v.manifest.obj), "again")  # what a reader accepts


def test_a_file_added_by_path_gets_the_blake3_of_its_bytes(store, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(bytes(range(256)) * 300)
    draft = Artifact("files", "dataset")
    draft.add_file(src, "a.bin")
    v = store.commit(draft)
    assert v.manifest.entries["a.bin"]["blake3"] == blake3.blake3(src.read_bytes()).hexdigest()


def test_new_versions_and_copies_keep_the_digests(store, tmp_path):
    v0 = commit_clips(store)
    draft = v0.new_draft()
    draft.add(clip(50), "extra")
    v1 = store.commit(draft)
    for path, e in files_of(v0).items():
        assert v1.manifest.entries[path]["blake3"] == e["blake3"]
    # a value taken from v0 into another artifact: a reference, with the same digest
    other = Artifact("picked", "dataset")
    other.add(v0.get("c3"), "c3")
    v2 = store.commit(other)
    (wav,) = [e for p, e in v2.manifest.entries.items() if p.endswith(".wav")]
    assert wav["blake3"] == v0.manifest.entries[wav["ref"]["path"]]["blake3"]
    assert np.array_equal(v2.get("c3").numpy(), clip(3).numpy())
    # copied to another store: the digests come along and are checked there
    dst = artifacts.open_store(str(tmp_path / "copy"))
    store.copy_to(dst)
    copied = dst.artifact("clips:v1")
    assert {p: e["blake3"] for p, e in files_of(copied).items()} == {
        p: e["blake3"] for p, e in files_of(v1).items()
    }
    copied.verify()


def test_reads_check_the_blake3_digest(store):
    v = commit_clips(store, big=True)  # small files packed, the long clip a chunked blob
    few = commit_clips(store, n=2, name="few", first=500)  # fewer than pack_min: blobs of their own
    packed = next(p for p, e in files_of(v).items() if "pack" in e)
    big = next(p for p, e in files_of(v).items() if "chunks" in e)
    blob = next(p for p, e in files_of(few).items() if p.endswith(".wav"))
    assert "pack" not in files_of(few)[blob] and "chunks" not in files_of(few)[blob]
    wrong = blake3.blake3(b"not these bytes").hexdigest()

    def alter(*paths):
        def change(obj):
            for p in paths:
                obj["entries"][p]["blake3"] = wrong

        return change

    rewrite_manifest(store, v, alter(packed, big))
    rewrite_manifest(store, few, alter(blob))
    fresh = artifacts.open_store(store.url)  # the manifests' digests still match
    art, art_few = fresh.artifact("clips:v0"), fresh.artifact("few:v0")
    for a, path in ((art, packed), (art, big), (art_few, blob)):
        with pytest.raises(IntegrityError, match=f"{path}: stored bytes do not match BLAKE3"):
            a.read_bytes(path)
    with pytest.raises(IntegrityError, match="BLAKE3"):
        with art_few.open_entry(blob) as f:
            f.read()
    value = next(
        n
        for n in art.value_names()
        if json.loads(art.read_bytes(f"{n}.audio-file.json"))["path"] == packed
    )
    with pytest.raises(IntegrityError, match="BLAKE3"):
        art.get(value).numpy()
    problems = art.verify(raise_on_error=False)
    assert sorted(p.split(":", 1)[0] for p in problems) == sorted([packed, big])
    assert all("BLAKE3" in p for p in problems)
    assert [p.split(":", 1)[0] for p in art_few.verify(raise_on_error=False)] == [blob]
    # the other files still read
    ok = next(p for p in files_of(v) if p not in (packed, big))
    assert fresh.artifact("clips:v0").read_bytes(ok)


def test_a_blake3_digest_needs_format_2_and_a_well_formed_value(store):
    v = commit_clips(store, n=2)
    obj = json.loads(canonical_json(v.manifest.obj))
    as_1 = dict(obj, format=1)
    with pytest.raises(SchemaError, match="BLAKE3 digests need manifest format 2"):
        Manifest.parse(resealed(as_1), "x")
    path = next(iter(files_of(v)))
    for bad in ("ABC", "0" * 63, 7):
        broken = json.loads(canonical_json(obj))
        broken["entries"][path]["blake3"] = bad
        with pytest.raises(SchemaError, match="invalid BLAKE3 digest"):
            Manifest.parse(resealed(broken), "x")


def test_a_damaged_pack_member_is_refused_by_its_blake3(store):
    v = commit_clips(store)
    path, e = next((p, e) for p, e in files_of(v).items() if "pack" in e)
    rel = f"packs/{e['pack']}"
    data = bytearray(store.backend.read(rel))
    data[e["offset"] + 60] ^= 0x01
    put_raw(store, rel, bytes(data))
    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    with pytest.raises(IntegrityError, match=rf"{path}: stored bytes do not match BLAKE3"):
        fresh.read_bytes(path)


def test_the_manifest_schema_describes_the_blake3_field(store):
    import jsonschema

    import schemas

    v = commit_clips(store, n=20, big=True)
    validator = jsonschema.Draft202012Validator(schemas.load("manifest"))
    validator.validate(v.manifest.obj)  # the whole manifest, every entry, by the schema
    path = next(p for p, e in v.manifest.entries.items() if "inline" in e)
    bad = json.loads(canonical_json(v.manifest.obj))
    bad["entries"][path]["blake3"] = "0" * 64  # never beside inline text
    assert not validator.is_valid(bad)
    bad = json.loads(canonical_json(v.manifest.obj))
    bad["entries"][next(iter(files_of(v)))]["blake3"] = "0" * 63
    assert not validator.is_valid(bad)


def test_entries_copied_from_a_format_1_store_read_by_sha256(tmp_path):
    from frozen_stores import copy_frozen
    from test_store_format_1 import FILES, FIXTURE

    src = artifacts.open_store(copy_frozen(FIXTURE, FILES, tmp_path))
    old = src.artifact("packed:v0")
    assert not any("blake3" in e for e in old.manifest.entries.values())
    dst = artifacts.open_store(str(tmp_path / "dst"))
    v = dst.commit(old.new_draft())  # another store's entries: their bytes are copied
    copied = files_of(v)
    assert copied and all(
        e["digest"] == old.manifest.entries[p]["digest"] for p, e in copied.items()
    )
    # small files of a format-1 source keep no BLAKE3 (no second read of the source for it)
    assert not any("blake3" in e for e in copied.values())
    for path in copied:
        assert v.read_bytes(path) == old.read_bytes(path)
    v.verify()
