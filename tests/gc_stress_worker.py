"""A worker of ``tests/test_safety_stress.py``: commits that reuse debris, or gc in a loop.

``commit``: for ``--seconds``, plant a pack no manifest names (a commit whose manifest is
deleted, as a crash before the manifest leaves it), wait until it is older than the grace,
then commit the same files under the worker's own artifact (reusing the pack if gc has not
taken it).  ``gc``: ``gc(grace)`` in a loop, with random pauses of up to ``grace``.
Prints one JSON line of counts at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time

from integrity_helpers import draft_with

import artifacts


def files(tag: str, j: int) -> dict[str, bytes]:
    return {f"f{i}.bin": hashlib.sha256(f"{tag}/{j}/{i}".encode()).digest() * 50 for i in range(3)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("role", choices=["commit", "gc"])
    p.add_argument("--tag", default="w")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--grace", type=float, default=1.0)
    a = p.parse_args()
    store = artifacts.open_store(a.url, pack_min=2)
    counts = {"role": a.role, "tag": a.tag}
    end = time.monotonic() + a.seconds
    print("ready", flush=True)
    if a.role == "gc":
        runs = blocked = deleted = 0
        while time.monotonic() < end:
            r = store.gc(grace=a.grace)
            runs += 1
            deleted += len(r.deleted)
            blocked += not r.deleted and r.kept_young > 0
            time.sleep(random.uniform(0, a.grace))  # sometimes a reuse comes first
        counts.update(runs=runs, deleted=deleted, held_back=blocked)
    else:
        j = commits = reused = 0
        while time.monotonic() < end:
            content = files(a.tag, j)
            debris = store.commit(draft_with(f"debris-{a.tag}", content))
            store.backend.delete(f"artifacts/debris-{a.tag}/versions/{debris.version}.json")
            pid = next(iter(debris.manifest.entries.values()))["pack"]
            time.sleep(a.grace + 0.3)
            present = store.backend.exists(f"packs/{pid}")
            art = store.commit(draft_with(f"work-{a.tag}", content))
            reused += present and next(iter(art.manifest.entries.values()))["pack"] == pid
            commits += 1
            j += 1
        counts.update(commits=commits, reused_old_pack=reused)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
