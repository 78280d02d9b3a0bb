"""What a :class:`artifacts.Store` object keeps between reads never answers a read it was
not made for: the chunk tables and first chunks it keeps are keyed by everything they were
read from and checked against (so a forged version that names an untouched version's file
cannot change what the untouched one returns), and a large file checked once is read
again unchecked only while the file is in the state it was checked in."""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid

import blake3
import numpy as np
import pytest

import artifacts
from artifacts import Artifact, IntegrityError
from artifacts.odb.chunks import chunk_digests
from artifacts.odb.layout import blob_path, pack_path
from media import Audio

RATE = 16000


def recording(seconds: int) -> np.ndarray:
    """Distinct int16 samples (a window read from the wrong bytes cannot pass)."""
    t = np.arange(RATE * seconds, dtype=np.int64)
    return ((t * 7919) % 65536 - 32768).astype(np.int16)


def long_entry(store, version: str = "v0") -> tuple[str, dict]:
    """The path and manifest entry of the recording ``rec`` in ``long:<version>``."""
    v = store.artifact(f"long:{version}")
    path = v.get("rec").source_file()[1]
    return path, dict(v.manifest.entries[path])


def plant_forgery(store, e: dict) -> tuple[dict, bytes]:
    """Plant, next to the untouched file of entry ``e``, a pack holding changed bytes and
    their chunk table; return an entry that names the same sha256 but those planted bytes
    (with their own BLAKE3 digest and table), and the planted bytes."""
    data = bytearray(store.backend.read(blob_path(e["digest"])))
    data[44 : 44 + 2000] = b"\x39\x30" * 1000  # samples 0..999 := 12345 (inside chunk 0)
    forged = bytes(data)
    pack_id = hashlib.sha256(b"planted").hexdigest()
    store.backend.write(pack_path(pack_id), forged)
    table = chunk_digests(forged)
    th = hashlib.sha256(table).hexdigest()
    store.backend.write(blob_path(th), table)
    e1 = dict(e, pack=pack_id, offset=0, blake3=blake3.blake3(forged).hexdigest())
    e1["chunks"] = dict(e["chunks"], table=th)
    return e1, forged


@pytest.fixture(params=["local", "memory"])
def long_store(request, tmp_path):
    """A store (never packing) holding ``long:v0``: a 60 s recording with a chunk table."""
    url = str(tmp_path / "store") if request.param == "local" else f"memory://{uuid.uuid4().hex}"
    store = artifacts.open_store(url, pack_min=None)
    x = recording(60)
    draft = Artifact("long", "dataset")
    draft.add(Audio(x, RATE), "rec")
    store.commit(draft)
    return store, x


def test_a_differently_described_entry_never_answers_for_another(long_store):
    store, x = long_store
    path, e0 = long_entry(store)
    assert "chunks" in e0
    e1, forged = plant_forgery(store, e0)
    objects = store.objects
    # the other description reads its own (planted) bytes: both kept side by side
    assert objects.read_range(e1, "forged", 0, 4000) == forged[:4000]
    genuine = store.backend.read(blob_path(e0["digest"]))
    assert objects.read_range(e0, "genuine", 0, 4000) == genuine[:4000]
    assert objects.read_range(e0, "genuine", 40000, 100000) == genuine[40000:140000]
    assert objects.read_range(e1, "forged", 0, 4000) == forged[:4000]


def test_a_forged_version_does_not_change_windows_of_an_untouched_one(long_store):
    """The reviewer's attack: a planted ``v1`` names ``v0``'s file as a member of a planted
    pack; a window of ``v1`` read first must not change what ``v0``'s windows return."""
    store, x = long_store
    path, e0 = long_entry(store)
    e1, _ = plant_forgery(store, e0)
    where = "artifacts/long/versions"
    m = json.loads(store.backend.read(f"{where}/v0.json"))
    m["version"] = "v1"
    m["entries"][path] = e1
    store.backend.write(f"{where}/v1.json", json.dumps(m).encode())
    s = artifacts.open_store(store.url)
    try:  # (a store that refuses the forged manifest outright is as good)
        s.artifact("long:v1").get("rec").numpy(0, 2000)
    except IntegrityError:
        pass
    got = s.artifact("long:v0").get("rec").numpy(0, 2000)
    np.testing.assert_array_equal(np.asarray(got).reshape(-1), x[:2000])
    s.artifact("long:v0").verify()


