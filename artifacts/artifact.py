"""``Artifact``: a draft that collects files and values, and, once committed, a read-only
version that loads them back."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import operator
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any

import fsspec

from media import Media, OpaqueValue, Value
from media.errors import IntegrityError, UnknownTypeError
from media.paths import join_inside
from media.value import CHUNK, check_range_args, hash_stream

from .errors import EntryNotFoundError, ReadOnlyError
from .manifest import (
    Manifest,
    ManifestEntry,
    canonical_json,
    check_artifact_name,
    check_entry_name,
    may_inline,
)
from .spool import Spool, SpooledBytes

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Artifact"]

_VALUE_JSON = re.compile(r"^(?P<base>.+)\.(?P<tag>[a-z0-9][a-z0-9_-]{0,63})\.json$")
_ABSENT = object()
_LOCATION = ("pack", "offset")  # where a store keeps an entry's bytes, not what they are


def _content(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry without its location: equal for the same file wherever a store keeps it."""
    if "pack" not in entry:
        return entry
    return {k: v for k, v in entry.items() if k not in _LOCATION}


BIG = 64 << 20  # blobs above this are verified by streaming, not read into memory
#: where ``download()`` writes by default, under the current directory
DOWNLOADS = "artifact-downloads"


class Artifact:
    """A set of files and values under a name.

    ``Artifact(name, type)`` is a *draft*: ``add``, ``add_file``, ``add_dir``,
    ``add_reference``, ``new_file`` and ``remove`` change it, and ``store.commit(draft)``
    makes it the next version.  The committed artifact is read-only: ``get``, ``download``,
    ``verify``, ``new_draft``.  A committed artifact is also the :class:`media.MediaSource`
    of the values loaded from it.
    """

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
        self.metadata = _check_metadata(metadata)
        self._entries: dict[str, dict[str, Any]] = {}
        self._pending: dict[str, Any] = {}  # path -> bytes | local path | opener | None
        self._sources: dict[str, tuple[Artifact, str]] = {}  # path -> (artifact, its path)
        self._dirs: set[str] = set()
        self._store: Store | None = None
        self._manifest: Manifest | None = None
        self._index: dict[str, str] | None = None
        self.version: str | None = None
        self._held = 0  # bytes of files held in memory that the spool could take
        self._unspilled: list[str] = []  # their paths, since the last spill
        self._spool: Spool | None = None

    #: Bytes of file contents a draft holds in memory before it moves them to a spool file
    #: on disk (see :mod:`artifacts.spool`); ``None`` keeps them all in memory.  Set it on
    #: the class or on one draft.  Value JSONs that go inside the manifest stay in memory.
    spill_at: int | None = 256 * 2**20

    # -- state ----------------------------------------------------------------------------
    @property
    def is_draft(self) -> bool:
        """``True`` until committed."""
        return self._manifest is None

    def _draft_only(self) -> None:
        if self._manifest is not None:
            raise ReadOnlyError(
                f"{self.qualified_name} is committed and read-only; call new_draft() to make "
                "a draft of the next version"
            )

    def _committed_only(self, what: str) -> Manifest:
        if self._manifest is None:
            raise ValueError(f"{what} needs a committed artifact; commit the draft first")
        return self._manifest

    @property
    def qualified_name(self) -> str:
        """``"name:vN"`` (``"name:draft"`` before commit)."""
        return f"{self.name}:{self.version or 'draft'}"

    @property
    def digest(self) -> str:
        """sha256 over the entries (equal content, equal digest)."""
        from .manifest import entries_digest

        return entries_digest(self._entries)

    @property
    def manifest(self) -> Manifest:
        """The committed version's manifest."""
        return self._committed_only("manifest")

    @property
    def entries(self) -> dict[str, ManifestEntry]:
        """Entry path -> :class:`ManifestEntry`, sorted by path."""
        return {p: ManifestEntry.from_json(p, self._entries[p]) for p in sorted(self._entries)}

    @property
    def aliases(self) -> list[str]:
        """Aliases (``latest`` included) that point at this version now."""
        self._committed_only("aliases")
        assert self._store is not None and self.version is not None
        return self._store.aliases_of(self.name, self.version)

    @property
    def created_at(self) -> str | None:
        """UTC time of the commit."""
        return None if self._manifest is None else self._manifest["created_at"]

    @property
    def created_by(self) -> str | None:
        """Id of the run that logged this version, if any."""
        return None if self._manifest is None else self._manifest.obj.get("created_by")

    @property
    def store(self) -> Store | None:
        """The store of a committed artifact."""
        return self._store

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} type={self.type!r} entries={len(self._entries)}>"

    def _repr_html_(self) -> str | None:
        """The notebook display of a committed version: its summary and values."""
        from .preview import version_html

        return version_html(self)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    # -- drafting -------------------------------------------------------------------------
    def _put(
        self,
        path: str,
        entry: dict[str, Any],
        content: Any,
        overwrite: bool,
        source: tuple[Artifact, str] | None = None,
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
        source: tuple[Artifact, str] | None = None,
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
        spillable = (
            limit is not None
            and isinstance(content, (bytes, bytearray))
            and not may_inline(path, content)
        )
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

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a pickled draft carries its spooled bytes as bytes: they may spill again
        self.__dict__.update(state)
        if self._manifest is None:
            self._held, self._unspilled, self._spool = 0, [], None
            for path, content in self._pending.items():
                if isinstance(content, (bytes, bytearray)):
                    self._hold(path, content)

    def add(self, obj: Value, name: str, overwrite: bool = False) -> ManifestEntry:
        """Add a value as ``<name>.<artifact_type>.json`` plus its media files.

        Returns the JSON's manifest entry.  A value loaded from a committed artifact keeps
        its media as a reference to that artifact's entries: no bytes are copied.
        On any error the draft is left as it was.
        """
        self._draft_only()
        if not isinstance(obj, Value):
            raise TypeError(
                f"Invalid value {obj!r}: add() takes a media value (Audio, Table, a registered "
                "type); use add_file() for files"
            )
        tag = obj.tag if isinstance(obj, OpaqueValue) else obj.artifact_type
        check_entry_name(name)
        suffix = f".{tag}.json"
        path = name if name.endswith(suffix) else name + suffix
        path = check_entry_name(path)
        old_refs = self._value_refs(path) if path in self._entries else None
        if path in self._entries and not overwrite:
            raise ValueError(
                f"an entry named {path!r} is already in {self.qualified_name}; pass "
                "overwrite=True to replace it, or choose another name"
            )
        with self._all_or_nothing():
            data = canonical_json(obj.to_json(self))  # an OpaqueValue calls keep_files_of
            digest = hashlib.sha256(data).hexdigest()
            path = self._place(path, {"digest": digest, "size": len(data)}, data, True)
            if old_refs:  # the replaced value's media files go unless still referred to
                self._drop_unreferenced(old_refs)
            return ManifestEntry(path, digest, len(data))

    def add_many(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]],
        executor: Any = None,
        *,
        overwrite: bool = False,
        batch_size: int | None = None,
    ) -> list[ManifestEntry]:
        """Add many values at once, encoding and hashing them in any ``concurrent.futures``
        Executor (a process pool, a Dask client's ``get_executor()``); see
        :mod:`artifacts.ingest`.  On any error nothing is added."""
        from .ingest import add_many

        return add_many(self, items, executor, overwrite=overwrite, batch_size=batch_size)

    _journal: list[tuple[str, Any, Any, Any]] | None = None

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

    def _all_or_nothing(self) -> _AllOrNothing:
        """A block (``with``) whose changes to the draft are undone when it raises.

        Changes are journaled per path (a copy of the draft per ``add`` would make n adds
        cost n**2); a block inside another one leaves the undoing to the outer block.
        """
        return _AllOrNothing(self)

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
            self._dirs = {d for p in self._entries for d in _parents(p)}
            self._index = None

    def keep_files_of(self, obj: OpaqueValue) -> None:
        """Keep the files an opaque value's JSON refers to, under the same paths.

        Called by ``obj.to_json(draft)`` (so also for opaque cells of a table).  Files of a
        committed artifact become references to its entries (no bytes copied); files behind
        another source (a run folder) are copied.  Paths the source does not have are left
        alone; a different file already at one of the paths raises ``ValueError``.
        """
        self._draft_only()
        source = obj.source
        if isinstance(source, Artifact) and source.is_draft:
            return
        for path in obj.paths():
            existing = self._entries.get(path)
            if isinstance(source, Artifact):
                e = source._entries.get(path)
                if e is None or existing is not None and existing.get("digest") == e.get("digest"):
                    continue
                self._put(
                    path, _ref_entry(source, path, e), None, overwrite=False, source=(source, path)
                )
            elif hasattr(source, "open_media"):
                try:
                    with source.open_media(path) as f:
                        data = f.read()
                except (FileNotFoundError, IsADirectoryError, ValueError):
                    continue
                digest = hashlib.sha256(data).hexdigest()
                if existing is None or existing.get("digest") != digest:
                    self._put(path, {"digest": digest, "size": len(data)}, data, overwrite=False)

    def store_media(self, media: Media) -> str:
        """Target protocol: store ``media``'s file in the draft and return its entry path.

        A file loaded from a committed artifact becomes a reference to that artifact's entry;
        identical files share one entry.
        """
        self._draft_only()
        src = media.source_file()
        if src is not None and isinstance(src[0], Artifact) and not src[0].is_draft:
            artifact, path = src
            e = artifact._entries.get(path)
            if e is not None:
                if path in self._entries and self._entries[path].get("digest") == e.get("digest"):
                    return path
                if path not in self._entries:
                    self._put(
                        path,
                        _ref_entry(artifact, path, e),
                        None,
                        overwrite=False,
                        source=(artifact, path),
                    )
                    return path
        digest = media.sha256
        path = f"{media.get_media_subdir()}/{digest[:20]}.{media.extension}"
        existing = self._entries.get(path)
        if existing is not None and existing.get("digest") == digest:
            return path
        data = media.in_memory_bytes()
        local = media.local_path() if data is None else None
        content: Any = data if data is not None else (local or media.open)
        self._place(path, {"digest": digest, "size": media.size}, content, overwrite=True)
        return path

    def add_file(
        self, local_path: str | os.PathLike[str], name: str | None = None, overwrite: bool = False
    ) -> ManifestEntry:
        """Add a local file (hashed by streaming) as entry ``name`` (default: its basename)."""
        self._draft_only()
        local = os.fspath(local_path)
        if not os.path.isfile(local):
            raise FileNotFoundError(f"no such file to add: {local!r}")
        name = os.path.basename(local) if name is None else name
        with open(local, "rb") as f:
            digest, size = hash_stream(f)
        return self._put(name, {"digest": digest, "size": size}, os.path.abspath(local), overwrite)

    def add_dir(
        self, local_dir: str | os.PathLike[str], name: str | None = None, overwrite: bool = False
    ) -> list[ManifestEntry]:
        """Add every file under a local folder, as ``<name>/<relative path>``.

        Symbolic links that lead outside the folder are refused (``ValueError``) before
        anything is added.
        """
        self._draft_only()
        root = os.fspath(local_dir)
        if not os.path.isdir(root):
            raise NotADirectoryError(f"no such folder to add: {root!r}")
        prefix = "" if not name else check_entry_name(name) + "/"
        files: list[tuple[str, str]] = []
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            for d in list(dirnames):
                full = os.path.join(dirpath, d)
                if os.path.islink(full):
                    dirnames.remove(d)
                    join_inside(root, os.path.relpath(full, root).replace(os.sep, "/"), "link")
                    raise ValueError(
                        f"Invalid folder {full!r}: add_dir does not follow links to folders"
                    )
            for fname in filenames:
                full = os.path.join(dirpath, fname)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                real = join_inside(root, rel, "file in the folder")  # links must stay inside
                if not os.path.isfile(real):
                    raise ValueError(f"Invalid file {full!r}: not a regular file")
                files.append((prefix + rel, real))
        with self._all_or_nothing():
            return [self.add_file(real, rel, overwrite) for rel, real in sorted(files)]

    def add_reference(
        self,
        uri: str,
        name: str | None = None,
        checksum: bool = True,
        overwrite: bool = False,
        **storage_options: Any,
    ) -> ManifestEntry:
        """Record an external file by URI (any fsspec URL) and its digest; copies no bytes.

        With ``checksum=False`` the file's ETag (or modification time) is recorded instead
        of reading it to compute a sha256.
        """
        self._draft_only()
        if not isinstance(uri, str) or not uri:
            raise TypeError(f"Invalid uri {uri!r}: expected an fsspec URL")
        fs, path = fsspec.core.url_to_fs(uri, **storage_options)
        try:
            info = fs.info(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file to reference: {uri!r}") from None
        if info.get("type") == "directory":
            raise IsADirectoryError(f"{uri!r} is a folder; reference its files one by one")
        name = uri.rstrip("/").rsplit("/", 1)[-1] if name is None else name
        entry: dict[str, Any] = {"uri": uri, "size": int(info["size"])}
        if checksum:
            with fs.open(path, "rb") as f:
                entry["digest"], entry["size"] = hash_stream(f)
        else:
            tag = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("created")
            entry["etag"] = str(tag).strip('"')
        return self._put(name, entry, None, overwrite)

    @contextlib.contextmanager
    def new_file(
        self, name: str, mode: str = "w", encoding: str | None = "utf-8", overwrite: bool = False
    ) -> Iterator[IO[Any]]:
        """Write a new entry: ``with draft.new_file("notes.txt") as f: f.write(...)``.

        The entry is added when the block ends without an error; nothing is added otherwise.
        """
        self._draft_only()
        if mode not in ("w", "wb"):
            raise ValueError(f"Unknown mode {mode!r}: new_file opens files with 'w' or 'wb'")
        name = check_entry_name(name)
        if name in self._entries and not overwrite:
            raise ValueError(
                f"an entry named {name!r} is already in {self.qualified_name}; "
                "pass overwrite=True to replace it"
            )
        buf = io.BytesIO()
        f: IO[Any] = io.TextIOWrapper(buf, encoding=encoding, newline="") if mode == "w" else buf
        yield f
        f.flush()
        data = buf.getvalue()
        self._put(
            name, {"digest": hashlib.sha256(data).hexdigest(), "size": len(data)}, data, overwrite
        )

    def remove(self, name: str) -> None:
        """Remove an entry, a value (given without its suffix), or a folder of entries.

        Removing a value also removes the media entries that only it referred to.
        """
        self._draft_only()
        path = self._resolve_name(name)
        refs = None
        if path is not None:
            doomed = [path]
            refs = self._value_refs(path) if _VALUE_JSON.match(path) else None
        else:
            prefix = check_entry_name(name) + "/"
            doomed = [p for p in self._entries if p.startswith(prefix)]
            if not doomed:
                raise EntryNotFoundError(f"no entry named {name!r} in {self.qualified_name}")
        self._delete_entries(doomed)
        if refs:
            self._drop_unreferenced(refs)

    def _value_refs(self, path: str) -> set[str] | None:
        """Entry paths the value JSON at ``path`` refers to; ``None`` when unreadable."""
        content = self._pending.get(path)
        parent = getattr(self, "_parent", None)
        try:
            if isinstance(content, bytes):
                data = content
            elif isinstance(content, SpooledBytes):
                data = content.read()
            elif isinstance(content, str):
                with open(content, "rb") as f:
                    data = f.read()
            elif content is None and parent is not None and path in parent._entries:
                data = parent.read_bytes(path)
            else:
                return None
            return set(_paths_in(json.loads(data)))
        except (OSError, ValueError):
            return None

    def _drop_unreferenced(self, candidates: set[str]) -> None:
        """Remove the non-value entries in ``candidates`` that no value JSON refers to.

        Reads every value JSON of the draft (only on an overwrite or removal of a value);
        when one cannot be read, nothing is removed.
        """
        candidates = {p for p in candidates if p in self._entries and not _VALUE_JSON.match(p)}
        for p in list(self._entries):
            if not candidates:
                return
            if _VALUE_JSON.match(p):
                refs = self._value_refs(p)
                if refs is None:
                    return
                candidates -= refs
        self._delete_entries(candidates)

    def _delete_entries(self, paths: Iterable[str]) -> None:
        for p in paths:
            self._record(p)
            del self._entries[p]
            self._pending.pop(p, None)
            self._sources.pop(p, None)
        self._dirs = {d for p in self._entries for d in _parents(p)}
        self._index = None

    # -- reading --------------------------------------------------------------------------
    def _resolve_name(self, name: str) -> str | None:
        if name in self._entries:
            return name
        if self._index is None:
            index: dict[str, str] = {}
            for p in self._entries:
                m = _VALUE_JSON.match(p)
                if m:
                    index.setdefault(m["base"], p)
            self._index = index
        return self._index.get(name)

    def get_entry(self, name: str) -> ManifestEntry:
        """The manifest entry of ``name`` (a path, or a value name without suffix)."""
        path = self._resolve_name(name)
        if path is None:
            raise EntryNotFoundError(f"no entry named {name!r} in {self.qualified_name}")
        return ManifestEntry.from_json(path, self._entries[path])

    def get(self, name: str) -> Value:
        """The value stored under ``name`` (with or without its ``.<tag>.json`` suffix).

        Media are lazy: their files are read, and checked, when first needed.  The value's
        ``artifact_source`` names this artifact and ``name``.  JSON of a type no installed
        plugin knows loads as a :class:`media.OpaqueValue`.
        """
        self._committed_only("get")
        path = self._resolve_name(name)
        if path is None or not path.endswith(".json"):
            raise EntryNotFoundError(
                f"no value named {name!r} in {self.qualified_name}; values: "
                f"{', '.join(sorted(self.value_names())[:20]) or '(none)'}"
            )
        raw = self.read_bytes(path)
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"{self.qualified_name}/{path} is not JSON: {exc}") from None
        m = _VALUE_JSON.match(path)
        base = m["base"] if m else path
        try:
            value = Value.init_from_json(obj, self, name=base)
        except UnknownTypeError:
            value = OpaqueValue(obj, self)
            value.artifact_source = _source(self, base)
        except (ValueError, TypeError) as exc:
            # same type and attributes (SchemaError's tag, field...), message names the entry
            exc.args = (f"{self.qualified_name}/{path}: {exc}",)
            raise exc.with_traceback(None) from None
        return value

    def dataset(self, name: str) -> Any:
        """The ``Table`` value ``name`` as a :class:`artifacts.dataset.Dataset` for training."""
        from .dataset import Dataset

        return Dataset(self, name)

    def value_names(self) -> list[str]:
        """Names of the values (entries ``<name>.<tag>.json``)."""
        self._resolve_name("")
        assert self._index is not None
        return sorted(self._index)

    def read_bytes(self, path: str) -> bytes:
        """The bytes of entry ``path``, checked against its digest and size."""
        self._committed_only("read_bytes")
        e = self._entry_json(path)
        assert self._store is not None
        return self._store._read_entry(self, path, e)

    def _entry_json(self, path: str) -> dict[str, Any]:
        e = self._entries.get(path)
        if e is None:
            raise FileNotFoundError(f"{path!r} is not an entry of {self.qualified_name}")
        return e

    def open_media(
        self, path: str, sha256: str | None = None, size: int | None = None
    ) -> IO[bytes]:
        """Source protocol: open entry ``path``, checked against the manifest (and the JSON)."""
        self._committed_only("open_media")
        e = self._entry_json(path)
        if sha256 is not None and e.get("digest") not in (None, sha256):
            raise IntegrityError(
                f"{self.qualified_name}/{path}: the value's JSON says sha256 {sha256}, the "
                f"manifest says {e.get('digest')}"
            )
        if size is not None and e["size"] != size:
            raise IntegrityError(
                f"{self.qualified_name}/{path}: the value's JSON says {size} bytes, the "
                f"manifest says {e['size']}"
            )
        assert self._store is not None
        if e["size"] > BIG:
            return self._store._open_verified(self, path, e)
        return io.BytesIO(self._store._read_entry(self, path, e))

    def read_media_range(
        self,
        path: str,
        offset: int,
        length: int,
        sha256: str | None = None,
        size: int | None = None,
    ) -> bytes:
        """Source protocol (optional method): bytes ``offset`` to ``offset + length`` of
        entry ``path`` (fewer where it ends first), checked like :meth:`open_media`.

        The store records one digest per file, so the range is checked by checking the
        whole entry: an entry of up to 64 MiB is read whole and checked on each call, a
        larger one is checked once per :class:`Store` object by streaming and then read at
        the range.  Digests of fixed-size chunks recorded at commit will let this read and
        check only the chunks the range covers, with the same signature.
        """
        check_range_args(offset, length)
        with self.open_media(path, sha256, size) as f:
            f.seek(offset)
            return f.read(length)

    def download(
        self, root: str | os.PathLike[str] | None = None, paths: Iterable[str] | None = None
    ) -> str:
        """Write every entry (or only ``paths``) under ``root`` (default
        ``./artifact-downloads/<name>-<version>``) and return the folder.

        (The default is not ``./artifacts/``: a folder of that name in the current directory
        would shadow the ``artifacts`` package for scripts run there.)

        Each file is checked against its digest before any file appears; on any error
        nothing of this download is left behind (not even ``root``, when it was made here).
        """
        self._committed_only("download")
        assert self._store is not None
        if paths is None:
            chosen = sorted(self._entries)
        else:
            chosen = sorted(set(paths))
            for path in chosen:
                if path not in self._entries:
                    raise EntryNotFoundError(f"no entry named {path!r} in {self.qualified_name}")
        root = os.path.abspath(
            os.fspath(root)
            if root is not None
            else os.path.join(DOWNLOADS, f"{self.name}-{self.version}")
        )
        made_root = not os.path.exists(root)
        os.makedirs(root, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".download-", dir=root)
        moved: list[tuple[str, str | None]] = []  # (destination, the user's file it replaced)
        try:
            for path in self._store._progress(chosen, "download", unit="file"):
                dest = join_inside(staging, path, "entry name")
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                e = self._entries[path]
                with (
                    self._store._open_entry_streaming(self, path, e) as src,
                    open(dest, "wb") as out,
                ):
                    shutil.copyfileobj(src, out, CHUNK)
            dests = [join_inside(root, path, "entry name") for path in chosen]
            for dest in dests:  # before any file moves: a folder where a file would go
                if os.path.isdir(dest):
                    raise IsADirectoryError(
                        f"cannot download into {root}: {dest} is a folder, where "
                        f"{self.qualified_name} has a file; download into another folder"
                    )
            for i, (path, dest) in enumerate(zip(chosen, dests)):
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                backup = None
                if os.path.lexists(dest):  # the user's file is kept until the end
                    backup = os.path.join(staging, ".replaced", str(i))
                    os.makedirs(os.path.dirname(backup), exist_ok=True)
                    os.replace(dest, backup)
                moved.append((dest, backup))
                os.replace(join_inside(staging, path, "entry name"), dest)
        except BaseException:
            for dest, backup in reversed(moved):  # put the user's files back as they were
                try:
                    if backup is None:
                        os.unlink(dest)
                    else:
                        os.replace(backup, dest)
                except OSError:
                    pass
            shutil.rmtree(root if made_root else staging, ignore_errors=True)
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return root

    def verify(self, raise_on_error: bool = True) -> list[str]:
        """Re-hash every entry (following references); return the problems found.

        With ``raise_on_error`` (the default) any problem raises :class:`IntegrityError`
        naming every bad entry.
        """
        self._committed_only("verify")
        assert self._store is not None
        problems = []
        for path in self._store._progress(sorted(self._entries), "verify", unit="file"):
            e = self._entries[path]
            try:
                with self._store._open_entry_streaming(self, path, e) as f:
                    while f.read(CHUNK):
                        pass
            except (IntegrityError, OSError, LookupError, ValueError) as exc:
                # (a reference to a missing store or version, a forged entry: a problem to
                # report like a bad byte, not a reason to stop the check)
                problems.append(f"{path}: {exc}")
        if problems and raise_on_error:
            raise IntegrityError(
                f"{self.qualified_name}: {len(problems)} bad entr"
                f"{'y' if len(problems) == 1 else 'ies'}:\n  " + "\n  ".join(problems)
            )
        return problems

    def new_draft(self) -> Artifact:
        """A draft of the next version, with this version's entries and metadata."""
        self._committed_only("new_draft")
        draft = Artifact(self.name, self.type, self.description, self.metadata)
        draft._entries = dict(self._entries)
        draft._pending = dict.fromkeys(self._entries)
        draft._dirs = {d for p in self._entries for d in _parents(p)}
        draft._parent = self  # type: ignore[attr-defined]
        return draft

    # -- internals for the store ----------------------------------------------------------
    @classmethod
    def _committed(cls, store: Store, manifest: Manifest) -> Artifact:
        obj = manifest.obj
        art = cls.__new__(cls)
        art.name = obj["name"]
        art.type = obj["type"]
        art.description = obj.get("description")
        art.metadata = obj.get("metadata", {})
        art._entries = obj["entries"]
        art._pending = {}
        art._sources = {}
        art._dirs = set()
        art._store = store
        art._manifest = manifest
        art._index = None
        art.version = obj["version"]
        return art


