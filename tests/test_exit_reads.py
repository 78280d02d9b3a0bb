"""Reads and commits in an atexit handler (a script that saves or checks its clips as it
exits): the process-wide thread pools take no new tasks then, so their work is done in
the calling thread instead of failing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


@pytest.mark.parametrize("where", ["local", "memory"])
def test_reads_and_commits_in_an_atexit_handler(tmp_path, where):
    url = str(tmp_path / "s") if where == "local" else f"memory://exit-{tmp_path.name}"
    script = textwrap.dedent(
        f"""
        import atexit
        import numpy as np
        import artifacts
        from media import Audio

        store = artifacts.open_store({url!r})
        draft = artifacts.Artifact("m", "dataset")
        for i in range(40):
            draft.add(Audio(np.full(3000, i, np.float32), 8000), f"clip{{i}}")
        store.commit(draft)

        def at_exit():
            more = artifacts.Artifact("m", "dataset")
            for i in range(40):
                more.add(Audio(np.full(2000, -i, np.float32), 8000), f"clip{{i}}")
            store.commit(more)
            art = artifacts.open_store({url!r}).artifact("m:v0")
            total = sum(int(art.get(f"clip{{i}}").numpy()[0]) for i in range(40))
            print("read", total, art.verify() == [])

        atexit.register(at_exit)
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == "read 780 True"
