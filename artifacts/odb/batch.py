"""Reading many pack members at once: coalesced ranged reads, run concurrently, every member
checked against its sha256, and a read-ahead for callers that read a version's values in
a loop.

A pack holds many small files end to end (:mod:`artifacts.odb.packs`).  Reading its members
one ranged request at a time costs a round trip each on an object store; here the members
wanted from one pack are grouped into spans (neighbours at most :data:`GAP` bytes apart,
at most :data:`SPAN` bytes per span), each span is one ranged read, and the spans run on a
few threads with at most :data:`WINDOW` bytes in flight.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, NamedTuple

from media.errors import IntegrityError

from ..backends.base import Backend
from .cache import BlobCache
from .chunks import BLAKE3_KEY, digest_matches, mismatch
from .layout import pack_path
from .pools import Pool, soon

__all__ = ["Member", "Span", "coalesce", "fetch_span", "read_members", "ReadAhead"]

#: a member's checked bytes, the caller's own: a ``bytearray``, or a writable view of a
#: private (copy-on-write) mapping of a local pack made for this read
Buffer = bytearray | memoryview

GAP = 256 << 10  # members at most this far apart share a ranged read (the gap is read too)
SPAN = 8 << 20  # bytes of one ranged read at most (a lone larger member is one read)
WINDOW = 32 << 20  # bytes of spans in flight or read ahead and not yet handed out
LOCAL_WINDOW = 16 << 20  # the same on a local disk (mapped, checked in the caller's thread)
WORKERS = 8  # ranged reads at a time on an object store
PARALLEL_MIN = 8  # members of one read from which their hashing is split between two threads
MAPPED = 1 << 40  # gap and span of a read that maps the file (no bytes read between members)


class Member(NamedTuple):
    """One pack member to read: where it is and what it must hash to."""

    pack: str
    offset: int
    size: int
    digest: str
    name: str  # for errors: the entry's qualified name
    b3: str | None = None  # its BLAKE3 digest when recorded (format 2): checked instead


def member_of(e: Mapping[str, Any], name: str) -> Member:
    """The pack member of a packed manifest entry."""
    return Member(e["pack"], e["offset"], e["size"], e["digest"], name, e.get(BLAKE3_KEY))


class Span(NamedTuple):
    """One ranged read of a pack: bytes ``start`` to ``end`` and the members inside."""

    pack: str
    start: int
    end: int
    members: tuple[Member, ...]


def coalesce(members: Iterable[Member], gap: int = GAP, span: int = SPAN) -> list[Span]:
    """Spans covering ``members``: grouped by pack, in offset order, neighbours at most
    ``gap`` bytes apart joined while the span stays within ``span`` bytes."""
    by_pack: dict[str, list[Member]] = {}
    for m in members:
        by_pack.setdefault(m.pack, []).append(m)
    out = []
    for pack, ms in by_pack.items():
        ms.sort(key=lambda m: (m.offset, m.size))
        group = [ms[0]]
        start, end = ms[0].offset, ms[0].offset + ms[0].size
        for m in ms[1:]:
            m_end = m.offset + m.size
            if m.offset - end <= gap and max(end, m_end) - start <= span:
                group.append(m)
                end = max(end, m_end)
                continue
            out.append(Span(pack, start, end, tuple(group)))
            group, start, end = [m], m.offset, m_end
        out.append(Span(pack, start, end, tuple(group)))
    return out


#: (pack, offset, size, digest, BLAKE3 digest or None): a member, whoever asks
Key = tuple[str, int, int, str, "str | None"]


def key_of(m: Member) -> Key:
    return (m.pack, m.offset, m.size, m.digest, m.b3)


def fetch_span(
    backend: Backend, span: Span, cache: BlobCache | None = None
) -> dict[Key, Buffer | str]:
    """Read ``span`` with one ranged read and check each member: its bytes (a writable
    buffer of its own: a ``bytearray`` read straight into where the backend allows, or a
    view of a private mapping of the pack on a local disk, no copy), or why they are bad
    (raised as :class:`IntegrityError` when the member is asked for: a bad member does not
    spoil its neighbours).  With a ``cache``, a span whose members are all there
    (and check) is not read; the members read are kept there."""
    ms = span.members
    if cache is not None:
        hits = {key_of(m): cache.get(m.digest, m.size) for m in ms}
        if all(v is not None for v in hits.values()):
            return hits  # type: ignore[return-value]
    gaps = [b.offset - a.offset - a.size for a, b in zip(ms, ms[1:])]
    overlap = any(g < 0 for g in gaps)
    own: list[Any]
    try:
        path, n = pack_path(span.pack), span.end - span.start
        mapped = None if overlap else backend.map_range(path, span.start, n)
        if mapped is not None:  # a local disk: each member a view of a private mapping
            got = len(mapped)
            own = [mapped[m.offset - span.start : m.offset - span.start + m.size] for m in ms]
        elif overlap:  # (only a forged manifest has members that overlap)
            data = backend.read_range(path, span.start, n)
            got = len(data)
            own = [bytearray(m.size) for m in ms]
            for m, b in zip(ms, own):
                part = data[m.offset - span.start : m.offset - span.start + m.size]
                b[: len(part)] = part
        else:
            own = [bytearray(m.size) for m in ms]
            buffers: list[Any] = []
            pos = span.start
            gap = memoryview(bytearray(max([0, *gaps])))  # scratch for the bytes between members
            for m, b in zip(ms, own):
                if m.offset > pos:
                    buffers.append(gap[: m.offset - pos])  # the gap's bytes are not kept
                buffers.append(b)
                pos = m.offset + m.size
            got = backend.read_into(path, span.start, buffers)
    except FileNotFoundError:
        return {key_of(m): f"its pack {span.pack[:16]}... is missing" for m in ms}
    except OSError as exc:  # e.g. S3's 416: the range is past the pack's end
        return {
            key_of(m): f"bytes {m.offset}..{m.offset + m.size} of its pack {m.pack[:16]}... "
            f"cannot be read ({exc}); the pack is shorter or damaged"
            for m in ms
        }
    out: dict[Key, Buffer | str] = {}
    good = _check_all(ms, own, span.start + got, split=backend.maps_files)
    for m, b, ok in zip(ms, own, good):
        if ok:  # (whole and matching: _check_all hashes only members that are whole)
            out[(m.pack, m.offset, m.size, m.digest, m.b3)] = b
            if cache is not None:
                cache.put(m.digest, b)
            continue
        have = min(m.size, max(0, span.start + got - m.offset))
        if have != m.size:
            out[key_of(m)] = (
                f"{have} bytes stored, its manifest says {m.size} (bytes "
                f"{m.offset}..{m.offset + m.size} of its pack {m.pack[:16]}...: the pack is "
                "shorter or damaged)"
            )
        else:
            out[key_of(m)] = mismatch(m.digest, m.b3)
    return out


def _check_all(ms: tuple[Member, ...], own: list[Any], end: int, split: bool) -> list[bool]:
    """Whether each member's bytes match its digest (members cut short by ``end`` are not
    hashed).  With ``split`` (a local read, made in the caller's thread) the members of a
    large read are hashed on two threads: the hash functions release the GIL, so a second
    core nearly halves the time of checking them.  The threads take members one at a time
    from a shared counter, and the caller never waits for the helper: a member the helper
    holds but has not finished (its thread may be waiting for a core) the caller checks
    again itself.  So a busy machine costs at most one member's hashing twice."""
    n = len(ms)
    good: list[bool | None] = [None] * n  # None: not checked yet
    taken = itertools.count()  # (next() on it is atomic: each member is taken once)

    def ok(i: int) -> bool:
        m = ms[i]
        return m.offset + m.size <= end and digest_matches(own[i], m.digest, m.b3)

    def check() -> None:
        for i in taken:
            if i >= n:
                return
            good[i] = ok(i)

    if n < PARALLEL_MIN or not split:  # (object stores: spans already read in parallel)
        check()
        return good  # type: ignore[return-value]
    helper = _HASHER.soon(check)
    check()
    if not helper.cancel():  # started: what it holds unfinished is checked here too
        for i in range(n):
            if good[i] is None:
                good[i] = ok(i)
    return good  # type: ignore[return-value]


def checked(m: Member, got: Buffer | str) -> Buffer:
    """The bytes of a fetched member, or its IntegrityError raised."""
    if isinstance(got, str):
        raise IntegrityError(f"{m.name}: {got}")
    return got


def read_members(
    backend: Backend,
    members: list[Member],
    *,
    workers: int = WORKERS,
    window: int = WINDOW,
    cache: BlobCache | None = None,
) -> Iterator[tuple[Member, Buffer | str]]:
    """Each of ``members`` with its checked bytes (or why they are bad: see
    :func:`checked`), in the order given, read in coalesced spans on ``workers`` threads
    with at most about ``window`` bytes read ahead of the caller.  Local stores read in
    the caller's thread.  A member wanted twice comes the second time as a copy (each
    buffer has one owner)."""
    given: set[Key] = set()
    # a mapped range costs only the pages used: join all the members of a pack into one
    spans = coalesce(members, MAPPED, MAPPED) if backend.maps_files else coalesce(members)
    where = {key_of(m): i for i, s in enumerate(spans) for m in s.members}
    uses = {i: 0 for i in range(len(spans))}
    order: list[int] = []  # spans in the order their first member is wanted
    for m in members:
        i = where[key_of(m)]
        if not uses[i]:
            order.append(i)
        uses[i] += 1
    if backend.is_local or workers <= 1:
        done: dict[int, dict[Key, Buffer | str]] = {}
        for m in members:
            i = where[key_of(m)]
            if i not in done:
                done[i] = fetch_span(backend, spans[i], cache)
            yield m, _once(done[i][key_of(m)], key_of(m), given)
            uses[i] -= 1
            if not uses[i]:
                del done[i]
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="pack-read") as pool:
        futures: dict[int, Future[Any]] = {}
        nxt = 0
        inflight = 0
        try:
            for m in members:
                i = where[key_of(m)]
                # keep up to `window` bytes of spans on their way (the wanted one always)
                while nxt < len(order) and (inflight < window or i not in futures):
                    j = order[nxt]
                    futures[j] = soon(pool, fetch_span, backend, spans[j], cache)
                    inflight += spans[j].end - spans[j].start
                    nxt += 1
                yield m, _once(futures[i].result()[key_of(m)], key_of(m), given)
                uses[i] -= 1
                if not uses[i]:
                    del futures[i]
                    inflight -= spans[i].end - spans[i].start
        finally:
            for f in futures.values():
                f.cancel()


