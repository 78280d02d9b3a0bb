"""A commit never publishes a manifest whose same-store entries name bytes the store no
longer holds (review t40/t41): a value loaded from a version, or a ``new_draft()``'s
entries, whose version was deleted and whose bytes ``gc`` removed."""

from __future__ import annotations

import numpy as np
import pytest

import artifacts
from artifacts import Artifact, ArtifactError
from media import Audio


def _clip(seed: int) -> Audio:
    return Audio(np.random.default_rng(seed).standard_normal(1000).astype(np.float32), 8000)


def _files(store) -> list[str]:
    return sorted(
        rel for p in ("blobs", "packs", "artifacts") for rel, _ in store.backend.walk_files(p)
    )


@pytest.fixture(params=[None, 1], ids=["blob", "packed"])
def store(request, tmp_path):
    return artifacts.open_store(tmp_path / "s", pack_min=request.param)


def _loaded(store, seed: int = 0):
    """A value of a:v0, its samples read, after a:v0 was deleted and gc'd."""
    draft = Artifact("a", "d")
    draft.add(_clip(seed), "c")
    v0 = store.commit(draft)
    value = v0.get("c")
    value.numpy()  # samples in memory: not the file's bytes
    store.delete("a")
    assert store.gc(grace=0).deleted  # its bytes are gone
    return value


def test_a_value_of_a_deleted_and_collected_version_is_refused(store):
    value = _loaded(store)
    draft = Artifact("b", "d")
    draft.add(value, "c")
    before = _files(store)
    with pytest.raises(ArtifactError) as caught:
        store.commit(draft)
    text = str(caught.value)
    assert "media/audio/" in text and "a:v0" in text and "deleted" in text
    assert "add" in text and "nothing was written" in text
    assert _files(store) == before and store.names() == []
    assert store.gc(grace=0).deleted == []  # nothing left behind either


def test_a_new_draft_of_a_deleted_and_collected_version_is_refused(store):
    draft = Artifact("a", "d")
    draft.add(_clip(1), "c")
    v0 = store.commit(draft)
    again = v0.new_draft()
    with again.new_file("notes.txt") as f:
        f.write("more")
    store.delete("a:v0")
    store.gc(grace=0)
    with pytest.raises(ArtifactError, match="a:v0"):
        store.commit(again)
    assert store.versions("a") == []


def test_a_deleted_version_whose_bytes_are_still_there_commits_and_keeps_them(store):
    draft = Artifact("a", "d")
    draft.add(_clip(2), "c")
    value = store.commit(draft).get("c")
    store.delete("a")  # not collected yet
    draft = Artifact("b", "d")
    draft.add(value, "c")
    b = store.commit(draft)
    assert store.gc(grace=0).deleted == []  # the new version keeps them alive
    assert b.verify() == [] and store.artifact("b").get("c") == _clip(2)


def test_bytes_held_by_the_read_cache_are_written_again(tmp_path):
    store = artifacts.open_store(tmp_path / "s", cache=tmp_path / "cache")
    value = _loaded(store, seed=3)  # read through the cache: it keeps a checked copy
    draft = Artifact("b", "d")
    draft.add(value, "c")
    b = store.commit(draft)
    assert "ref" not in b.manifest.entries[value.source_file()[1]]  # a file of its own
    fresh = artifacts.open_store(tmp_path / "s")
    assert fresh.artifact("b").verify() == []
    assert np.array_equal(fresh.artifact("b").get("c").numpy(), _clip(3).numpy())


def test_an_existing_source_costs_no_listing_of_blobs(store, monkeypatch):
    draft = Artifact("a", "d")
    draft.add(_clip(4), "c")
    value = store.commit(draft).get("c")
    asked = []
    monkeypatch.setattr(store.packs, "loose", lambda d: asked.append(d) or set(d))
    draft = Artifact("b", "d")
    draft.add(value, "c")
    store.commit(draft)
    assert asked == []  # a:v0 exists and holds them: one manifest read, no lookup
