"""A commit never waits silently for gc, and never waits for hours on a gc marker dated in
the future (clock skew between machines sharing a folder, or a planted file); a gc held back
by a commit's lease names it.  The interleavings of a real gc and commits are forced in
``tests/test_safety_gc.py``."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest

import artifacts.leases
import artifacts.store
from artifacts import Artifact, ArtifactError, open_store
from media import Audio


def _draft(seed: int = 1) -> Artifact:
    d = Artifact("clips", "dataset")
    d.add(Audio(np.full(99, seed, dtype=np.int16), 8000), "z")
    return d


def _plant(root, name: str, ahead: float = 0.0) -> str:
    os.makedirs(root / "leases", exist_ok=True)
    path = root / "leases" / name
    path.write_bytes(b"gc")
    t = time.time() + ahead
    os.utime(path, (t, t))
    return str(path)


def _commit_on_a_thread(store, draft, wait: float):
    """Commit on a thread (the code before this change waited an hour: the test fails
    instead of hanging); returns (result or exception or None, seconds, warnings)."""
    out: dict = {}

    def run():
        t0 = time.monotonic()
        try:
            out["result"] = store.commit(draft)
        except Exception as exc:
            out["result"] = exc
        out["seconds"] = time.monotonic() - t0

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(wait)
    return out.get("result"), out.get("seconds"), [str(w.message) for w in caught]


def test_a_commit_waiting_for_a_running_gc_says_so(tmp_path):
    store = open_store(tmp_path / "s")
    store.commit(_draft(0))
    marker = _plant(tmp_path / "s", "gc-running")
    threading.Timer(1.0, os.remove, [marker]).start()  # the gc ends
    result, seconds, caught = _commit_on_a_thread(store, _draft(), 60)
    assert result is not None and result.version == "v1", result
    assert seconds >= 0.9  # it waited for the gc
    assert any("waits for a running gc (its marker leases/gc-running" in m for m in caught), caught


def test_a_marker_dated_in_the_future_stops_the_commit_with_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(artifacts.leases, "GC_FUTURE_WAIT", 1.0)  # (120 s by default)
    store = open_store(tmp_path / "s")
    store.commit(_draft(0))
    marker = _plant(tmp_path / "s", "gc-deadbeef", ahead=3600)
    result, seconds, caught = _commit_on_a_thread(store, _draft(), 30)
    assert isinstance(result, ArtifactError), f"no error after 30 s: {result!r}"
    assert seconds < 20
    message = str(result)
    assert "gave up waiting for gc: its marker leases/gc-deadbeef is dated" in message
    assert f"delete {marker} and commit again" in message
    assert any("dated 3600 s ahead of this machine's clock" in m for m in caught), caught
    # nothing committed, and no lease of the commit left to hold gc back
    assert open_store(tmp_path / "s").versions("clips") == ["v0"]
    assert sorted(os.listdir(tmp_path / "s" / "leases")) == ["gc-deadbeef"]
    os.remove(marker)  # what the error says to do
    assert store.commit(_draft()).version == "v1"


def test_a_future_marker_that_is_being_rewritten_is_waited_for(tmp_path, monkeypatch):
    """A gc running on a machine whose clock is ahead rewrites its marker: commits wait for
    it, past GC_FUTURE_WAIT, and go on once it is gone."""
    monkeypatch.setattr(artifacts.leases, "GC_FUTURE_WAIT", 1.0)
    store = open_store(tmp_path / "s")
    store.commit(_draft(0))
    marker = _plant(tmp_path / "s", "gc-ahead", ahead=3600)

    def gc_on_a_fast_clock():
        for i in range(10):  # 3 s, three times GC_FUTURE_WAIT
            time.sleep(0.3)
            t = time.time() + 3600 + i
            os.utime(marker, (t, t))
        os.remove(marker)

    gc = threading.Thread(target=gc_on_a_fast_clock)
    gc.start()
    result, seconds, _ = _commit_on_a_thread(store, _draft(), 60)
    gc.join()
    assert result is not None and not isinstance(result, Exception), result
    assert result.version == "v1" and seconds >= 2.5


@pytest.mark.parametrize("ahead", [0.0, 3600.0])
def test_gc_held_back_by_a_commit_lease_names_it(tmp_path, ahead):
    store = open_store(tmp_path / "s")
    store.commit(_draft(0))
    store.backend.write("tmp/debris", b"x")
    old = time.time() - 7200
    os.utime(tmp_path / "s" / "tmp" / "debris", (old, old))
    _plant(tmp_path / "s", "commit-deadbeef", ahead=ahead)
    report = store.gc(grace=3600)
    assert report.deleted == [] and report.held_by == ["leases/commit-deadbeef"]
    done = subprocess.run(
        [sys.executable, "-m", "artifacts", "--store", str(tmp_path / "s"), "gc"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "held back by 1 commit lease(s) younger than 3600 s" in done.stdout
    assert "leases/commit-deadbeef; if no commit is running, delete them" in done.stdout
    assert (tmp_path / "s" / "tmp" / "debris").exists()
