"""How commits and ``gc`` take turns on a store: a commit's lease (``leases/commit-<id>``)
holds gc back while it runs; gc's marker (``leases/gc-<id>``) holds commits back while it
deletes.  See docs/security.md ("gc and concurrent commits", "Clock skew")."""

from __future__ import annotations

import contextlib
import time
import uuid
import warnings
from collections.abc import Iterator

from .backends import Backend
from .errors import ArtifactError
from .odb.gc import GC_FUTURE_WAIT, GC_MARKER_SKEW, GC_MARKER_STALE

__all__ = ["Leases"]


class Leases:
    """The lease files of the store at ``url`` (on ``backend``)."""

    def __init__(self, backend: Backend, url: str):
        self.backend = backend
        self.url = url

    @contextlib.contextmanager
    def hold(self) -> Iterator[None]:
        """Hold a commit's lease for the block: ``gc`` deletes nothing meanwhile."""
        lease = self.take()
        try:
            yield
        finally:
            self.backend.delete(lease)

    def take(self) -> str:
        """Write a commit's lease, then wait while another process's gc is deleting;
        returns the lease's path (delete it when done)."""
        lease = f"leases/commit-{uuid.uuid4().hex}"
        self.backend.write(lease, b"commit")
        try:
            self.wait_for_gc()
        except BaseException:
            self.backend.delete(lease)  # a commit that gives up leaves nothing
            raise
        return lease

    def wait_for_gc(self) -> None:
        """Wait, with a warning, while a gc marker younger than ``GC_MARKER_STALE`` exists.

        A marker dated more than ``GC_MARKER_SKEW`` ahead of this clock (clock skew, or a
        planted file) would look young for hours: it is trusted only while something
        rewrites it, and one left unchanged for ``GC_FUTURE_WAIT`` seconds stops the commit
        with an :class:`ArtifactError` naming it (never a silent wait, never a commit that
        goes on while a gc might be deleting)."""
        delay, warned = 0.01, False
        seen: dict[str, tuple[float, float]] = {}  # future marker -> (its mtime, seen since)
        while True:
            now, clock = time.time(), time.monotonic()
            waiting = []
            for rel, mtime in self.backend.walk_files("leases"):
                if not rel.rsplit("/", 1)[-1].startswith("gc-") or now - mtime >= GC_MARKER_STALE:
                    continue
                if mtime - now > GC_MARKER_SKEW:
                    if seen.get(rel, (None,))[0] != mtime:
                        seen[rel] = (mtime, clock)  # new, or rewritten: a gc is running
                    elif clock - seen[rel][1] >= GC_FUTURE_WAIT:
                        raise ArtifactError(self._future_marker(rel, mtime - now))
                waiting.append((rel, now - mtime))
            if not waiting:
                return
            if not warned:
                rel, age = waiting[0]
                warnings.warn(self._gc_wait_message(rel, age), stacklevel=4)
                warned = True
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _gc_wait_message(self, rel: str, age: float) -> str:
        if age >= -GC_MARKER_SKEW:
            return (
                f"commit to {self.url} waits for a running gc (its marker "
                f"{rel}, written {max(age, 0):.0f} s ago): it goes on when that gc ends, or "
                f"once the marker is {GC_MARKER_STALE:.0f} s old (a crashed gc's)"
            )
        return (
            f"commit to {self.url} waits for gc marker {rel}, dated {-age:.0f} s ahead of "
            "this machine's clock (clock skew, or a marker left behind): it waits up to "
            f"{GC_FUTURE_WAIT:.0f} s for a running gc to rewrite it, then gives up"
        )

    def _future_marker(self, rel: str, ahead: float) -> str:
        return (
            f"commit to {self.url} gave up waiting for gc: its marker {rel} is dated "
            f"{ahead:.0f} s ahead of this machine's clock and was not rewritten for "
            f"{GC_FUTURE_WAIT:.0f} s, so its date says nothing about whether a gc is "
            "running; nothing was committed. If a gc is running on another machine, commit "
            "after it ends (and set that machine's clock right); if none is, delete "
            f"{self.url.rstrip('/')}/{rel} and commit again"
        )

    def young(self, kind: str, max_age: float) -> list[str]:
        """The ``leases/<kind>*`` files younger than ``max_age`` seconds (one dated in the
        future counts as young: held back is the safe side for gc)."""
        now = time.time()
        return sorted(
            rel
            for rel, mtime in self.backend.walk_files("leases")
            if rel.rsplit("/", 1)[-1].startswith(kind) and now - mtime < max_age
        )
