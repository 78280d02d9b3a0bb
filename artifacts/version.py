"""``Version``: a committed, read-only version of an artifact, and the
:class:`media.MediaSource` of the values loaded from it."""

from __future__ import annotations

import hashlib
import io
import json
import json.scanner
import os
from collections.abc import Iterable
from typing import IO, Any, NoReturn

from media import ArtifactSource, OpaqueValue, Value
from media.buffers import stream_of
from media.errors import IntegrityError, UnknownTypeError
from media.files import check_range_args

from . import bulk
from .bulk import DOWNLOADS
from .draft import Artifact
from .entryset import EntrySet
from .errors import EntryNotFoundError
from .manifest import Manifest
from .names import VALUE_JSON_RE
from .odb.batch import ReadAhead, checked, member_of, read_members

__all__ = ["Version", "BIG", "DOWNLOADS"]

BIG = 64 << 20  # blobs above this are verified by streaming, not read into memory

#: the verbs of a draft: on a version they raise ReadOnlyError
DRAFT_VERBS = (
    "add",
    "add_many",
    "add_file",
    "add_dir",
    "add_reference",
    "new_file",
    "remove",
    "keep_files_of",
    "store_media",
    "all_or_nothing",
)


_scan = json.scanner.make_scanner(json.JSONDecoder())  # (what json.loads parses with)


def _loads(text: str | bytes) -> Any:
    """``json.loads(text)``, a little quicker for the usual value JSON: one object and
    nothing after it (anything else, and every error, goes through json.loads itself)."""
    if type(text) is str and text[:1] == "{":
        try:
            obj, end = _scan(text, 0)
        except (ValueError, StopIteration):  # (json.loads says what is wrong)
            pass
        else:
            if end == len(text):
                return obj
    return json.loads(text)


