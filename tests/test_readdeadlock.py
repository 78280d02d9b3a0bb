"""Many concurrent batched reads of large spans on an object store finish: a read thread
never waits on work queued behind it in its own pool (a deadlock seen once: the read-ahead
threads of 8 loops each waited on a check queued in the same, full pool)."""

from __future__ import annotations

import threading

import numpy as np
from test_blake3 import clip, commit_clips

import artifacts


def test_concurrent_loops_over_large_packs_finish(store):
    v = commit_clips(store, n=40, first=900)
    errors: list[BaseException] = []

    def loop():
        try:
            art = artifacts.open_store(store.url).artifact(v.qualified_name)
            for i in range(900, 940):
                assert np.array_equal(art.get(f"c{i}").numpy(), clip(i).numpy())
        except BaseException as exc:  # (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=loop) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "reads did not finish: a deadlock"
    assert not errors, errors
