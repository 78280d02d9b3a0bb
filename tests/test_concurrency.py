"""Concurrency: many writers commit to the same artifact at once, and nothing is lost.

8 processes x 10 commits to one artifact on a local store give 80 versions, numbered without
gaps, that all verify, and each worker's every commit is in exactly one of them.  Threads in
one process do the same on ``memory://``.  ``artifacts verify --store URL`` says whether the
backend honours create-if-absent (the guarantee all of this rests on).
"""

from __future__ import annotations

import collections
import functools
import os
import subprocess
import sys
import threading
import uuid

import fsspec
import pytest
from crash_worker import SHARED
from integrity_helpers import snapshot
from test_crash import NAME, WORKER, debris, promised

import artifacts
from artifacts import Artifact
from artifacts.backends import FsspecBackend

WORKERS, COMMITS = 8, 10


def run_threads(targets, switch_interval: float) -> None:
    """Run each target in its own thread, with Python switching threads very often."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(switch_interval)
    try:
        threads = [threading.Thread(target=t) for t in targets]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(saved)


def _contents(store) -> collections.Counter:
    """``"<tag> <i>"`` of every version's tag file, counted."""
    found: collections.Counter = collections.Counter()
    for v in store.versions(NAME):
        art = store.artifact(f"{NAME}:{v}")
        art.verify()
        for path in art.manifest.entries:
            if path.startswith("from/"):
                found[art.read_bytes(path).decode().strip()] += 1
    return found


@pytest.mark.slow
def test_8_processes_x_10_commits_give_80_versions_and_lose_nothing(tmp_path):
    store_dir, out, go = tmp_path / "store", tmp_path / "committed.txt", tmp_path / "go"
    artifacts.open_store(str(store_dir))  # the marker exists before the race
    procs = []
    for w in range(WORKERS):
        procs.append(
            subprocess.Popen(
                [sys.executable, WORKER, str(store_dir), str(out), "--tag", f"w{w}"]
                + ["--commits", str(COMMITS), "--blob-size", "2048", "--start-file", str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        )
    for p in procs:
        assert p.stdout.readline() == b"ready\n"
    go.write_bytes(b"")  # every worker starts at once
    for p in procs:
        _, err = p.communicate()
        assert p.returncode == 0, err.decode()

    store = artifacts.open_store(str(store_dir))
    total = WORKERS * COMMITS
    assert store.versions(NAME) == [f"v{n}" for n in range(total)]
    # every commit of every worker is in exactly one version, each of which verifies
    expected = {f"w{w} {i}" for w in range(WORKERS) for i in range(COMMITS)}
    found = _contents(store)
    assert set(found) == expected and set(found.values()) == {1}
    # every commit returned its own version, and that version holds that commit
    rows = promised(out)
    assert len(rows) == total and len({r[0] for r in rows}) == total
    for v, digest, tag, i in rows:
        art = store.artifact(f"{NAME}:{v}")
        assert art.digest == digest
        assert art.read_bytes(f"from/{tag}/{i}.txt") == f"{tag} {i}\n".encode()
    # each worker's own alias names its last commit; "best" names some version
    aliases = store.aliases(NAME)
    last = {tag: v for v, _, tag, i in rows if i == COMMITS - 1}
    for w in range(WORKERS):
        assert aliases[f"by-w{w}"] == last[f"w{w}"]
    assert aliases["best"] in store.versions(NAME)
    assert aliases["latest"] == f"v{total - 1}"
    # the bytes every commit shares are stored once; nothing is left over
    blobs = [f for f in snapshot(store) if f.startswith("blobs/") and not f.endswith("/")]
    assert len(blobs) == len(set(blobs)) == 1 + total * 4  # SHARED + 4 distinct per commit
    assert debris(store_dir) == set()
    assert store.gc(grace=0).deleted == []


def test_threads_commit_to_one_artifact_on_memory_without_losing_a_version():
    url = f"memory://threads-{uuid.uuid4().hex}"
    artifacts.open_store(url)
    versions: dict[int, list[str]] = collections.defaultdict(list)
    errors: list[BaseException] = []
    barrier = threading.Barrier(WORKERS)

    def work(t: int) -> None:
        try:
            store = artifacts.open_store(url)
            barrier.wait()
            for i in range(COMMITS):
                draft = Artifact(NAME, "dataset")
                with draft.new_file(f"from/t{t}/{i}.txt") as f:
                    f.write(f"t{t} {i}\n")
                with draft.new_file("shared.bin", "wb") as f:
                    f.write(SHARED)
                versions[t].append(store.commit(draft, aliases=["best"]).version)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    run_threads([functools.partial(work, t) for t in range(WORKERS)], 1e-6)
    assert errors == []
    store = artifacts.open_store(url)
    total = WORKERS * COMMITS
    got = [v for vs in versions.values() for v in vs]
    assert sorted(got, key=lambda v: int(v[1:])) == [f"v{n}" for n in range(total)]
    assert store.versions(NAME) == [f"v{n}" for n in range(total)]
    found = _contents(store)
    assert set(found) == {f"t{t} {i}" for t in range(WORKERS) for i in range(COMMITS)}
    assert set(found.values()) == {1}


def test_create_if_absent_on_memory_has_one_winner_among_threads():
    # fsspec's memory filesystem checks, then writes: without the backend's lock, 16
    # threads racing for the same file produced several winners in some rounds
    backend = FsspecBackend(fsspec.filesystem("memory"), f"/race-{uuid.uuid4().hex}")
    rounds, n = 300, 16
    wins: collections.Counter = collections.Counter()
    barrier = threading.Barrier(n)
    lock = threading.Lock()

    def race() -> None:
        for r in range(rounds):
            barrier.wait()
            try:
                backend.create(f"x/{r}", b"data")
            except FileExistsError:
                continue
            with lock:
                wins[r] += 1

    run_threads([race] * n, 1e-7)
    assert len(wins) == rounds and set(wins.values()) == {1}


def test_verify_command_reports_create_if_absent_on_a_local_store(tmp_path):
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("clips", "dataset")
    with draft.new_file("a.txt") as f:
        f.write("a")
    store.commit(draft)
    result = subprocess.run(
        [sys.executable, "-m", "artifacts", "verify", "--store", store.url],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert result.returncode == 0, result.stderr
    assert "create-if-absent: honoured (concurrent commits are safe)" in result.stdout
