"""A location that holds no store stays without one until a commit succeeds there: a failed
first commit leaves nothing (review t42), ``gc`` writes nothing and says there is no store
(t10), and an empty URL is refused rather than opening the current folder (t27)."""

from __future__ import annotations

import os
import shutil

import fsspec
import numpy as np
import pytest
from conftest import store_url

import artifacts
from artifacts import Artifact, StoreNotFoundError
from media import Audio
from media.errors import IntegrityError


def _files(url: str) -> list[str]:
    fs, root = fsspec.core.url_to_fs(url)
    return sorted(fs.find(root)) if fs.exists(root) else []


def _clip(scale: float) -> Audio:
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    return Audio(x * scale, 8000)


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_a_first_commit_that_fails_half_way_leaves_nothing(backend, tmp_path, request):
    a = artifacts.open_store(tmp_path / "A")
    draft = Artifact("a", "d")
    draft.add(_clip(1), "c")
    value = a.commit(draft).get("c")
    shutil.rmtree(tmp_path / "A")  # the other store is gone before its bytes are copied
    url = store_url(backend, tmp_path / "B", request)
    b = artifacts.open_store(url)
    draft = Artifact("b", "d")
    draft.add(_clip(0.1), "fresh")  # written before the copy fails
    draft.add(value, "c")
    with pytest.raises(IntegrityError, match="missing"):
        b.commit(draft)
    assert _files(url) == [] and not b.exists()
    with pytest.raises(StoreNotFoundError):
        b.gc()
    draft.remove("c")  # the next commit makes the store as usual
    b.commit(draft)
    assert artifacts.open_store(url).artifact("b").verify() == []


def test_a_failed_commit_to_an_existing_store_keeps_it(tmp_path):
    store = artifacts.open_store(tmp_path / "s")
    draft = Artifact("keep", "d")
    draft.add(_clip(2), "c")
    store.commit(draft)
    gone = tmp_path / "gone.txt"
    gone.write_text("soon gone")
    draft = Artifact("b", "d")
    draft.add_file(gone)
    gone.unlink()
    with pytest.raises(OSError):
        store.commit(draft)
    assert store.exists() and store.artifact("keep").verify() == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_gc_where_there_is_no_store_writes_nothing_and_says_so(tmp_path, dry_run):
    store = artifacts.open_store(tmp_path / "typo" / "store")
    with pytest.raises(StoreNotFoundError, match="no store at .*commit"):
        store.gc(dry_run=dry_run, grace=0)
    assert os.listdir(tmp_path) == []
    assert store.names() == [] and store.versions("x") == []  # as docs/store-format.md says


def test_an_empty_url_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url in ("", "  "):
        with pytest.raises(ValueError, match="Invalid store URL .* empty"):
            artifacts.open_store(url)
    assert os.listdir(tmp_path) == []
