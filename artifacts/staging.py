"""The state of a draft: its entries, the bytes or files waiting for the commit, where
copied entries came from, the folders of entries, the spool its bytes spill to, and the
journal that undoes a failed change (see :meth:`DraftState.all_or_nothing`)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from .entryset import EntrySet, check_metadata, parents
from .manifest import ManifestEntry, may_inline
from .names import check_artifact_name, check_entry_name
from .odb.ahead import Ahead
from .odb.chunks import wants_chunks
from .spool import Spool

__all__ = ["DraftState", "Staged"]

_ABSENT = object()
#: where a store keeps an entry's bytes and the digests it derived from them at commit
#: (BLAKE3, chunk table), not what the bytes are
_DERIVED = ("pack", "offset", "blake3", "chunks")


def _content(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without its location and derived digests: equal for the same file wherever
    and whenever a store keeps it."""
    if not any(k in entry for k in _DERIVED):
        return entry
    return {k: v for k, v in entry.items() if k not in _DERIVED}


class Staged(NamedTuple):
    """What a commit reads of a draft (read-only views; see :meth:`DraftState.staged`)."""

    name: str
    type: str
    description: str | None
    metadata: dict[str, Any]
    #: path -> entry JSON
    entries: Mapping[str, dict[str, Any]]
    #: path -> bytes | local file path | opener | None (no new bytes)
    pending: Mapping[str, Any]
    #: path -> (committed version, its path) the entry was taken from
    sources: Mapping[str, tuple[Any, str]]
    #: the version this draft was made from by ``new_draft()``, if any
    parent: Any
    #: sha256 -> BLAKE3 digest of new files held in memory, computed as they were added
    #: (files not found here are hashed by the commit)
    blake3: Mapping[str, str] = {}