class Version(EntrySet):
    """A committed version: ``get``, ``read_bytes``, ``open_media``, ``download``,
    ``verify``, ``new_draft``.  Get one from ``store.artifact(ref)`` or
    ``store.commit(draft)``; ``isinstance(version, Artifact)`` holds."""

    # (the store is the facade of artifacts.store, which imports this module: ``Any`` here)
    def __init__(self, store: Any, manifest: Manifest):
        obj = manifest.obj
        self.name = obj["name"]
        self.type = obj["type"]
        self.description = obj.get("description")
        self.metadata = obj.get("metadata", {})
        self.version = obj["version"]
        self._entries = obj["entries"]
        self._index = None
        self._store = store
        self._manifest = manifest
        self._ahead: ReadAhead | None = None

    is_draft = False  # type: ignore[assignment]

    def __getstate__(self) -> dict[str, Any]:
        # (the read-ahead holds this process's threads and mappings; the store pickles as
        # its URL and is opened again, see Store.__reduce__)
        return {**self.__dict__, "_ahead": None}

    @property
    def manifest(self) -> Manifest:
        """The committed version's manifest."""
        return self._manifest

    @property
    def aliases(self) -> list[str]:
        """Aliases (``latest`` included) that point at this version now."""
        return self._store.aliases_of(self.name, self.version)  # type: ignore[arg-type]

    @property
    def created_at(self) -> str | None:
        """UTC time of the commit."""
        return self._manifest["created_at"]

    @property
    def created_by(self) -> str | None:
        """Id of the run that logged this version, if any."""
        return self._manifest.obj.get("created_by")

    @property
    def store(self) -> Any:
        """The store that holds this version."""
        return self._store

    def _repr_html_(self) -> str | None:
        """The notebook display of a committed version: its summary and values."""
        from .preview import version_html

        return version_html(self)

    # -- reading ----------------------------------------------------------------------------
    def get(self, name: str) -> Value:
        """The value stored under ``name`` (with or without its ``.<tag>.json`` suffix).

        Media are lazy: their files are read, and checked, when first needed.  The value's
        ``artifact_source`` names this artifact and ``name``.  JSON of a type no installed
        plugin knows loads as a :class:`media.OpaqueValue`.
        """
        path = self._resolve_name(name)
        if path is None or not path.endswith(".json"):
            raise EntryNotFoundError(
                f"no value named {name!r} in {self.qualified_name}; values: "
                f"{', '.join(sorted(self.value_names())[:20]) or '(none)'}"
            )
        raw = self._value_text(path)
        try:
            obj = _loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ValueError(f"{self.qualified_name}/{path} is not JSON: {exc}") from None
        if path is not name:  # found by its value name: that is the base
            base = name
        else:
            m = VALUE_JSON_RE.match(path)
            base = m["base"] if m else path
        try:
            value = Value.init_from_json(obj, self, name=base)
        except UnknownTypeError:
            value = OpaqueValue(obj, self)
            value.artifact_source = ArtifactSource(self, base)
        except (ValueError, TypeError) as exc:
            # same type and attributes (SchemaError's tag, field...), message names the entry
            exc.args = (f"{self.qualified_name}/{path}: {exc}",)
            raise exc.with_traceback(None) from None
        return value

    def _value_text(self, path: str) -> str | bytes:
        """The checked text of value JSON ``path``: an inline entry's text straight from the
        manifest, once its UTF-8 bytes match the entry's size and sha256 (anything else, or
        a mismatch, goes through :meth:`read_bytes`, which says what is wrong)."""
        e = self._entries[path]
        text = e.get("inline")
        # (json.loads takes bytes that start otherwise for UTF-16 or -32: those go the slow way)
        if type(text) is str and text[:1] == "{" and text[1:2] != "\x00":
            data = text.encode("utf-8")
            if len(data) == e["size"] and hashlib.sha256(data).hexdigest() == e["digest"]:
                return text
        return self.read_bytes(path)

    def _entry_json(self, path: str) -> dict[str, Any]:
        e = self._entries.get(path)
        if e is None:
            raise FileNotFoundError(f"{path!r} is not an entry of {self.qualified_name}")
        return e

    def read_bytes(self, path: str) -> bytes:
        """The bytes of entry ``path``, checked against its digest and size."""
        e = self._entry_json(path)
        return bytes(self._read(e, f"{self.qualified_name}/{path}"))

    def _read(self, e: dict[str, Any], name: str) -> bytes | bytearray:
        """An entry's checked bytes; pack members through the version's read-ahead (a loop
        over the version's values reads their packs in a few large requests)."""
        kind = self._store.objects.kind(e)
        cache = getattr(self._store, "cache", None)
        if kind == "blob" and cache is not None:
            hit = cache.get(e["digest"], e["size"])
            if hit is not None:
                return hit
            data = self._store.objects.read(e, name)
            cache.put(e["digest"], data)
            return data
        if kind != "packed":
            return self._store.objects.read(e, name)
        if self._ahead is None:
            self._ahead = ReadAhead(self._store.backend, self._entries, cache)
        return self._ahead.read(member_of(e, name))

    def open_entry(self, path: str) -> IO[bytes]:
        """Entry ``path`` as a stream that raises IntegrityError at its end when the bytes
        do not match the manifest."""
        e = self._entry_json(path)
        name = f"{self.qualified_name}/{path}"
        if self._store.objects.kind(e) == "packed":
            return io.BytesIO(self._read(e, name))
        return self._store.objects.open(e, name)

    def open_media(
        self, path: str, sha256: str | None = None, size: int | None = None
    ) -> IO[bytes]:
        """Source protocol: open entry ``path``, checked against the manifest (and the JSON)."""
        e = self._said(path, sha256, size)
        name = f"{self.qualified_name}/{path}"
        if e["size"] > BIG:
            return self._store.objects.open_verified(e, name)
        data = self._read(e, name)
        # a pack member's buffer is this stream's alone: samples are built on it
        return stream_of(data)

    def read_media(
        self, path: str, sha256: str | None = None, size: int | None = None
    ) -> bytes | bytearray | memoryview:
        """Source protocol (optional method): the bytes of entry ``path``, checked as
        :meth:`open_media` checks them, as one buffer that is the caller's own."""
        e = self._said(path, sha256, size)
        if e["size"] > BIG:
            with self.open_media(path, sha256, size) as f:
                return f.read()
        return self._read(e, f"{self.qualified_name}/{path}")

    def _said(self, path: str, sha256: str | None, size: int | None) -> dict[str, Any]:
        """Entry ``path``, after checking it against what a value's JSON says of it."""
        e = self._entry_json(path)
        self._check_expected(path, e, sha256, size)
        return e

    def _check_expected(
        self, path: str, e: dict[str, Any], sha256: str | None, size: int | None
    ) -> None:
        """Refuse a value JSON whose sha256 or size disagrees with the manifest entry."""
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

    def read_many(
        self, files: Iterable[tuple[str, str | None, int | None]]
    ) -> dict[tuple[str, str | None, int | None], bytes]:
        """The checked bytes of many media files at once: ``files`` are
        ``(path, sha256, size)`` as :meth:`open_media` takes them (``None``: not said).

        Members of the same pack are read together (neighbours in one ranged read) and, on
        an object store, several reads run at a time; every file is checked against its
        digest; the first bad one raises :class:`IntegrityError`.
        """
        wanted = list(dict.fromkeys(files))
        out: dict[tuple[str, str | None, int | None], bytes] = {}
        members = []
        objects = self._store.objects
        for key in wanted:
            e = self._said(*key)
            if objects.kind(e) == "packed":
                members.append((key, member_of(e, f"{self.qualified_name}/{key[0]}")))
            else:
                with self.open_media(*key) as f:
                    out[key] = f.read()
        members.sort(key=lambda km: (km[1].pack, km[1].offset))
        got = read_members(
            objects.backend, [m for _, m in members], cache=getattr(self._store, "cache", None)
        )
        for (key, m), (_, data) in zip(members, got):
            out[key] = checked(m, data)
        return out

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

        An entry with a chunk table (a file over 1 MiB committed in store format 2) is read
        only at the chunks the range covers, in one ranged read, each chunk checked against
        the digest recorded at commit (the table is read once per file and
        :class:`Store` object); a damaged chunk raises :class:`IntegrityError` naming the
        entry and the chunk.  Other entries (format 1, small files, references) are checked
        whole: up to 64 MiB read whole on each call, larger ones checked by streaming
        (again only when the file's state changed, see docs/security.md).
        """
        check_range_args(offset, length)
        e = self._entry_json(path)
        if self._store.objects.ranged(e):
            self._check_expected(path, e, sha256, size)
            name = f"{self.qualified_name}/{path}"
            return self._store.objects.read_range(e, name, offset, length)
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
        return bulk.download(self, root, paths)

    def verify(self, raise_on_error: bool = True) -> list[str]:
        """Re-hash every entry (following references); return the problems found.

        The thorough check: each file against its sha256 (its content address) and its
        BLAKE3 digest when recorded (reads check only that), and each chunk table against
        its own sha256 and its file's size (windows read through it).  With
        ``raise_on_error`` (the default) any problem raises :class:`IntegrityError` naming
        every bad entry.
        """
        return bulk.verify(self, raise_on_error)

    def new_draft(self) -> Artifact:
        """A draft of the next version, with this version's entries and metadata."""
        return Artifact.from_version(self)


def _refuse(verb: str) -> Any:
    def refused(self: Version, *args: Any, **kwargs: Any) -> NoReturn:
        raise self._read_only()

    refused.__name__ = verb
    refused.__doc__ = f"A version is read-only: ``{verb}`` raises ReadOnlyError."
    return refused


for _verb in DRAFT_VERBS:
    setattr(Version, _verb, _refuse(_verb))
# a version is an artifact too (``isinstance(v, Artifact)``), though not a draft
Artifact.register(Version)