def _once(got: Buffer | str, key: Key, given: set[Key]) -> Buffer | str:
    """``got``, or a copy of it when it was handed out before."""
    if key in given and not isinstance(got, str):
        return bytearray(got)
    given.add(key)
    return got


class ReadAhead:
    """Pack members of one version read ahead of a caller that reads them in a loop.

    A read of a member that opens its pack or follows the member read before it there
    also starts reads of the version's next members of that pack, up to :data:`WINDOW`
    bytes ahead, in coalesced spans (on a few threads on an object store); later reads
    take their bytes from there.  A read anywhere else is one ranged read, as before.
    Bytes are handed out once (then forgotten), and at most :data:`WINDOW` bytes wait.
    """

    def __init__(
        self,
        backend: Backend,
        entries: Mapping[str, Mapping[str, Any]],
        cache: BlobCache | None = None,
    ):
        self.backend = backend
        self.cache = cache
        self._entries = entries
        self._order: dict[str, list[Key]] | None = None
        self._pos: dict[Key, int] = {}
        self._last: dict[str, int] = {}  # pack -> index of the member read last
        self._ahead: dict[str, int] = {}  # pack -> index of the first member not yet asked
        self._waiting: OrderedDict[Key, Buffer | str | Future[Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._window = LOCAL_WINDOW if backend.is_local else WINDOW

    def _members(self) -> dict[str, list[Key]]:
        if self._order is None:
            found: dict[str, set[Key]] = {}
            for e in self._entries.values():
                if "pack" in e and "offset" in e and "digest" in e:
                    k = (e["pack"], e["offset"], e["size"], e["digest"], e.get(BLAKE3_KEY))
                    found.setdefault(e["pack"], set()).add(k)
            self._order = {p: sorted(ks) for p, ks in found.items()}
            self._pos = {k: i for ks in self._order.values() for i, k in enumerate(ks)}
        return self._order

    def read(self, m: Member) -> Buffer:
        """The checked bytes of member ``m``, the caller's own (else
        :class:`IntegrityError`)."""
        k = (m.pack, m.offset, m.size, m.digest, m.b3)  # (key_of, inline: once per value)
        with self._lock:
            if self._order is None:
                self._members()
            i = self._pos.get(k)
            if i is not None:
                last = self._last
                if i == 0 or last.get(m.pack) == i - 1:  # a loop through the pack
                    if k not in self._waiting or self._bytes < self._window // 2:
                        self._read_ahead(m.pack, i)
                last[m.pack] = i
            got = self._waiting.pop(k, None)
            if got is not None:
                self._bytes -= m.size
        if got is None:
            span = Span(m.pack, m.offset, m.offset + m.size, (m,))
            got = fetch_span(self.backend, span, self.cache)[k]
        elif type(got) is Future:  # an object store's read, under way on a thread
            got = got.result()[k]
        return checked(m, got)

    def _read_ahead(self, pack: str, i: int) -> None:
        """Start reads of member ``i`` of ``pack`` and the next ones, up to the window
        (called with the lock held).  What waits is a member's checked bytes (or why they
        are bad) on a local disk, read here; else the future of its span's read."""
        ms = self._order[pack] if self._order else []
        j = i if ms[i] not in self._waiting else max(self._ahead.get(pack, 0), i + 1)
        todo = []
        room = self._window - self._bytes
        while j < len(ms) and (room > 0 or not todo):
            pack_, offset, size, digest, b3 = ms[j]
            todo.append(Member(pack_, offset, size, digest, "", b3))
            room -= size
            j += 1
        self._ahead[pack] = j
        if not todo:
            return
        local = self.backend.is_local
        waiting = self._waiting
        if local:  # one mapping over them all: what lies between them costs nothing there
            spans = [Span(pack, todo[0].offset, max(m.offset + m.size for m in todo), tuple(todo))]
        else:
            spans = coalesce(todo, span=SPAN)
        for span in spans:
            if local:  # a read from the disk (a mapping, checked) is quick: no thread hand-off
                waiting.update(fetch_span(self.backend, span, self.cache))
            else:
                fut = _READ_AHEAD.soon(fetch_span, self.backend, span, self.cache)
                for mm in span.members:
                    waiting[key_of(mm)] = fut
            self._bytes += sum(mm.size for mm in span.members)
        while self._bytes > 2 * self._window and waiting:  # never asked for: dropped first
            old, _ = waiting.popitem(last=False)
            self._bytes -= old[2]

    def close(self) -> None:
        """Forget what waits (reads under way finish on their own)."""
        with self._lock:
            for fut in self._waiting.values():
                fut.cancel()
            self._waiting.clear()
            self._bytes = 0


#: the thread that checks part of a large local read's members (its tasks wait on nothing;
#: a pool of its own: a read-ahead thread waiting here on its own pool could deadlock)
_HASHER = Pool(1, "read-check")
#: the threads of every read-ahead of the process
_READ_AHEAD = Pool(WORKERS, "read-ahead")
_hasher = _HASHER.get
