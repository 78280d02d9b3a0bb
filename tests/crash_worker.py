"""A committing process for the crash and concurrency tests (run as a script, not collected).

    python tests/crash_worker.py STORE OUT --tag TAG [--commits N] [--pause-at POINT]

Commits versions of artifact ``shared`` to the store at ``STORE``, each with a file that
names this worker and the commit (``from/<tag>/<i>.txt``), a few random blobs (so that a
kill often lands while blobs are written) and one blob every worker shares (so that
identical bytes meet).  After each commit returns, one line ``<version> <digest> <tag> <i>``
is appended to ``OUT`` and flushed to disk before the next commit starts: a version listed
there was promised to the caller, and must survive any crash.

``--pause-at`` stops the worker at one point of the commit protocol (it prints ``paused``
and sleeps until killed), for the tests that kill it exactly there:

* ``blobs``: after the blobs (or packs) are written, before the manifest is created;
* ``manifest``: inside the manifest's create, after its temporary file is written and
  synced, before it is linked into place;
* ``alias``: after the manifest is created, before the alias moves.

Prints ``ready`` once imported and the store is open; with ``--start-file`` it then waits
until that file exists, so that several workers start committing at the same moment.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import artifacts
from artifacts import Artifact

SHARED = b"the same bytes in every worker's every commit\n" * 100


def _pause() -> None:
    print("paused", flush=True)
    time.sleep(600)


def _install_pause(store: artifacts.Store, point: str | None) -> None:
    if point == "blobs":
        write_many = store.backend.write_many

        def paused_write_many(items, progress=None):
            write_many(items, progress)
            _pause()

        store.backend.write_many = paused_write_many
    elif point == "manifest":
        real_link = os.link

        def paused_link(src, dst, *args, **kwargs):
            if "/versions/" in os.fspath(dst):
                _pause()
            return real_link(src, dst, *args, **kwargs)

        os.link = paused_link  # only this process's os module (the local backend's create)
    elif point == "alias":

        def paused_set_alias(name, alias, version):
            _pause()

        store.set_alias = paused_set_alias
    elif point is not None:
        raise SystemExit(f"unknown pause point {point!r}")


def main(argv: list[str] | None = None) -> int:
    """Commit until ``--commits`` are done (or forever) and record each one in OUT."""
    parser = argparse.ArgumentParser()
    parser.add_argument("store")
    parser.add_argument("out")
    parser.add_argument("--tag", required=True)
    parser.add_argument("--commits", type=int, default=0, help="0: until killed")
    parser.add_argument("--pause-at", choices=["blobs", "manifest", "alias"])
    parser.add_argument("--blob-size", type=int, default=256 << 10)
    parser.add_argument("--start-file", help="wait until this file exists, then start")
    parser.add_argument("--pack-min", type=int, help="the store's pack_min (default: its own)")
    args = parser.parse_args(argv)

    if args.pack_min:
        store = artifacts.open_store(args.store, pack_min=args.pack_min)
    else:
        store = artifacts.open_store(args.store)
    _install_pause(store, args.pause_at)
    out = open(args.out, "a", encoding="utf-8")  # noqa: SIM115  (kept open until killed)
    print("ready", flush=True)
    while args.start_file and not os.path.exists(args.start_file):
        time.sleep(0.001)  # a barrier: every worker starts committing at the same moment
    i = 0
    while not args.commits or i < args.commits:
        draft = Artifact("shared", "dataset", metadata={"tag": args.tag})
        with draft.new_file(f"from/{args.tag}/{i}.txt") as f:
            f.write(f"{args.tag} {i}\n")
        for k in range(3):
            with draft.new_file(f"random/{k}.bin", "wb") as f:
                f.write(os.urandom(args.blob_size))
        with draft.new_file("shared.bin", "wb") as f:
            f.write(SHARED)
        committed = store.commit(draft, aliases=[f"by-{args.tag}", "best"])
        out.write(f"{committed.version} {committed.digest} {args.tag} {i}\n")
        out.flush()
        os.fsync(out.fileno())
        i += 1
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