class DraftState(EntrySet):
    """A draft's entries and pending content; ``Artifact`` adds the verbs that fill it."""

    def __init__(
        self,
        name: str,
        type: str,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ):
        self.name = check_artifact_name(name)
        if not isinstance(type, str) or not 1 <= len(type) <= 128:
            raise ValueError(f"Invalid artifact type {type!r}: give a short str like 'dataset'")
        if description is not None and not isinstance(description, str):
            raise TypeError(f"Invalid description {description!r}: expected a str or None")
        self.type = type
        self.description = description
        self.metadata = check_metadata(metadata)
        self._entries: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, Any] = {}  # path -> bytes | local path | opener | None
        self._sources: dict[str, tuple[Any, str]] = {}  # path -> (version, its path)
        self._dirs: set[str] = set()
        self._index: dict[str, str] | None = None
        self._parent: Any = None  # the version new_draft() made this draft from
        self.version: str | None = None
        self._held = 0  # bytes of files held in memory that the spool could take
        self._unspilled: list[str] = []  # their paths, since the last spill
        self._spool: Spool | None = None
        self._ahead = Ahead()  # BLAKE3 of new files in memory, hashed while adds go on

    #: Bytes of file contents a draft holds in memory before it moves them to a spool file
    #: on disk (see :mod:`artifacts.spool`); ``None`` keeps them all in memory.  Set it on
    #: the class or on one draft.  Value JSONs that go inside the manifest stay in memory.
    spill_at: int | None = 256 * 2**20

    _journal: list[tuple[str, Any, Any, Any]] | None = None

    def _put(
        self,
        path: str,
        entry: dict[str, Any],
        content: Any,
        overwrite: bool,
        source: tuple[Any, str] | None = None,
    ) -> ManifestEntry:
        """Place an entry (see :meth:`_place`) and return it."""
        path = self._place(path, entry, content, overwrite, source)
        return ManifestEntry.from_json(path, self._entries[path])

    def _place(
        self,
        path: str,
        entry: dict[str, Any],
        content: Any,
        overwrite: bool,
        source: tuple[Any, str] | None = None,
    ) -> str:
        """Put ``entry`` (with its pending ``content``) at ``path``; return the normal path."""
        path = check_entry_name(path)
        old = self._entries.get(path)
        if old is not None and not overwrite:
            if _content(old) == _content(entry):
                return path
            raise ValueError(
                f"an entry named {path!r} is already in {self.qualified_name}; pass "
                "overwrite=True to replace it, or choose another name"
            )
        new_dirs: set[str] = set()
        parent = path.rpartition("/")[0]
        if old is None and (not parent or parent in self._dirs):
            # at the top, or in a known folder (none of whose ancestors is a file entry)
            if path in self._dirs:
                raise ValueError(f"Invalid entry name {path!r}: it is already a folder of entries")
        elif old is None:
            if path in self._dirs:
                raise ValueError(f"Invalid entry name {path!r}: it is already a folder of entries")
            parents = path.split("/")[:-1]
            for i in range(1, len(parents) + 1):
                if "/".join(parents[:i]) in self._entries:
                    raise ValueError(
                        f"Invalid entry name {path!r}: {'/'.join(parents[:i])!r} is a file entry"
                    )
            new_dirs = {"/".join(parents[:i]) for i in range(1, len(parents) + 1)} - self._dirs
        limit = self.spill_at
        in_memory = isinstance(content, (bytes, bytearray)) and not may_inline(path, content)
        spillable = limit is not None and in_memory
        if spillable and self._held + len(content) > _spill_limit(limit):
            self._spill()  # before any change: when it fails, the draft is as it was
        self._record(path)
        if new_dirs:
            self._dirs |= new_dirs
        self._entries[path] = entry
        self._pending[path] = content
        if spillable:
            self._held += len(content)
            self._unspilled.append(path)
        if in_memory and not wants_chunks(len(content)):  # (a large file: hashed at commit)
            self._ahead.add(entry["digest"], content)
        if source is not None:
            self._sources[path] = source
        else:
            self._sources.pop(path, None)
        self._index = None
        return path

    def _spill(self) -> None:
        """Move the file bytes this draft holds in memory to its spool."""
        if self._spool is None:
            self._spool = Spool()
        self._ahead.settle()  # its tasks hold the bytes until hashed
        for path in self._unspilled:
            content = self._pending.get(path)
            if isinstance(content, (bytes, bytearray)) and not may_inline(path, content):
                self._pending[path] = self._spool.put(content)
        self._unspilled = []
        self._held = 0

    def _hold(self, path: str, content: bytes | bytearray) -> None:
        """Count bytes put back in memory (undone, unpickled) so that they spill later."""
        if self.spill_at is not None and not may_inline(path, content):
            self._unspilled.append(path)
            self._held += len(content)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_ahead", None)  # (tasks of this process; hashed again where needed)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a pickled draft carries its spooled bytes as bytes: they may spill again
        self.__dict__.update(state)
        self._held, self._unspilled, self._spool = 0, [], None
        self._ahead = Ahead()
        for path, content in self._pending.items():
            if isinstance(content, (bytes, bytearray)):
                self._hold(path, content)

    def _record(self, path: str) -> None:
        """Remember the state of ``path`` before a change, for :meth:`_all_or_nothing`."""
        if self._journal is not None:
            self._journal.append(
                (
                    path,
                    self._entries.get(path, _ABSENT),
                    self._pending.get(path, _ABSENT),
                    self._sources.get(path, _ABSENT),
                )
            )

    def all_or_nothing(self) -> _AllOrNothing:
        """A block (``with``) whose changes to the draft are undone when it raises.

        Changes are journaled per path (a copy of the draft per ``add`` would make n adds
        cost n**2); a block inside another one leaves the undoing to the outer block.
        """
        return _AllOrNothing(self)

    def begin_changes(self) -> bool:
        """Start journaling changes (for :meth:`all_or_nothing`); ``False`` when an outer
        block already does."""
        if self._journal is not None:
            return False
        self._journal = []
        return True

    def end_changes(self, undo: bool) -> None:
        """Stop journaling; with ``undo``, put back what the journal saw."""
        journal, self._journal = self._journal, None
        if undo and journal is not None:
            self._undo(journal)

    def _undo(self, journal: list[tuple[str, Any, Any, Any]]) -> None:
        """Put back what :meth:`_record` saw, newest first."""
        if journal:
            for path, entry, pending, source in reversed(journal):
                for d, value in (
                    (self._entries, entry),
                    (self._pending, pending),
                    (self._sources, source),
                ):
                    if value is _ABSENT:
                        d.pop(path, None)
                    else:
                        d[path] = value
                if isinstance(pending, (bytes, bytearray)):
                    self._hold(path, pending)  # held in memory again: spilled later
            self._dirs = {d for p in self._entries for d in parents(p)}
            self._index = None

    def staged(self) -> Staged:
        """What a commit reads: the entries, their pending content and sources (views
        that the commit must not change)."""
        return Staged(
            self.name,
            self.type,
            self.description,
            self.metadata,
            self._entries,
            self._pending,
            self._sources,
            self._parent,
            self._ahead.settle(),
        )

    def _delete_entries(self, paths: Iterable[str]) -> None:
        for p in paths:
            self._record(p)
            del self._entries[p]
            self._pending.pop(p, None)
            self._sources.pop(p, None)
        self._dirs = {d for p in self._entries for d in parents(p)}
        self._index = None


class _AllOrNothing:
    """See :meth:`DraftState.all_or_nothing` (a class: cheaper than a generator per add)."""

    __slots__ = ("draft", "outer")

    def __init__(self, draft: DraftState):
        self.draft = draft
        self.outer = False

    def __enter__(self) -> None:
        self.outer = self.draft.begin_changes()

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if self.outer:
            self.draft.end_changes(undo=kind is not None)


def _spill_limit(limit: Any) -> int:
    """``Artifact.spill_at`` as an int (any integer type), or ``ValueError``."""
    try:
        n = operator.index(limit)
    except TypeError:
        n = -1
    if n < 0 or isinstance(limit, bool):
        raise ValueError(
            f"Invalid spill_at {limit!r}: give a number of bytes (an int >= 0), or None to "
            "keep every file of the draft in memory"
        )
    return n
