"""Crash safety: a committing process is killed with SIGKILL, again and again.

``tests/crash_worker.py`` commits versions in a loop and records each version whose commit
returned.  The test kills it at random moments (``CRASH_KILLS`` kills; 20 by default, 100
with ``HYPOTHESIS_PROFILE=thorough``), and at the three points of the commit protocol where a
crash leaves the most behind.  Then, read around the store: it opens, every version
verifies, versions are numbered without gaps, every manifest is whole, no promised version
is lost, every alias names an existing version, ``gc`` with the default grace keeps the
debris of the crashes and ``gc(grace=0)`` removes exactly that debris.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from integrity_helpers import snapshot

import artifacts
import schemas
from artifacts.manifest import blob_path

WORKER = os.path.join(os.path.dirname(__file__), "crash_worker.py")
NAME = "shared"


def kills_wanted() -> int:
    """How many random kills: ``$CRASH_KILLS``, else 100 (thorough profile) or 20."""
    if os.environ.get("CRASH_KILLS"):
        return int(os.environ["CRASH_KILLS"])
    return 100 if os.environ.get("HYPOTHESIS_PROFILE") == "thorough" else 20


def start_worker(store_dir, out, tag, *extra) -> subprocess.Popen:
    """Start a worker and wait until it says ``ready``."""
    proc = subprocess.Popen(
        [sys.executable, WORKER, str(store_dir), str(out), "--tag", tag, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    line = proc.stdout.readline()
    if line != b"ready\n":
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"worker {tag} did not start: {line!r}\n{err.decode()}")
    return proc


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL a worker; it must not have died on its own before."""
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, f"worker exited {proc.returncode}:\n{err.decode()}"


def promised(out) -> list[tuple[str, str, str, int]]:
    """``(version, digest, tag, i)`` of every commit that returned (whole lines only)."""
    if not os.path.exists(out):
        return []
    rows = []
    with open(out, encoding="utf-8") as f:
        for line in f:
            if line.endswith("\n"):
                v, digest, tag, i = line.split()
                rows.append((v, digest, tag, int(i)))
    return rows


def debris(store_dir) -> set[str]:
    """Files a crash may leave, found without the store's code: temporary files, probe
    files, the leases of killed commits, and blobs and packs (with their indexes) that no
    manifest refers to."""
    referenced = set()
    packs = set()
    versions_dir = os.path.join(store_dir, "artifacts", NAME, "versions")
    for f in os.listdir(versions_dir) if os.path.isdir(versions_dir) else []:
        if f.startswith(".tmp-"):
            continue
        with open(os.path.join(versions_dir, f), "rb") as fh:
            m = json.loads(fh.read())
        referenced |= {e["digest"] for e in m["entries"].values()}
        packs |= {e["pack"] for e in m["entries"].values() if "pack" in e}
    out = set()
    for dirpath, _, files in os.walk(store_dir):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), store_dir)
            if f.startswith(".tmp-") or rel.startswith(("probe/", "leases/")):
                out.add(rel)
            elif rel.startswith("blobs/"):
                parts = rel.split("/")
                if parts[2] + parts[3] not in referenced:
                    out.add(rel)
            elif rel.startswith("packs/") and f.removesuffix(".idx") not in packs:
                out.add(rel)
    return out


def check_store(store_dir, out) -> dict[str, int]:
    """Every guarantee of the commit protocol after crashes; returns counts for the report."""
    store = artifacts.open_store(str(store_dir))
    versions = store.versions(NAME)
    # one writer at a time: versions are numbered without gaps
    assert versions == [f"v{n}" for n in range(len(versions))]
    # no half-made version: every file in versions/ is a whole manifest (or a temp file)
    versions_dir = os.path.join(store_dir, "artifacts", NAME, "versions")
    for f in os.listdir(versions_dir):
        if f.startswith(".tmp-"):
            continue
        assert f in {f"{v}.json" for v in versions}, f
        with open(os.path.join(versions_dir, f), "rb") as fh:
            artifacts.Manifest.parse(fh.read(), f)  # JSON, schema and digest
    # every listed version verifies, through the store
    tags = {}
    for v in versions:
        art = store.artifact(f"{NAME}:{v}")
        art.verify()
        (entry,) = [p for p in art.manifest.entries if p.startswith("from/")]
        tags[v] = art.read_bytes(entry).decode()
    # every version whose commit returned is there, with its content: none lost
    rows = promised(out)
    lost = [r for r in rows if r[0] not in versions]
    assert lost == [], f"versions lost: {lost}"
    for v, digest, tag, i in rows:
        assert store.artifact(f"{NAME}:{v}").digest == digest
        assert tags[v] == f"{tag} {i}\n"
    # every alias file is whole and names an existing version
    aliases_dir = os.path.join(store_dir, "artifacts", NAME, "aliases")
    alias_files = [f for f in os.listdir(aliases_dir) if not f.startswith(".tmp-")]
    for f in alias_files:
        with open(os.path.join(aliases_dir, f), "rb") as fh:
            obj = json.loads(fh.read())
        schemas.validate(obj, "alias")
        assert obj["version"] in versions, (f, obj)
    assert set(store.aliases(NAME)) == {f[: -len(".json")] for f in alias_files} | {"latest"}
    # gc: the default grace keeps the young debris; grace=0 removes exactly the debris
    found = debris(store_dir)
    before = snapshot(store)
    report = store.gc()
    assert report.deleted == [] and report.kept_young == len(found)
    assert snapshot(store) == before
    report = store.gc(grace=0)
    assert set(report.deleted) == found
    assert debris(store_dir) == set()
    for v in versions:
        store.artifact(f"{NAME}:{v}").verify()
    return {"versions": len(versions), "promised": len(rows), "debris": len(found)}