class _AllOrNothing:
    """See :meth:`Artifact._all_or_nothing` (a class: cheaper than a generator per add)."""

    __slots__ = ("draft", "journal")

    def __init__(self, draft: Artifact):
        self.draft = draft
        self.journal: list[tuple[str, Any, Any, Any]] | None = None

    def __enter__(self) -> None:
        if self.draft._journal is None:  # the outermost block keeps the journal
            self.journal = self.draft._journal = []

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        if self.journal is not None:
            self.draft._journal = None
            if kind is not None:
                self.draft._undo(self.journal)


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


def _source(artifact: Artifact, name: str) -> Any:
    from media import ArtifactSource

    return ArtifactSource(artifact, name)


def _ref_entry(artifact: Artifact, path: str, e: dict[str, Any]) -> dict[str, Any]:
    """A draft entry that refers to ``path`` of a committed artifact (no bytes copied)."""
    out = {k: v for k, v in e.items() if k != "ref"}
    if "uri" in e or "inline" in e:  # the bytes travel with the entry
        return out
    ref = dict(e["ref"]) if "ref" in e else {"artifact": artifact.qualified_name, "path": path}
    if "store" not in ref:
        assert artifact._store is not None
        ref["store"] = artifact._store.url  # dropped at commit when it is the same store
    out["ref"] = ref
    return out


def _paths_in(obj: Any) -> Iterator[str]:
    """Every string under a ``"path"`` key, anywhere in a JSON object."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "path" and isinstance(v, str):
                yield v
            else:
                yield from _paths_in(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _paths_in(v)


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise TypeError(f"Invalid metadata {metadata!r}: expected a dict")
    try:
        return json.loads(json.dumps(dict(metadata), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"Invalid metadata: it must be JSON-serializable ({exc})") from None
    except RecursionError:
        raise ValueError(
            "Invalid metadata: it is nested too deeply to be stored as JSON; flatten it"
        ) from None
