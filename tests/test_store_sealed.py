"""Sealed manifests: every manifest a commit writes begins with ``"_seal"``, the sha256 of
the file's bytes with the seal's own digits read as zeros, checked whenever a manifest is
read, before anything in it is used.  The manifest's ``digest`` covers only the content
(path, sha256, size), so before seals a manifest whose derived data (an entry's ``blake3``,
``chunks``, ``pack``, ``offset``), references or metadata were edited read as if nothing had
happened; now any such edit raises :class:`IntegrityError` naming the version.

``tests/fixtures/store-sealed/`` (``tests/fixtures/make_store_sealed.py``) is a store of
sealed manifests frozen by the code of 2026-12-01, read bit-exact here: it pins the seal's
definition.  Manifests written before seals (``tests/fixtures/store-format-1``, ``-2``) have
none and are read as before.
"""

from __future__ import annotations

import hashlib
import json
import os

import blake3
import numpy as np
import pytest
from frozen_stores import copy_frozen, read_only_copy
from integrity_helpers import open_backend_store
from test_store_format_2 import RAMP, TEXT, clip_samples

import artifacts
from artifacts import Artifact
from artifacts.manifest import canonical_json, pack_path
from media import Audio, IntegrityError

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "store-sealed")
PACK = "5f8f21610cb05383dc547c35292e11c61773f3b301d76a24c19d947f76ec9da9"
TOMBSTONE_SHA = "7318a33b4ff1fd5a236f6707b7e9f0d1bba6242b613135262830bd5b26577a6e"
#: sha256 of every file of the frozen store: a change here means the fixture was altered
FILES = {
    "artifacts/clips/aliases/best.json": (
        "761473f200c3b6b46b6c1911c38db668cc441c897626e476e5b5f4c888633573"
    ),
    "artifacts/clips/versions/v0.json": (
        "c74fc24f309efbbae0b0d54fa01c0987dc7b9500830fa7cfac1f3c354d2c4f14"
    ),
    "artifacts/derived/versions/v0.json": (
        "55cea6822e234b251c3da1d801797efb3c7d7b27f981323ee46b9753ca3ff167"
    ),
    "artifacts/scratch/versions/v0.deleted": TOMBSTONE_SHA,
    "artifacts/scratch/versions/v0.json": TOMBSTONE_SHA,
    "artifacts/scratch/versions/v1.json": (
        "586ffb7cfad1cc64ff4e840fcf096ec5dbf02f0a6c5162be01e06df5ffecc035"
    ),
    **{
        f"blobs/sha256/{d[:2]}/{d[2:]}": d
        for d in (
            "2b0014e66f864580e34aef0c265bf70a68f64efdec2a2e3d9a894a4e4bdcaf3b",
            "a07219764af338a96455bf5ce10c5080e6ca79286196bfa9d60301adc19f9157",
        )
    },
    f"packs/{PACK}": "bb1cbf13214b2e8e1d85ade98d2e95b1da69277de9927616e9bfc40ec4326b9a",
    f"packs/{PACK}.idx": "cd3f204e27a3e5f0b3f462134d3b1d694ddd67b16cedfecf42e07c690169c756",
    "store.json": "e3e5ceae8759a9640b08375ba2e0d7f62c8df77aac43b6dbe092ee34f7da089c",
}
MANIFESTS = {
    "clips:v0": "artifacts/clips/versions/v0.json",
    "derived:v0": "artifacts/derived/versions/v0.json",
    "scratch:v1": "artifacts/scratch/versions/v1.json",
}


@pytest.fixture
def frozen(tmp_path):
    """A copy of the frozen store; the test fails if reading it changed any file."""
    yield from read_only_copy(FIXTURE, FILES, tmp_path)


def seal_of(data: bytes) -> str:
    """The seal of stored manifest bytes, computed here from its definition: the sha256
    of the bytes with the seal's 64 hex digits (after ``{"_seal":"``) read as zeros."""
    head = b'{"_seal":"'
    assert data.startswith(head) and data[len(head) + 64 : len(head) + 66] == b'",'
    return hashlib.sha256(head + b"0" * 64 + data[len(head) + 64 :]).hexdigest()


def test_the_frozen_sealed_store_reads_bit_exact(frozen):
    store = artifacts.open_store(frozen)
    assert store.names() == ["clips", "derived", "scratch"]
    assert store.aliases("clips") == {"best": "v0", "latest": "v0"}
    assert store.versions("scratch") == ["v1"]
    for ref, rel in MANIFESTS.items():
        with open(os.path.join(frozen, rel), "rb") as f:
            data = f.read()
        version = store.artifact(ref)
        assert json.loads(data)["_seal"] == seal_of(data) == version.manifest["_seal"]
        assert canonical_json(version.manifest.obj) == data  # canonical JSON, seal first
        assert version.verify() == []
    clips = store.artifact("clips:best")
    assert clips.metadata == {"rate": 16000}
    assert np.array_equal(clips.get("ramp").numpy(), RAMP)
    rows = clips.get("train").data
    assert len(rows) == 12
    for k, (clip, _) in enumerate(rows):
        assert np.array_equal(clip.numpy(), clip_samples(k))
    for path, data in TEXT.items():
        assert clips.read_bytes(path) == data
    assert np.array_equal(store.artifact("derived:v0").get("same-ramp").numpy(), RAMP)
    assert store.artifact("scratch:v1").read_bytes("notes.txt") == b"second draft\n"


