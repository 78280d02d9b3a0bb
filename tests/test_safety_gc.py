"""gc running at the same time as commits that reuse packs and blobs (issue 12, case 5).

The rule: a commit holds a lease from before it decides which files the store already
holds until its manifest exists; ``gc`` writes its own marker, then deletes nothing while a
lease younger than its grace exists, and commits wait while a gc marker exists.  So a
file a commit reused is never deleted under it, however the two interleave.

Both interleavings are forced here, on a local folder and on S3 (moto's server): gc
paused between its listing and its first delete while a commit runs, and a commit paused
between its reuse decision and its manifest while gc runs.  ``benchmarks``-free stress runs
with processes are in ``tests/test_safety_stress.py``.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time

import pytest
from integrity_helpers import draft_with

import artifacts

OLD = 2.0  # seconds: the grace used here; debris is made older than that


def _url(backend, tmp_path, request) -> str:
    if backend == "s3":
        return f"{request.getfixturevalue('s3_bucket')}/store"
    return str(tmp_path / "store")


def _open(url, **kw):
    return artifacts.open_store(url, pack_min=2, skip_instance_cache=True, **kw)


def _files(seed: int) -> dict[str, bytes]:
    return {f"f{i}.bin": hashlib.sha256(f"{seed}/{i}".encode()).digest() * 40 for i in range(3)}


def _plant_old_debris(url: str, files: dict[str, bytes]) -> None:
    """A pack and its index that no manifest names (a commit killed before its manifest),
    older than the grace."""
    store = _open(url)
    store.commit(draft_with("debris", files))
    store.backend.delete("artifacts/debris/versions/v0.json")
    if store.is_local():
        for sub in ("packs", "blobs"):
            for dirpath, _, names in os.walk(os.path.join(store.backend.root, sub)):
                for n in names:
                    os.utime(os.path.join(dirpath, n), (time.time() - 3600,) * 2)
    else:
        time.sleep(OLD + 1.5)  # object stores keep the server's time: wait it out
    assert store.gc(dry_run=True, grace=OLD).deleted  # old enough to be collected


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_gc_paused_before_deleting_while_a_commit_reuses_the_files(backend, tmp_path, request):
    url = _url(backend, tmp_path, request)
    files = _files(1)
    _plant_old_debris(url, files)
    committer, collector = _open(url), _open(url)
    real_delete = collector.backend.delete
    threads: list[threading.Thread] = []

    def delete(path: str) -> None:
        if not threads:  # gc has listed and decided; a commit runs now
            t = threading.Thread(target=committer.commit, args=(draft_with("clips", files),))
            t.start()
            threads.append(t)
            t.join(timeout=3)  # (it waits for the gc to finish, or lands meanwhile)
        real_delete(path)

    collector.backend.delete = delete
    # the commit waits for the gc, and says so (the warning is raised on its thread)
    with pytest.warns(UserWarning, match="waits for a running gc"):
        collector.gc(grace=OLD)
        threads[0].join(timeout=60)
    art = _open(url).artifact("clips:v0")
    assert art.verify(raise_on_error=False) == []


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_gc_while_a_commit_is_between_its_reuse_decision_and_its_manifest(
    backend, tmp_path, request
):
    url = _url(backend, tmp_path, request)
    files = _files(2)
    _plant_old_debris(url, files)
    committer, collector = _open(url), _open(url)
    real_write_many = committer.backend.write_many
    reports = []

    def write_many(items, progress=None):
        reports.append(collector.gc(grace=OLD))  # the commit has decided what to reuse
        return real_write_many(items, progress)

    committer.backend.write_many = write_many
    art = committer.commit(draft_with("clips", files))
    assert reports and reports[0].deleted == [] and reports[0].kept_young > 0
    assert art.verify(raise_on_error=False) == []
    # the lease is gone with the commit: the next gc is not held back by it
    fresh = _open(url)
    assert not [r for r, _ in fresh.backend.walk_files("leases")]
    _open(url).backend.write("tmp/old-debris", b"x")
    assert fresh.gc(grace=0).deleted == ["tmp/old-debris"]
    assert fresh.artifact("clips:v0").verify(raise_on_error=False) == []
