"""Child process: the wandb client's loop ``Artifact.add(wandb.Audio(...))``, offline.

Prints ``{"seconds": best, "version": ...}`` or ``{"skipped": why}`` as its last line.
Runs in a temporary folder with WANDB_MODE=offline so that nothing is uploaded and no
file lands in the caller's folder; the folder is removed afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time


def main() -> None:
    n, repeats = int(sys.argv[1]), int(sys.argv[2])
    home = tempfile.mkdtemp(prefix="bench-wandb-")
    try:
        run(n, repeats, home)
    finally:
        os.chdir(os.path.dirname(home))
        shutil.rmtree(home, ignore_errors=True)  # its staged files: about 200 MB a run


def run(n: int, repeats: int, home: str) -> None:
    os.chdir(home)
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=home)
    os.environ["WANDB_CACHE_DIR"] = os.path.join(home, "cache")
    os.environ["WANDB_DATA_DIR"] = os.path.join(home, "data")
    try:
        import wandb
    except ImportError as exc:
        print(json.dumps({"skipped": f"wandb not importable ({exc})"}))
        return
    from benchmarks._util import RATE, clips

    arrays = clips(n)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        art = wandb.Artifact("clips", "dataset")
        for i, a in enumerate(arrays):
            art.add(wandb.Audio(a, sample_rate=RATE), f"clip{i}")
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"seconds": best, "version": wandb.__version__}))


if __name__ == "__main__":
    main()