def _edit_in_place(root: str, rel: str, old: bytes, new: bytes) -> None:
    """Replace the one occurrence of ``old`` by ``new`` in the store's file ``rel``."""
    full = os.path.join(root, rel)
    with open(full, "rb") as f:
        data = f.read()
    assert data.count(old) == 1, old
    os.chmod(full, 0o644)
    with open(full, "wb") as f:
        f.write(data.replace(old, new))


def _first_packed(root: str) -> tuple[str, dict]:
    with open(os.path.join(root, MANIFESTS["clips:v0"]), "rb") as f:
        entries = json.loads(f.read())["entries"]
    return next((p, e) for p, e in sorted(entries.items()) if "pack" in e)


# fields outside the manifest's digest, each edited in place (the digest stays right)
EDITS = {
    "an entry's blake3": lambda e: (f'"blake3":"{e["blake3"]}"', f'"blake3":"{"0" * 64}"'),
    "an entry's offset": lambda e: (f'"offset":{e["offset"]},', f'"offset":{e["offset"] + 2},'),
    "the metadata": lambda e: ('"metadata":{"rate":16000}', '"metadata":{"rate":16001}'),
    "the description": lambda e: ('"description":"short clips"', '"description":"long clips"'),
}


@pytest.mark.parametrize("what", sorted(EDITS))
def test_a_sealed_manifest_altered_outside_its_digest_is_refused(tmp_path, what):
    root = copy_frozen(FIXTURE, FILES, tmp_path)
    old, new = EDITS[what](_first_packed(root)[1])
    _edit_in_place(root, MANIFESTS["clips:v0"], old.encode(), new.encode())
    store = artifacts.open_store(root)
    with pytest.raises(IntegrityError) as info:
        store.artifact("clips:v0")
    message = str(info.value)
    assert message.startswith(os.path.join(root, MANIFESTS["clips:v0"]) + ": ")
    assert "the manifest of clips:v0 does not match its seal" in message
    assert "restore the file from a backup of the store" in message
    # the other versions still read
    assert store.artifact("scratch:v1").read_bytes("notes.txt") == b"second draft\n"


def test_a_manifest_whose_seal_was_removed_reads_as_one_written_before_seals(tmp_path):
    root = copy_frozen(FIXTURE, FILES, tmp_path)
    rel = MANIFESTS["scratch:v1"]
    with open(os.path.join(root, rel), "rb") as f:
        data = f.read()
    _edit_in_place(root, rel, data[: len('{"_seal":"') + 66], b"{")
    version = artifacts.open_store(root).artifact("scratch:v1")
    assert "_seal" not in version.manifest.obj and version.verify() == []


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_bytes_forged_with_their_blake3_are_refused_when_the_version_is_opened(tmp_path, backend):
    store = open_backend_store(backend, tmp_path)
    draft = Artifact("clips", "dataset")
    for i in range(20):  # packed
        draft.add(Audio(np.full(800, i, np.int16), 8000), f"c{i}")
    version = store.commit(draft)
    path, e = next((p, e) for p, e in version.manifest.entries.items() if "pack" in e)
    pack = store.backend.read(pack_path(e["pack"]))
    at = e["offset"] + e["size"] - 1
    forged = pack[e["offset"] : at] + bytes([pack[at] ^ 1])
    store.backend.write(pack_path(e["pack"]), pack[: e["offset"]] + forged + pack[at + 1 :])
    rel = "artifacts/clips/versions/v0.json"
    data = store.backend.read(rel)
    old = f'"blake3":"{e["blake3"]}"'.encode()
    new = f'"blake3":"{blake3.blake3(forged).hexdigest()}"'.encode()
    store.backend.write(rel, data.replace(old, new))  # the digest and the seal left alone
    with pytest.raises(IntegrityError, match=r"the manifest of clips:v0 does not match its seal"):
        artifacts.open_store(store.url).artifact("clips:v0")


def test_commits_and_copies_write_sealed_manifests_and_equal_content_keeps_equal_digests(
    tmp_path,
):
    a = artifacts.open_store(str(tmp_path / "a"))
    b = artifacts.open_store(str(tmp_path / "b"))
    versions = []
    for store, meta in ((a, {"k": 1}), (b, {"k": 2})):
        draft = Artifact("clips", "dataset", metadata=meta)
        draft.add(Audio(np.arange(800, dtype=np.int16), 8000), "c")
        versions.append(store.commit(draft))
    va, vb = versions
    assert va.digest == vb.digest  # equal content, equal digest, as before
    assert va.manifest["_seal"] != vb.manifest["_seal"]  # (their metadata differ)
    rel = "artifacts/clips/versions/v0.json"
    assert seal_of(a.backend.read(rel)) == va.manifest["_seal"]
    c = artifacts.open_store(str(tmp_path / "c"))
    a.copy_to(c)  # a copy is sealed anew: its entries are its own
    copied = c.backend.read(rel)
    assert seal_of(copied) == json.loads(copied)["_seal"]
    assert artifacts.open_store(c.url).artifact("clips:v0").verify() == []


def test_the_seal_example_of_the_store_format_doc_runs(tmp_path):
    """docs/store-format.md's example of the seal ("The seal") runs as written."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "store-format.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    (block,) = [b for b in blocks if "_seal" in b]
    script = tmp_path / "example.py"
    script.write_text(block + "\nprint('OK')\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"
