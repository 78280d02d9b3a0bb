"""Packs: many small files of a commit end to end in one object, found through an index
(``packs/<id>.idx``) that names each member's digest and size.  The packing policy
(:meth:`Packs.plan`) is kept apart from the format (:func:`parse_index`,
:func:`artifacts.odb.layout.pack_id`)."""

from __future__ import annotations

import json
from typing import Any

import schemas
from media.errors import IntegrityError

from ..backends.base import Backend, Pack, members_match
from ..manifest import canonical_json
from ..names import HEX64
from .layout import MANIFEST_MAX, blob_digest, blob_path, pack_id, pack_path

__all__ = ["Packs", "parse_index", "PACK_MIN", "PACK_MEMBER_MAX", "PACK_TARGET"]

#: a commit that writes at least this many new small files packs them (``open_store(pack_min=)``)
PACK_MIN = 16
#: files up to this size go into packs ...
PACK_MEMBER_MAX = 4 << 20
#: ... and a pack is closed once it holds this many bytes
PACK_TARGET = 32 << 20


def parse_index(pid: str, data: bytes) -> list[tuple[str, int]] | None:
    """The members of pack ``pid``'s index, or ``None`` when it is not a valid index of
    that pack (such a pack is never reused: its files are written again)."""
    try:
        obj = json.loads(data)
        schemas.validate(obj, "pack-index")
    except (ValueError, UnicodeDecodeError, RecursionError, schemas.SchemaError):
        return None
    members = [(d, s) for d, s in obj["members"]]
    for d, s in members:  # exactly what the writer writes: no 2.0, no trailing newline
        if type(s) is not int or type(d) is not str or not HEX64.fullmatch(d):
            return None
    return members if pack_id(members) == pid else None


class Packs:
    """The packs of one store as far as this process has seen them, and the policy that
    places a commit's new small files."""

    def __init__(self, backend: Backend, pack_min: int | None = PACK_MIN):
        self.backend = backend
        self.pack_min = pack_min
        self._members: dict[str, list[tuple[str, int]] | None] = {}

    def packed(self, sizes: dict[str, int]) -> dict[str, dict[str, Any]]:
        """``{"pack", "offset"}`` of each file (digest -> size) that a pack of the store
        holds.

        Packs are found by listing ``packs/`` at every commit (so a pack that ``gc``
        deleted is never reused); each index not yet seen by this Store is read and
        trusted only if it hashes to its pack's name and its pack has the size it says (a
        torn or truncated pack is packed again, which replaces it).
        """
        found: dict[str, dict[str, Any]] = {}
        names = set(self.backend.listdir("packs"))
        ids = [n[:-4] for n in names if n.endswith(".idx") and n[:-4] in names]
        unseen = [i for i in ids if i not in self._members]
        indexes = [pack_path(i) + ".idx" for i in unseen]
        for rel, data in self.backend.read_many(indexes, MANIFEST_MAX).items():
            pid = rel[len("packs/") : -len(".idx")]
            members = parse_index(pid, data)
            if members is not None and self._size_or_none(pack_path(pid)) == sum(
                size for _, size in members
            ):
                self._members[pid] = members  # (not cached when bad: it may be mended)
        for i in ids:
            offset = 0
            wanted = []
            for digest, size in self._members.get(i) or ():
                if sizes.get(digest) == size and digest not in found:
                    wanted.append((digest, {"pack": i, "offset": offset}))
                offset += size
            if wanted and self._intact(i):  # a damaged or planted pack is not reused
                found.update(wanted)
        return found

    def _intact(self, pid: str) -> bool:
        """Whether pack ``pid`` holds the bytes its index names (every member hashed)."""
        members = self._members.get(pid) or []
        try:
            with self.backend.open(pack_path(pid)) as f:
                return members_match(f, [s for _, s in members], [d for d, _ in members])
        except (FileNotFoundError, OSError, IntegrityError):
            return False

    def _size_or_none(self, rel: str) -> int | None:
        try:
            return self.backend.size(rel)
        except (FileNotFoundError, OSError):
            return None

    def loose(self, digests: set[str]) -> set[str]:
        """Which of ``digests`` the store holds as blobs of their own: asked one by one
        where listing is dear (a local disk); else one listing of ``blobs/`` (on object
        stores a request per 1000 blobs, not one per file)."""
        if not self.backend.lists_cheaply:
            fans = set(self.backend.listdir("blobs/sha256"))  # a new store has none
            return {d for d in digests if d[:2] in fans and self.backend.exists(blob_path(d))}
        found = set()
        for rel, _ in self.backend.walk_files("blobs/sha256"):
            d = blob_digest(rel)
            if d in digests:
                found.add(d)
        return found

    def plan(
        self, entries: dict[str, Any], small: dict[str, Any], uploads: dict[str, Any]
    ) -> list[tuple[str, bytes]]:
        """Place the new small files of a commit (digest -> content): the ones the store
        already holds where they are, the rest in new packs (when there are at least
        ``pack_min`` of them) or as blobs.  Sets the entries' locations, adds what to write
        to ``uploads`` and returns the new packs' indexes (written after the packs)."""
        sizes = {e["digest"]: e["size"] for e in entries.values() if e.get("_small")}
        located = self.packed(sizes)
        for pid in {w["pack"] for w in located.values()}:  # young again for gc's grace
            self.backend.touch(pack_path(pid) + ".idx")
            self.backend.touch(pack_path(pid))
        new = [d for d in small if d not in located]
        if self.pack_min is not None and len(new) >= self.pack_min:
            # about to pack: files already kept as blobs stay blobs (stored once).  Without
            # packing this question is not needed: writing a blob again is harmless.
            loose = self.loose(set(new))
            new = [d for d in new if d not in loose]
            for d in loose:
                uploads.setdefault(blob_path(d), small[d])  # kept; its mtime refreshed
        indexes: list[tuple[str, bytes]] = []
        if self.pack_min is None or len(new) < self.pack_min:
            for d in new:
                uploads.setdefault(blob_path(d), small[d])
        else:
            group: list[str] = []
            filled = 0
            for n, d in enumerate(new):
                group.append(d)
                filled += sizes[d]
                if filled >= PACK_TARGET or n == len(new) - 1:
                    members = [(digest, sizes[digest]) for digest in group]
                    pid = pack_id(members)
                    offset = 0
                    for digest, size in members:
                        located[digest] = {"pack": pid, "offset": offset}
                        offset += size
                    # files are read (and checked) while the pack is written
                    uploads[pack_path(pid)] = Pack(
                        [small[d] for d in group], [sizes[d] for d in group], list(group)
                    )
                    index = {"_type": "pack-index", "format": 1, "members": members}
                    indexes.append((pack_path(pid) + ".idx", canonical_json(index)))
                    self._members[pid] = members
                    group, filled = [], 0
        for e in entries.values():
            where = located.get(e.get("digest")) if e.pop("_small", False) else None
            if where:
                e.update(where)
        return indexes