@pytest.mark.slow
def test_random_sigkills_never_lose_or_half_make_a_version(tmp_path, capsys):
    store_dir, out = tmp_path / "store", tmp_path / "committed.txt"
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    kills = kills_wanted()
    debris_seen = 0
    for k in range(kills):
        size = str(rng.choice([4, 32]) << 10)
        packing = ["--pack-min", "2"] if rng.random() < 0.5 else []  # half the commits pack
        proc = start_worker(store_dir, out, f"k{k}", "--blob-size", size, *packing)
        time.sleep(rng.uniform(0.0, 0.3))
        kill(proc)
        debris_seen += len(debris(store_dir))
    counts = check_store(store_dir, out)
    # a new writer carries on after all those crashes
    proc = start_worker(store_dir, out, "after", "--commits", "2")
    assert proc.wait() == 0, proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    final = check_store(store_dir, out)
    assert final["versions"] == counts["versions"] + 2
    with capsys.disabled():
        print(
            f"\ncrash test (seed {seed}): {kills} SIGKILLs survived, {counts['versions']} "
            f"versions, {counts['promised']} promised, 0 lost, {counts['debris']} debris "
            f"files reclaimed by gc(grace=0)"
        )


@pytest.mark.parametrize("point", ["blobs", "packs", "manifest", "alias"])
def test_a_kill_at_each_step_of_the_commit_protocol(tmp_path, point):
    store_dir, out = tmp_path / "store", tmp_path / "committed.txt"
    first = start_worker(store_dir, out, "first", "--commits", "2")
    assert first.wait() == 0
    first.stdout.close()
    first.stderr.close()
    pause = ["--pause-at", point]
    if point == "packs":
        pause = ["--pause-at", "blobs", "--pack-min", "2"]
    proc = start_worker(store_dir, out, "victim", *pause, "--blob-size", "1024")
    assert proc.stdout.readline() == b"paused\n"
    kill(proc)
    store = artifacts.open_store(str(store_dir))
    every = debris(store_dir)
    # the killed commit's lease is left at every step (it goes once the aliases moved)
    leases = {f for f in every if f.startswith("leases/commit-")}
    assert len(leases) == 1
    found = every - leases
    if point == "blobs":
        # three random blobs and the tag file were written; no manifest names them
        assert len(found) == 4 and all(f.startswith("blobs/") for f in found)
        assert store.versions(NAME) == ["v0", "v1"]
    elif point == "packs":
        # the same four files in one pack, whose index is not written yet
        (pack,) = found
        assert pack.startswith("packs/") and not pack.endswith(".idx")
        assert os.path.getsize(store_dir / pack) == 3 * 1024 + len("victim 0\n")
        assert store.versions(NAME) == ["v0", "v1"]
    elif point == "manifest":
        # the manifest's synced temporary file is there, but no version
        tmp = [f for f in found if "/versions/.tmp-" in f]
        assert len(tmp) == 1
        assert store.versions(NAME) == ["v0", "v1"]
    else:
        # the version is whole and visible; the aliases still name the previous one
        assert store.versions(NAME) == ["v0", "v1", "v2"]
        assert store.aliases(NAME) == {"best": "v1", "by-first": "v1", "latest": "v2"}
        store.artifact(f"{NAME}:v2").verify()
        assert found == set()
    counts = check_store(store_dir, out)
    assert counts["debris"] == len(every)
    # a new writer carries on
    again = start_worker(store_dir, out, "again", "--commits", "1")
    assert again.wait() == 0
    again.stdout.close()
    again.stderr.close()
    check_store(store_dir, out)


def test_blob_paths_used_by_the_debris_check_match_the_store_layout():
    digest = "ab" + "c" * 62
    assert blob_path(digest) == f"blobs/sha256/ab/{'c' * 62}"
