"""Writers that fail, caches that lie, copies that are damaged (issue 12, cases 2, 3, 9).

- A write that fails removes only its own temporary file, never a file another writer
  placed (and may have published) meanwhile.
- On S3 no decision to skip an upload rests on s3fs's cached listing: a blob another
  process's ``gc`` deleted is uploaded again.
- A blob or pack already in the store is reused only when its bytes are checked, so
  committing the good bytes repairs a damaged copy and a planted pack cannot pre-empt a
  file nobody committed yet.
"""

from __future__ import annotations

import hashlib
import os

import pytest
from conftest import store_url
from integrity_helpers import draft_with

import artifacts
from artifacts import Artifact
from artifacts.backend import LocalBackend, Pack
from artifacts.manifest import blob_path, canonical_json, pack_id, pack_path

BIG = 2 << 20  # over the size below which S3 blobs are written without asking first


class Boom(Exception):
    pass


def _blob(seed: int, size: int = BIG) -> bytes:
    out = bytearray()
    block = hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def test_a_failed_write_leaves_another_writers_whole_file(tmp_path):
    root = str(tmp_path / "store")
    artifacts.open_store(root)
    good = _blob(1, 1000)
    path = blob_path(hashlib.sha256(good).hexdigest())

    def other_writer_then_interrupt():
        # another writer places the whole file (and could publish a version naming it)...
        LocalBackend(root).write(path, good)
        raise Boom  # ...then this writer is interrupted

    with pytest.raises(Boom):
        LocalBackend(root).write_blob(
            path, Pack([good[:500], other_writer_then_interrupt], [500, 500])
        )
    with open(os.path.join(root, path), "rb") as f:
        assert f.read() == good
    assert not [n for n in os.listdir(os.path.dirname(os.path.join(root, path))) if ".tmp-" in n]


def test_a_failed_commit_removes_nothing_another_commit_published(tmp_path, monkeypatch):
    root = str(tmp_path / "store")
    store = artifacts.open_store(root, pack_min=2)
    other = artifacts.open_store(root, pack_min=2)
    files = {"f0.bin": _blob(2, 1000), "f1.bin": _blob(3, 1000)}
    draft = Artifact("a", "dataset")
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        draft.add_file(str(tmp_path / name), name)
    import builtins

    real_open = builtins.open

    class Interrupted:
        """The second file of the pack: while it is read, another commit of the same files
        lands (writing the same pack whole), then this commit is interrupted."""

        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            other.commit(draft_with("b", files))
            raise Boom

        def close(self):
            self.f.close()

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        if isinstance(file, str) and file == str(tmp_path / "f1.bin") and "b" in mode:
            return Interrupted(f)
        return f

    monkeypatch.setattr(builtins, "open", fake_open)
    with pytest.raises(Boom):
        store.commit(draft)
    monkeypatch.undo()
    fresh = artifacts.open_store(root)
    assert fresh.artifact("b:v0").verify(raise_on_error=False) == []


def test_s3_never_skips_an_upload_on_a_cached_listing(s3_bucket):
    url = f"{s3_bucket}/store"
    mine = artifacts.open_store(url, pack_min=None)
    mine.ensure_marker()  # a store (gc refuses a location that holds none)
    data = _blob(3)
    digest = hashlib.sha256(data).hexdigest()
    mine.backend.write(blob_path(digest), data)  # debris of a crashed commit
    mine.gc(dry_run=True)  # this process lists blobs/: s3fs caches the listing
    theirs = artifacts.open_store(url, pack_min=None, skip_instance_cache=True)
    assert blob_path(digest) in theirs.gc(grace=0).deleted  # another process's gc
    art = mine.commit(draft_with("clips", {"big.bin": data}))
    assert art.verify(raise_on_error=False) == []
    assert (
        artifacts.open_store(url, skip_instance_cache=True)
        .artifact("clips:v0")
        .read_bytes("big.bin")
        == data
    )


@pytest.mark.parametrize("backend", ["local", "memory", "s3"])
def test_committing_the_good_bytes_repairs_a_damaged_blob(backend, tmp_path, request):
    store = artifacts.open_store(store_url(backend, tmp_path, request), pack_min=None)
    data = _blob(4)
    v0 = store.commit(draft_with("clips", {"big.bin": data}))
    path = blob_path(hashlib.sha256(data).hexdigest())
    damaged = bytearray(data)
    damaged[BIG // 2] ^= 1
    store.backend.write(path, bytes(damaged))  # same size, one bit flipped
    assert v0.verify(raise_on_error=False)
    store.commit(draft_with("again", {"big.bin": data}))
    assert store.backend.read(path) == data
    assert store.artifact("clips:v0").verify(raise_on_error=False) == []


@pytest.mark.parametrize("backend", ["local", "memory", "s3"])
def test_committing_the_good_bytes_repairs_a_damaged_pack(backend, tmp_path, request):
    store = artifacts.open_store(store_url(backend, tmp_path, request), pack_min=2)
    files = {f"f{i}.bin": _blob(10 + i, 1000) for i in range(3)}
    v0 = store.commit(draft_with("clips", files))
    pid = next(iter(v0.manifest.entries.values()))["pack"]
    good = store.backend.read(pack_path(pid))
    damaged = bytearray(good)
    damaged[10] ^= 1
    store.backend.write(pack_path(pid), bytes(damaged))
    fresh = artifacts.open_store(store.url, pack_min=2)
    again = fresh.commit(draft_with("again", files))
    assert again.verify(raise_on_error=False) == []
    assert fresh.backend.read(pack_path(pid)) == good  # the same members: the same pack, mended
    assert fresh.artifact("clips:v0").verify(raise_on_error=False) == []


@pytest.mark.parametrize("backend", ["local", "memory", "s3"])
def test_a_planted_pack_cannot_pre_empt_a_file(backend, tmp_path, request):
    store = artifacts.open_store(store_url(backend, tmp_path, request), pack_min=2)
    secret = _blob(20, 1000)  # a file nobody has committed yet
    digest = hashlib.sha256(secret).hexdigest()
    members = [[digest, len(secret)]]
    pid = pack_id([(digest, len(secret))])
    store.backend.write(pack_path(pid), b"\x00" * len(secret))  # planted: wrong bytes
    index = {"_type": "pack-index", "format": 1, "members": members}
    store.backend.write(pack_path(pid) + ".idx", canonical_json(index))
    art = store.commit(draft_with("clips", {"secret.bin": secret, "other.bin": _blob(21, 999)}))
    assert art.verify(raise_on_error=False) == []
    assert artifacts.open_store(store.url).artifact("clips:v0").read_bytes("secret.bin") == secret
