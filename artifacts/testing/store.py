"""A store suite, run on any backend: commit, read, aliases, packs and gc, each checked by
reading the backend's files with fsspec directly.

Subclass :class:`StoreTests` and give it a ``url`` fixture (a fresh, empty root), as for
:class:`artifacts.testing.BackendTests`.  Needs pytest and numpy.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import pytest

from ..artifact import Artifact
from ..errors import ArtifactNotFoundError, IntegrityError
from ..manifest import blob_path, pack_path
from ..store import Store, open_store
from .backend import Direct

__all__ = ["StoreTests"]


class StoreTests:
    """The store's promises on one backend."""

    @pytest.fixture
    def url(self) -> str:
        """A fresh, empty root on the backend under test (override)."""
        raise NotImplementedError("give the StoreTests subclass a `url` fixture")

    @pytest.fixture
    def storage_options(self) -> dict[str, Any]:
        """Options for fsspec and :func:`open_store` (override when needed)."""
        return {}

    @pytest.fixture
    def store(self, url: str, storage_options: dict[str, Any]) -> Store:
        return open_store(url, **storage_options)

    @pytest.fixture
    def direct(self, url: str, storage_options: dict[str, Any]) -> Direct:
        return Direct(url, storage_options)

    def test_commit_writes_a_manifest_and_blobs(self, store: Store, direct: Direct) -> None:
        from media import Audio

        draft = Artifact("clips", "dataset", metadata={"k": 1})
        samples = np.arange(64, dtype=np.int16)
        draft.add(Audio(samples, 8000), "a")
        with draft.new_file("notes.txt") as f:
            f.write("hello")
        v0 = store.commit(draft, aliases=["best"])
        manifest = json.loads(direct.read("artifacts/clips/versions/v0.json"))
        assert manifest["_type"] == "manifest" and manifest["version"] == "v0"
        assert manifest["metadata"] == {"k": 1} and manifest["digest"] == v0.digest
        for path, e in manifest["entries"].items():
            if "inline" in e:
                data = e["inline"].encode()
            else:
                data = direct.read(blob_path(e["digest"]))
            assert hashlib.sha256(data).hexdigest() == e["digest"], path
        alias = json.loads(direct.read("artifacts/clips/aliases/best.json"))
        assert alias["version"] == "v0"
        again = open_store(store.url).artifact("clips:best")
        assert again.get("a").numpy().tobytes() == samples.tobytes()
        assert again.read_bytes("notes.txt") == b"hello"

    def test_versions_latest_and_unchanged_commit(self, store: Store) -> None:
        draft = Artifact("n", "t")
        with draft.new_file("f") as f:
            f.write("1")
        assert store.commit(draft).version == "v0"
        draft = store.artifact("n:latest").new_draft()
        assert store.commit(draft).version == "v0"  # same content: no new version
        with draft.new_file("g") as f:
            f.write("2")
        assert store.commit(draft).version == "v1"
        assert store.versions("n") == ["v0", "v1"] and store.names() == ["n"]
        assert store.resolve("n") == ("n", "v1")
        with pytest.raises(ArtifactNotFoundError):
            store.artifact("n:v7")

    def test_small_files_are_packed(self, store: Store, direct: Direct) -> None:
        draft = Artifact("many", "t")
        files = {f"f{i:02d}": f"file {i}".encode() for i in range(20)}
        for path, data in files.items():
            with draft.new_file(path, "wb") as f:
                f.write(data)
        art = store.commit(draft)
        packs = {e["pack"] for e in art.manifest["entries"].values()}
        assert len(packs) == 1
        (pid,) = packs
        index = json.loads(direct.read(pack_path(pid) + ".idx"))
        pack = direct.read(pack_path(pid))
        offset = 0
        for digest, size in index["members"]:
            assert hashlib.sha256(pack[offset : offset + size]).hexdigest() == digest
            offset += size
        assert offset == len(pack)
        for path, data in files.items():
            assert open_store(store.url).artifact("many:v0").read_bytes(path) == data

    def test_damage_is_found(self, store: Store, direct: Direct) -> None:
        draft = Artifact("d", "t")
        with draft.new_file("big.bin", "wb") as f:
            f.write(b"x" * 1000)
        art = store.commit(draft)
        digest = art.manifest["entries"]["big.bin"]["digest"]
        direct.write(blob_path(digest), b"y" * 1000)
        with pytest.raises(IntegrityError):
            open_store(store.url).artifact("d:v0").read_bytes("big.bin")

    def test_gc_sweeps_what_no_manifest_names(self, store: Store, direct: Direct) -> None:
        draft = Artifact("g", "t")
        with draft.new_file("kept", "wb") as f:
            f.write(b"kept")
        store.commit(draft)
        orphan = hashlib.sha256(b"orphan").hexdigest()
        direct.write(blob_path(orphan), b"orphan")
        report = store.gc(grace=0)
        assert report.deleted == [blob_path(orphan)]
        assert not direct.exists(blob_path(orphan))
        kept = hashlib.sha256(b"kept").hexdigest()
        assert direct.read(blob_path(kept)) == b"kept"

    def test_delete_keeps_the_number_and_gc_takes_the_bytes(
        self, store: Store, direct: Direct
    ) -> None:
        for text in (b"first", b"second"):
            draft = Artifact("gone", "t")
            with draft.new_file("f.bin", "wb") as f:
                f.write(text * 1000)
            store.commit(draft, ["best"])
        assert store.delete("gone:best") == ["gone:v1"]
        assert direct.exists("artifacts/gone/versions/v1.deleted")
        assert open_store(store.url).versions("gone") == ["v0"]
        assert "best" not in store.aliases("gone")
        draft = Artifact("gone", "t")
        with draft.new_file("f.bin", "wb") as f:
            f.write(b"third" * 1000)
        assert store.commit(draft).version == "v2"  # v1 is never made again
        second = hashlib.sha256(b"second" * 1000).hexdigest()
        store.gc(grace=0)
        assert not direct.exists(blob_path(second))

    def test_copy_to_another_root_stands_alone(
        self, store: Store, url: str, storage_options: dict[str, Any]
    ) -> None:
        draft = Artifact("c", "t", description="copied")
        for i in range(20):
            with draft.new_file(f"f{i}.bin", "wb") as f:
                f.write(b"%d" % i * 500)
        store.commit(draft, ["best"])
        other = open_store(url.rstrip("/") + "-copy", **storage_options)
        report = store.copy_to(other)
        assert report.versions == [("c:v0", "c:v0")] and report.blobs == 20
        assert store.copy_to(other).blobs == 0  # nothing sent again
        copied = open_store(other.url, **storage_options).artifact("c:best")
        assert copied.description == "copied" and copied.verify() == []
        assert all("ref" not in e for e in copied.manifest["entries"].values())
