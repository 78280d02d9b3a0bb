"""Helpers shared by the benchmark modules: timing, clips, subprocesses, the table."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

RATE = 16000


@dataclasses.dataclass
class Row:
    """One line of the table: a measured figure, its baseline and the target of the ratio."""

    figure: str
    what: str
    value: float | None
    unit: str = "s"
    baseline: str = ""
    base_value: float | None = None
    ratio: float | None = None
    target: str = ""
    ok: bool | None = None
    note: str = ""


def best_of(fn: Callable[[], Any], repeats: int, setup: Callable[[], Any] | None = None) -> float:
    """The smallest wall time of ``repeats`` calls of ``fn`` (``setup`` runs untimed first)."""
    best = float("inf")
    for _ in range(repeats):
        arg = setup() if setup is not None else None
        t = time.perf_counter()
        fn() if setup is None else fn(arg)
        best = min(best, time.perf_counter() - t)
    return best


def clips(n: int, seconds: float = 1.0, seed: int = 0) -> list[np.ndarray]:
    """``n`` clips of white noise, float32, ``RATE`` Hz."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(int(RATE * seconds)).astype(np.float32) for _ in range(n)]


@contextmanager
def scratch(prefix: str = "bench-") -> Iterator[str]:
    """A temporary folder, removed afterwards: under ``$BENCH_DIR``, by default ``bench-out/``
    in the repository (the disk a project's store lives on, not a tmpfs)."""
    base = os.environ.get("BENCH_DIR") or os.path.join(os.getcwd(), "bench-out")
    os.makedirs(base, exist_ok=True)
    d = tempfile.mkdtemp(prefix=prefix, dir=base)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def run_child(module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 900):
    """Run ``python -m module args`` and return the JSON object it prints last."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started, in MiB.

    Linux's ``VmHWM`` when there is one: ``ru_maxrss`` of a child process starts from its
    parent's resident size at fork (it survives exec), so a benchmark child started by a
    large parent would report the parent's size.  Elsewhere, ``resource.getrusage``.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 1024


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    import fsspec
    import soundfile

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "soundfile": f"{soundfile.__version__} (libsndfile {soundfile.__libsndfile_version__})",
        "fsspec": fsspec.__version__,
    }


def fmt_value(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit == "s":
        return f"{v:.3f} s" if v >= 0.01 else f"{v * 1000:.2f} ms"
    if unit == "MB":
        return f"{v:.1f} MB"
    return f"{v:g} {unit}".strip()


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table."""
    head = ["#", "figure", "measured", "baseline", "ratio", "target", "ok"]
    lines = []
    for r in rows:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
        base = r.baseline
        if r.base_value is not None:
            base += f" {fmt_value(r.base_value, 's')}"
        ok = {True: "yes", False: "NO", None: ""}[r.ok]
        what = r.what + (f" ({r.note})" if r.note else "")
        lines.append(
            [r.figure, what, fmt_value(r.value, r.unit), base.strip() or "-", ratio, r.target, ok]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |"]
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for ln in lines:
        out.append("| " + " | ".join(str(x).ljust(w) for x, w in zip(ln, widths)) + " |")
    return "\n".join(out)
