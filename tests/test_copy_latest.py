"""After ``copy_to``, the destination's ``latest`` and the aliases copied name the same
content as the source's (review t38: a destination holding the source's newest version
under an older number got the source's older version appended as its ``latest``)."""

from __future__ import annotations

import numpy as np

import artifacts
from artifacts import Artifact
from media import Audio


def _commit(store, value: float, **kwargs):
    draft = Artifact("x", "d")
    draft.add(Audio(np.full(10, value, np.float32), 8000), "c")
    return store.commit(draft, **kwargs)


def _latest(store) -> float:
    return float(store.artifact("x:latest").get("c").numpy()[0])


def test_latest_names_the_sources_newest_content_whatever_its_number(tmp_path):
    src = artifacts.open_store(tmp_path / "src")
    _commit(src, 0.1)
    _commit(src, 0.2, aliases=["prod"])
    dst = artifacts.open_store(tmp_path / "dst")
    _commit(dst, 0.2)  # dst's x:v0 is the source's x:v1
    report = src.copy_to(dst)
    assert _latest(dst) == _latest(src) == np.float32(0.2)
    assert report.versions == [("x:v0", "x:v1"), ("x:v1", "x:v2")]
    assert report.blobs == 1  # 0.1's file; the newest version repeats files dst holds
    assert dst.artifact("x:v2").verify() == []
    assert float(dst.artifact("x:prod").get("c").numpy()[0]) == np.float32(0.2)
    again = src.copy_to(dst)  # a repeated copy makes no version and sends nothing
    assert (again.versions, again.blobs) == ([], 0) and dst.versions("x") == ["v0", "v1", "v2"]


def test_copying_an_older_version_alone_leaves_latest_alone(tmp_path):
    src = artifacts.open_store(tmp_path / "src")
    _commit(src, 0.1)
    _commit(src, 0.2)
    dst = artifacts.open_store(tmp_path / "dst")
    _commit(dst, 0.3)
    report = src.copy_to(dst, ["x:v0"])
    assert report.versions == [("x:v0", "x:v1")] and _latest(dst) == np.float32(0.1)
