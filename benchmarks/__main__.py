"""``python -m benchmarks [--quick] [--only 1,2,...]``: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from . import _util


def main(argv: list[str] | None = None) -> int:
    """Run the selected figures and print the machine and the table."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--only", default="1,2,3,4,5,6,7,8", help="figures to run, e.g. 1,2")
    p.add_argument("--repeats", type=int, default=None, help="best of N (default 5, quick 3)")
    args = p.parse_args(argv)
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    repeats = args.repeats or (3 if args.quick else 5)
    n = 1000
    entries = 20_000 if args.quick else 100_000
    big_mb = 128 if args.quick else 1024
    info = _util.machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    print(f"best of {repeats}; {n} clips of 1 s at 16 kHz float32", flush=True)
    rows: list[_util.Row] = []
    failed = False
    started = time.perf_counter()
    steps = [
        ("1", "local", lambda m: m.run(n, repeats)),  # figures 1 and 2
        ("3", "scale", lambda m: m.run(entries)),
        ("4", "large", lambda m: m.run(big_mb)),
        ("5", "s3", lambda m: m.run(n, max(1, repeats - 2))),
        ("6", "scaleout", lambda m: m.run(n, max(1, repeats - 2))),
        ("7", "epoch", lambda m: m.run(500 if args.quick else 2000, max(1, repeats - 2))),
        ("8", "copy", lambda m: m.run(n, max(1, repeats - 2))),
    ]
    for fig, module, call in steps:
        if fig not in only and not (fig == "1" and "2" in only):
            continue
        mod = importlib.import_module(f"benchmarks.{module}")
        t = time.perf_counter()
        try:
            got = call(mod)
        except Exception as exc:  # one broken figure must not hide the others
            got = [_util.Row(fig, f"{module}: FAILED", None, note=f"{type(exc).__name__}: {exc}")]
            failed = True
        rows.extend(got)
        print(f"  [{module} done in {time.perf_counter() - t:.0f} s]", file=sys.stderr, flush=True)
    print()
    print(_util.table(rows))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    missed = [r for r in rows if r.ok is False]
    if missed:
        print(f"{len(missed)} figure(s) missed their target: see BENCHMARKS.md for why")
    return 1 if failed else 0  # a missed target is a result; a crashed figure is an error


if __name__ == "__main__":
    sys.exit(main())