# -- large files: checked whole, then remembered only with the state of the file -------------
def commit_big(store, monkeypatch):
    """Commit a stereo clip to ``store`` as one blob that counts as large (``BIG`` lowered:
    it is checked by streaming and opened for random access); return it, its entry and the
    blob's path."""
    monkeypatch.setattr(artifacts.version, "BIG", 1000)
    clip = Audio(recording(5).reshape(-1, 2), RATE)
    draft = Artifact("big", "dataset")
    draft.add(clip, "c")
    v = store.commit(draft)
    path = v.get("c").source_file()[1]
    e = v.manifest.entries[path]
    assert "pack" not in e and e["size"] > 1000
    return clip, e, blob_path(e["digest"])


def changed_sample(data: bytes) -> bytes:
    """``data`` with one sample of its audio changed (same size)."""
    i = 44 + 2 * 1000
    return data[:i] + bytes([data[i] ^ 0x40]) + data[i + 1 :]


def test_a_large_file_changed_after_its_check_is_checked_again(store, monkeypatch):
    """The reviewer's attack (t_big_toctou): the same Store object read the file once; the
    file then changed on disk (local: replaced; memory; S3: a new object, a new ETag)."""
    clip, e, blob = commit_big(store, monkeypatch)
    s = artifacts.open_store(store.url)
    np.testing.assert_array_equal(s.artifact("big:v0").get("c").numpy(), clip.numpy())
    if store.url.startswith("s3://"):  # remembered with its ETag (s3fs binds reads to it)
        assert [state[0] for state in s.objects._verified.values()] == ["etag"]
    store.backend.write(blob, changed_sample(store.backend.read(blob)))
    with pytest.raises(IntegrityError, match=r"big:v0/.*stored bytes do not match"):
        s.artifact("big:v0").get("c").numpy()


def test_an_in_place_change_of_a_remembered_file_is_caught(tmp_path, monkeypatch):
    """A local file remembered as checked (old enough to be) is read unchecked again only
    while its stat says it is the same file, unchanged: an in-place write of the same
    size is caught on the next open."""
    import artifacts.odb.objects as objects

    monkeypatch.setattr(objects, "RACY", 50_000_000)  # 50 ms: a file system tick is less
    store = artifacts.open_store(str(tmp_path / "store"), pack_min=None)
    clip, e, blob = commit_big(store, monkeypatch)
    time.sleep(0.1)  # the blob's change time is now older than RACY
    s = artifacts.open_store(store.url)
    for _ in range(2):  # checked, then answered from the memo
        np.testing.assert_array_equal(s.artifact("big:v0").get("c").numpy(), clip.numpy())
        assert len(s.objects._verified) == 1
    full = os.path.join(store.backend.root, blob)
    os.chmod(full, 0o644)
    with open(full, "r+b") as f:  # in place: same inode, same size
        f.seek(44 + 2 * 1000)
        f.write(b"\x39\x30")
    with pytest.raises(IntegrityError, match=r"big:v0/.*stored bytes do not match"):
        s.artifact("big:v0").get("c").numpy()


def test_a_file_changed_just_before_its_check_is_not_remembered(tmp_path, monkeypatch):
    """A change in the same tick of the file system's clock as the last one would leave the
    file's times as they were: a file that changed less than RACY ago is checked whole on
    every open until it is older."""
    store = artifacts.open_store(str(tmp_path / "store"), pack_min=None)
    clip, _, _ = commit_big(store, monkeypatch)
    s = artifacts.open_store(store.url)
    np.testing.assert_array_equal(s.artifact("big:v0").get("c").numpy(), clip.numpy())
    assert s.objects._verified == {}
