"""``Artifact``: a draft that collects files and values; ``store.commit(draft)`` makes it
a read-only :class:`artifacts.version.Version`."""

from __future__ import annotations

import abc
import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any, NoReturn

import fsspec

from media import Media, OpaqueValue, Value
from media.files import hash_stream
from media.paths import join_inside, paths_in
from media.value import checked_json

from . import config
from .entryset import parents
from .errors import EntryNotFoundError
from .ingest import add_many
from .manifest import ManifestEntry, canonical_json
from .names import VALUE_JSON_RE, check_entry_name, value_path
from .spool import SpooledBytes
from .staging import DraftState
from .urlcheck import write_risk

__all__ = ["Artifact"]

#: the verbs of a committed version: on a draft they raise ValueError
VERSION_VERBS = (
    "get",
    "read_bytes",
    "read_media_range",
    "read_media",
    "open_entry",
    "open_media",
    "download",
    "verify",
    "new_draft",
)


class Artifact(DraftState, metaclass=abc.ABCMeta):
    """A set of files and values under a name.

    ``Artifact(name, type)`` is a *draft*: ``add``, ``add_file``, ``add_dir``,
    ``add_reference``, ``new_file`` and ``remove`` change it, and ``store.commit(draft)``
    makes it the next version, a read-only :class:`~artifacts.version.Version` (``get``,
    ``download``, ``verify``, ``new_draft``; also an ``Artifact`` for ``isinstance``, and
    the :class:`media.MediaSource` of the values loaded from it).
    """

    is_draft = True  # type: ignore[assignment]

    @property
    def manifest(self) -> NoReturn:
        """A draft has no manifest yet (``ValueError``)."""
        raise self._needs_commit("manifest")

    @property
    def aliases(self) -> NoReturn:
        """A draft has no aliases yet (``ValueError``)."""
        raise self._needs_commit("aliases")

    def _repr_html_(self) -> None:
        """A draft has no notebook display of its own (its repr is shown)."""
        return None

    created_at = None  #: a draft is not committed
    created_by = None
    store = None  #: a draft belongs to no store

    @classmethod
    def from_version(cls, version: Any) -> Artifact:
        """A draft of the next version of ``version`` (a committed
        :class:`~artifacts.version.Version`, which imports this module), with its entries
        and metadata."""
        draft = cls(version.name, version.type, version.description, version.metadata)
        entries = dict(version.manifest.entries)
        draft._entries = entries
        draft._pending = dict.fromkeys(entries)
        draft._dirs = {d for p in entries for d in parents(p)}
        draft._parent = version
        return draft

    def add(self, obj: Value, name: str, overwrite: bool = False) -> ManifestEntry:
        """Add a value as ``<name>.<artifact_type>.json`` plus its media files.

        Returns the JSON's manifest entry.  A value loaded from a committed artifact keeps
        its media as a reference to that artifact's entries: no bytes are copied.
        On any error the draft is left as it was.
        """
        if not isinstance(obj, Value):
            raise TypeError(
                f"Invalid value {obj!r}: add() takes a media value (Audio, Table, a registered "
                "type); use add_file() for files"
            )
        tag = obj.tag if isinstance(obj, OpaqueValue) else obj.artifact_type
        path = value_path(name, tag)
        old_refs = self._value_refs(path) if path in self._entries else None
        if path in self._entries and not overwrite:
            raise ValueError(
                f"an entry named {path!r} is already in {self.qualified_name}; pass "
                "overwrite=True to replace it, or choose another name"
            )
        with self.all_or_nothing():
            # (an OpaqueValue calls keep_files_of; a custom type's JSON is checked)
            data = canonical_json(checked_json(obj, self))
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
        return add_many(self, items, executor, overwrite=overwrite, batch_size=batch_size)

    def keep_files_of(self, obj: OpaqueValue) -> None:
        """Keep the files an opaque value's JSON refers to, under the same paths.

        Called by ``obj.to_json(draft)`` (so also for opaque cells of a table).  Files of a
        committed artifact become references to its entries (no bytes copied); files behind
        another source (a run folder) are copied.  Paths the source does not have are left
        alone; a different file already at one of the paths raises ``ValueError``.
        """
        source = obj.source
        if isinstance(source, Artifact) and source.is_draft:
            return
        for path in obj.paths():
            existing = self._entries.get(path)
            if isinstance(source, Artifact):
                e = source.entry_json(path)
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
        src = media.source_file()
        if src is not None and isinstance(src[0], Artifact) and not src[0].is_draft:
            artifact, path = src
            e = artifact.entry_json(path)
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
        local = os.fspath(local_path)
        if not os.path.isfile(local):
            if os.path.isdir(local):
                raise IsADirectoryError(
                    f"{local!r} is a folder: add_file adds one file; use "
                    "add_dir(folder, name=None) to add every file under it"
                )
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
        with self.all_or_nothing():
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
        of reading it to compute a sha256.  Every reader of the version opens the URI, and
        a read never writes: a chained URL with a caching layer (``simplecache::``,
        ``filecache::``, ``blockcache::``), and options that pick another filesystem or a
        writing mode (``protocol``, ``target_protocol``, ``mode``, ``cache_storage``...), are
        refused with ``ValueError`` (see docs/security.md).
        """
        if not isinstance(uri, str) or not uri:
            raise TypeError(f"Invalid uri {uri!r}: expected an fsspec URL")
        risk = write_risk(uri, storage_options)
        if risk:
            raise ValueError(
                f"Invalid uri {uri!r}: {risk}, and every reader of the version would open "
                "it so; a read never writes. Reference the file by its own URL (without "
                "the caching layer or that option), e.g. 's3://bucket/key'"
            )
        fs, path = fsspec.core.url_to_fs(uri, **storage_options)
        try:
            info = fs.info(path)
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file to reference: {uri!r}") from None
        if info.get("type") == "directory":
            raise IsADirectoryError(f"{uri!r} is a folder; reference its files one by one")
        name = uri.rstrip("/").rsplit("/", 1)[-1] if name is None else name
        entry: dict[str, Any] = {"uri": uri, "size": int(info["size"])}
        shared = config.shareable_options(storage_options)
        if shared:  # every reader needs them (an endpoint); credentials stay with each reader
            entry["options"] = json.loads(canonical_json(shared))
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

        Removing a value also removes the media entries that only it referred to.  A file
        that a value still uses (its media) is not removed: ``ValueError`` names the value,
        to be removed instead.
        """
        path = self._resolve_name(name)
        refs = None
        if path is not None:
            doomed = [path]
            refs = self._value_refs(path) if VALUE_JSON_RE.match(path) else None
        else:
            prefix = check_entry_name(name) + "/"
            doomed = [p for p in self._entries if p.startswith(prefix)]
            if not doomed:
                raise EntryNotFoundError(f"no entry named {name!r} in {self.qualified_name}")
        self._check_unused(name, doomed)
        self._delete_entries(doomed)
        if refs:
            self._drop_unreferenced(refs)

    def _check_unused(self, name: str, doomed: list[str]) -> None:
        """Refuse to remove files that a value staying in the draft refers to (the version
        would hold a value whose media is gone).  Reads every value JSON of the draft, but
        only when a file that is not a value's JSON is removed."""
        gone = set(doomed)
        files = {p for p in gone if not VALUE_JSON_RE.match(p)}
        if not files:
            return
        users: dict[str, list[str]] = {}
        for p in self._entries:
            if p in gone or not VALUE_JSON_RE.match(p):
                continue
            used = files & (self._value_refs(p) or set())
            for f in used:
                users.setdefault(f, []).append(p)
        if users:
            f = min(users)
            values = sorted(users[f])
            shown = ", ".join(repr(v) for v in values[:5]) + (" ..." if len(values) > 5 else "")
            what = "it" if f == name else repr(f)
            if len(users) > 1:
                what += f" (and {len(users) - 1} more files)"
            base = _value_name(values[0])
            self._resolve_name("")  # (builds the index of value names)
            if self._index is None or self._index.get(base) != values[0]:
                base = values[0]  # (a name several values share: the full one)
            raise ValueError(
                f"cannot remove {name!r} from {self.qualified_name}: {what} is the media of "
                f"{shown}; remove the value instead (draft.remove({base!r})), which removes "
                "its media too"
            )

    def _value_refs(self, path: str) -> set[str] | None:
        """Entry paths the value JSON at ``path`` refers to; ``None`` when unreadable."""
        content = self._pending.get(path)
        parent = self._parent
        try:
            if isinstance(content, bytes):
                data = content
            elif isinstance(content, SpooledBytes):
                data = content.read()
            elif isinstance(content, str):
                with open(content, "rb") as f:
                    data = f.read()
            elif content is None and parent is not None and parent.entry_json(path) is not None:
                data = parent.read_bytes(path)
            else:
                return None
            return set(paths_in(json.loads(data)))
        except (OSError, ValueError):
            return None

    def _drop_unreferenced(self, candidates: set[str]) -> None:
        """Remove the non-value entries in ``candidates`` that no value JSON refers to.

        Reads every value JSON of the draft (only on an overwrite or removal of a value);
        when one cannot be read, nothing is removed.
        """
        candidates = {p for p in candidates if p in self._entries and not VALUE_JSON_RE.match(p)}
        for p in list(self._entries):
            if not candidates:
                return
            if VALUE_JSON_RE.match(p):
                refs = self._value_refs(p)
                if refs is None:
                    return
                candidates -= refs
        self._delete_entries(candidates)


def _refuse(verb: str) -> Any:
    def refused(self: Artifact, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._needs_commit(verb)

    refused.__name__ = verb
    refused.__doc__ = f"A draft is not committed yet: ``{verb}`` raises ValueError."
    return refused


for _verb in VERSION_VERBS:
    setattr(Artifact, _verb, _refuse(_verb))


def _value_name(path: str) -> str:
    """The name a value JSON entry was added under (``clip`` for ``clip.audio-file.json``)."""
    m = VALUE_JSON_RE.match(path)
    return m["base"] if m else path


def _ref_entry(artifact: Artifact, path: str, e: dict[str, Any]) -> dict[str, Any]:
    """A draft entry that refers to ``path`` of a committed artifact (no bytes copied)."""
    out = {k: v for k, v in e.items() if k != "ref"}
    if "uri" in e or "inline" in e:  # the bytes travel with the entry
        return out
    ref = dict(e["ref"]) if "ref" in e else {"artifact": artifact.qualified_name, "path": path}
    if "store" not in ref:
        ref["store"] = artifact.store.url  # dropped at commit when it is the same store
    out["ref"] = ref
    return out
