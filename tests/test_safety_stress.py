"""gc in a loop against processes whose commits reuse old unreferenced packs, on a local
folder and on S3 (moto's server): every version verifies afterwards (issue 12, case 5).

Prints the counts (commits, reuses of an old pack, gc runs, runs held back by a commit's
lease, files deleted) that docs/security.md reports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import artifacts

WORKER = os.path.join(os.path.dirname(__file__), "gc_stress_worker.py")
SECONDS = float(os.environ.get("GC_STRESS_SECONDS", "6"))


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_gc_looping_against_committers_that_reuse_packs(backend, tmp_path, request, capsys):
    if backend == "s3":
        url = f"{request.getfixturevalue('s3_bucket')}/store"
    else:
        url = str(tmp_path / "store")
    artifacts.open_store(url).ensure_marker()  # a store before gc starts: gc refuses none
    roles = [("commit", f"w{i}") for i in range(3)] + [("gc", "gc")]
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, url, role, "--tag", tag, "--seconds", str(SECONDS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=os.environ.copy(),
        )
        for role, tag in roles
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=SECONDS * 10 + 60)
        assert proc.returncode == 0, err.decode()
        results.append(json.loads(out.decode().splitlines()[-1]))
    store = artifacts.open_store(url)
    versions = 0
    for name in store.names():
        for v in store.versions(name):
            assert store.artifact(f"{name}:{v}").verify(raise_on_error=False) == []
            versions += 1
    commits = sum(r.get("commits", 0) for r in results)
    reused = sum(r.get("reused_old_pack", 0) for r in results)
    (gc,) = [r for r in results if r["role"] == "gc"]
    assert commits and gc["runs"]
    with capsys.disabled():
        print(
            f"\ngc stress ({backend}, {SECONDS:g} s): {commits} commits, {reused} reused an old "
            f"pack, {versions} versions all verify; gc ran {gc['runs']} times, "
            f"{gc['held_back']} held back by a lease, {gc['deleted']} files deleted"
        )
