"""Garbage collection as one sweep: given the live set (blob digests and pack ids that
some manifest names), delete every other blob and pack, and stale temporary files."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..backends.base import Backend
from .layout import blob_digest

__all__ = ["GcReport", "sweep", "DEFAULT_GRACE", "GC_MARKER_STALE", "GC_MARKER_SKEW"]
__all__ += ["GC_FUTURE_WAIT"]

DEFAULT_GRACE = 3600.0
#: a gc marker not refreshed for this long is a crashed gc's: commits stop waiting for it
GC_MARKER_STALE = 300.0
#: how far ahead of this machine's clock a marker may be dated (clocks of machines sharing
#: a store differ a little) and still be judged by its date
GC_MARKER_SKEW = 60.0
#: a marker dated further ahead: a commit waits this long for a gc to rewrite it (a gc on
#: a machine whose clock is ahead), then gives up with an error naming it
GC_FUTURE_WAIT = 120.0


@dataclasses.dataclass
class GcReport:
    """What ``gc`` found: blobs and temporary files deleted (or to delete, in a dry run)."""

    deleted: list[str]
    freed_bytes: int
    live_blobs: int
    kept_young: int
    dry_run: bool
    live_packs: int = 0
    #: the commit leases (``leases/commit-<id>``) that held this gc back: it deleted nothing
    held_by: list[str] = dataclasses.field(default_factory=list)


def sweep(
    backend: Backend,
    live: set[str],
    packs: set[str],
    *,
    dry_run: bool = False,
    grace: float = DEFAULT_GRACE,
    progress: Callable[[Sequence[Any], str], Iterable[Any]] = lambda items, desc: items,
    marker: str | None = None,
) -> GcReport:
    """Delete blobs and packs not in the live set, and stale temporary files.

    Only files older than ``grace`` seconds are deleted, so that the blobs of a commit in
    flight (written before its manifest) survive.  ``marker``: this gc's lease, kept (and
    refreshed while deleting, so that commits keep waiting).
    """
    if grace < 0:
        raise ValueError(f"Invalid grace {grace!r}: give a number of seconds >= 0")
    now = time.time()
    refreshed = time.monotonic()
    deleted: list[str] = []
    freed = young = 0
    candidates = []
    for prefix in ("blobs", "packs", "artifacts", "probe", "tmp", "leases"):
        for rel, mtime in backend.walk_files(prefix):
            base = rel.rsplit("/", 1)[-1]
            if rel == marker:
                continue
            if base.startswith(".tmp-") or prefix in ("probe", "tmp", "leases"):
                candidates.append((rel, mtime))
            elif prefix == "blobs":
                if blob_digest(rel) not in live:
                    candidates.append((rel, mtime))
            elif prefix == "packs":
                if base.removesuffix(".idx") not in packs:
                    candidates.append((rel, mtime))
    # an index goes before its pack: an index whose pack is gone would offer missing bytes
    candidates.sort(key=lambda c: not c[0].endswith(".idx"))
    for rel, mtime in progress(candidates, "gc"):
        if now - mtime < grace:
            young += 1
            continue
        try:
            freed += backend.size(rel)
        except (FileNotFoundError, OSError):
            continue
        deleted.append(rel)
        if not dry_run:
            backend.delete(rel)
            if marker and time.monotonic() - refreshed > GC_MARKER_STALE / 5:
                backend.write(marker, b"gc")  # still deleting: commits wait
                refreshed = time.monotonic()
    return GcReport(sorted(deleted), freed, len(live), young, dry_run, len(packs))
