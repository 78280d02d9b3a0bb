"""The store: versioned, content-addressed artifacts on the local disk or any fsspec URL.

Layout (see docs/store-format.md)::

    store.json                                   marker: {"_type": "store", "format": 1}
    blobs/sha256/<2 hex>/<62 hex>                one copy of every distinct file...
    packs/<64 hex>, packs/<64 hex>.idx           ...or of many small ones, end to end in a pack
    artifacts/<name>/versions/v<N>.json          immutable manifests, created if absent
    artifacts/<name>/aliases/<alias>.json        movable pointers (latest is derived)
    lineage/<name>/<version>/<run>.<action>.json which run logged or used a version
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import json
import os
import re
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from typing import IO, Any

import fsspec

import schemas
from media.errors import IntegrityError
from media.value import CHUNK, check_bytes

from .artifact import Artifact
from .backend import LocalBackend, Pack, _members_match, open_backend
from .errors import ArtifactNotFoundError, ReadOnlyError, StoreNotFoundError, UnsafeBackendError
from .manifest import (
    HEX64,
    VERSION_RE,
    Manifest,
    blob_path,
    canonical_json,
    check_alias,
    check_artifact_name,
    entries_digest,
    inline_text,
    pack_id,
    pack_path,
    parse_ref,
)

__all__ = ["Store", "open_store", "default_store_path", "GcReport", "STORE_ENV"]

STORE_ENV = "MEDIA_ARTIFACTS_STORE"
_VERSION_FILE = re.compile(r"^v(0|[1-9][0-9]{0,8})\.json$")
DEFAULT_GRACE = 3600.0
#: a gc marker not refreshed for this long is a crashed gc's: commits stop waiting for it
GC_MARKER_STALE = 300.0
#: a commit that writes at least this many new small files packs them (``open_store(pack_min=)``)
PACK_MIN = 16
#: files up to this size go into packs ...
PACK_MEMBER_MAX = 4 << 20
#: ... and a pack is closed once it holds this many bytes
PACK_TARGET = 32 << 20
#: the largest alias, lineage record or store marker read (they are a few hundred bytes)
RECORD_MAX = 1 << 20
#: the largest manifest or pack index written or read (a read never takes more memory)
MANIFEST_MAX = 256 << 20


def default_store_path() -> str:
    """The embedded default store's folder.

    ``$MEDIA_ARTIFACTS_STORE`` when set; else ``$XDG_DATA_HOME/media-artifacts/store``
    (``~/.local/share/media-artifacts/store``) on Linux and other POSIX systems,
    ``~/Library/Application Support/media-artifacts/store`` on macOS and
    ``%LOCALAPPDATA%\\media-artifacts\\store`` on Windows.
    """
    env = os.environ.get(STORE_ENV)
    if env:
        return env
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Application Support")
    else:
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(base, "media-artifacts", "store")


def open_store(
    url: str | os.PathLike[str] | None = None,
    *,
    single_writer: bool = False,
    progress: bool | None = None,
    pack_min: int | None = PACK_MIN,
    **storage_options: Any,
) -> Store:
    """Open the store at an fsspec URL or local path.

    Opening creates nothing: where there is no store yet, reads find no artifacts
    (``artifact()`` raises :class:`StoreNotFoundError`) and the first commit creates it.
    ``None`` opens the embedded default store (:func:`default_store_path`).
    ``single_writer=True`` promises that one process at a time commits, which is required
    on backends that do not honour create-if-absent.  ``progress`` shows progress bars
    (default: when stderr is a terminal).  A commit that writes at least ``pack_min`` new
    files of up to 4 MiB packs them end to end into objects of about 32 MiB (one file or
    request instead of one per file); ``None`` writes every file as a blob of its own.
    Other keyword arguments go to fsspec.
    """
    if url is None:
        url = default_store_path()
    url = os.fspath(url)
    backend, canonical = open_backend(url, **storage_options)
    if isinstance(backend, LocalBackend) and os.path.isfile(canonical):
        raise NotADirectoryError(f"{canonical!r} is a file; a store is a folder: give its path")
    return Store(
        backend, canonical, single_writer=single_writer, progress=progress, pack_min=pack_min
    )


@dataclasses.dataclass
class GcReport:
    """What ``gc`` found: blobs and temporary files deleted (or to delete, in a dry run)."""

    deleted: list[str]
    freed_bytes: int
    live_blobs: int
    kept_young: int
    dry_run: bool
    live_packs: int = 0


class Store:
    """Versioned artifacts on one backend.  Get one with :func:`open_store`."""

    def __init__(
        self,
        backend: Any,
        url: str,
        *,
        single_writer: bool = False,
        progress: bool | None = None,
        pack_min: int | None = PACK_MIN,
        _existing: bool = False,
    ):
        if pack_min is not None and (type(pack_min) is not int or pack_min < 1):
            raise ValueError(
                f"Invalid pack_min {pack_min!r}: give a number of files >= 1, or None to "
                "store every file as a blob of its own"
            )
        self.backend = backend
        self.url = url
        self.single_writer = single_writer
        self.progress = progress
        self.pack_min = pack_min
        self._pack_members: dict[str, list[tuple[str, int]] | None] = {}
        self._manifests: dict[tuple[str, str], Manifest] = {}
        self._honours_create: bool | None = None
        self._others: dict[str, Store] = {}
        self._verified: set[str] = set()
        self._lock = threading.Lock()
        self._init_marker(_existing)

    def __repr__(self) -> str:
        return f"<Store {self.url}>"

    def _init_marker(self, existing: bool = False) -> None:
        # reading never writes: the marker is made by the first commit (_create_marker)
        try:
            data = self.backend.read("store.json", RECORD_MAX)
        except FileNotFoundError:
            if existing:
                raise ArtifactNotFoundError(
                    f"no store at {self.url} (a reference names it); nothing was created there"
                ) from None
            self._exists = False
            return
        self._exists = True
        try:
            marker = json.loads(data)
            schemas.validate(marker, "store")
        except (ValueError, schemas.SchemaError) as exc:
            raise ValueError(
                f"{self.url} has a store.json that is not a media-artifacts store marker ({exc})"
            ) from None

    def exists(self) -> bool:
        """Whether there is a store at this location (its first commit made one)."""
        if not self._exists:
            self._exists = self.backend.exists("store.json")
        return self._exists

    def _no_store(self) -> StoreNotFoundError:
        return StoreNotFoundError(
            f"no store at {self.url}: there is no store.json there, and reading creates "
            "none; check the location, or commit to create a store there"
        )

    def _create_marker(self) -> None:
        if not self._exists:
            try:
                self.backend.create("store.json", canonical_json({"_type": "store", "format": 1}))
            except FileExistsError:
                pass
            self._exists = True

    # -- progress -------------------------------------------------------------------------
    def _show_progress(self) -> bool:
        wanted = self.progress
        if wanted is None:
            wanted = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if wanted and importlib.util.find_spec("tqdm") is None:
            if self.progress:
                raise ImportError(
                    "progress bars need tqdm: pip install 'media-artifacts[progress]'"
                )
            return False  # on a terminal without tqdm: no bars, no error
        return wanted

    def _progress(self, items: Sequence[Any], desc: str, unit: str = "it") -> Iterable[Any]:
        if not self._show_progress() or len(items) < 2:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def _progress_counter(self, total: int, desc: str) -> Any:
        if not self._show_progress() or total < 2:
            return None
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="file", leave=False, file=sys.stderr)

    # -- create-if-absent probe -----------------------------------------------------------
    def honours_create_if_absent(self) -> bool:
        """Whether the backend refuses a second create of the same file (probed once).

        Commits rely on it to number versions without a lock.  Some S3-compatible servers
        ignore the condition; on those, commits need ``single_writer=True``.
        """
        if self._honours_create is None:
            probe = f"probe/{uuid.uuid4().hex}"
            self.backend.create(probe, b"1")
            try:
                self.backend.create(probe, b"2")
                honoured = False
            except FileExistsError:
                honoured = True
            finally:
                self.backend.delete(probe)
            self._honours_create = honoured
        return self._honours_create

    def _check_writable(self) -> None:
        if not self.single_writer and not self.honours_create_if_absent():
            raise UnsafeBackendError(
                f"{self.url} does not honour create-if-absent (a second conditional create "
                "of the same file succeeded), so concurrent commits could overwrite each "
                "other's versions; if only one process commits to this store at a time, open "
                "it with open_store(url, single_writer=True)"
            )

    # -- reading --------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Names of the artifacts in the store, sorted."""
        out = []
        for n in self.backend.listdir("artifacts"):
            try:
                check_artifact_name(n)
            except ValueError:
                continue
            if self.versions(n):
                out.append(n)
        return out

    def versions(self, name: str) -> list[str]:
        """Versions of artifact ``name``, oldest first (``[]`` when there are none)."""
        check_artifact_name(name)
        nums = [
            int(m.group(1))
            for f in self.backend.listdir(f"artifacts/{name}/versions")
            if (m := _VERSION_FILE.match(f))
        ]
        return [f"v{n}" for n in sorted(nums)]

    def _latest(self, name: str) -> str | None:
        versions = self.versions(name)
        return versions[-1] if versions else None

    def aliases(self, name: str) -> dict[str, str]:
        """Alias -> version for artifact ``name``, ``latest`` included."""
        latest = self._latest(name)
        if latest is None:
            if not self.exists():
                raise self._no_store()
            raise ArtifactNotFoundError(f"no artifact named {name!r} in {self.url}")
        out = {"latest": latest}
        for f in self.backend.listdir(f"artifacts/{name}/aliases"):
            if not f.endswith(".json") or f == "latest.json":  # latest is derived, never stored
                continue
            try:
                out[f[:-5]] = self._read_alias(name, check_alias(f[:-5]))
            except (ValueError, FileNotFoundError):
                continue
        return dict(sorted(out.items()))

    def aliases_of(self, name: str, version: str) -> list[str]:
        """The aliases that point at ``name:version`` now."""
        return sorted(a for a, v in self.aliases(name).items() if v == version)

    def _read_alias(self, name: str, alias: str) -> str:
        data = self.backend.read(f"artifacts/{name}/aliases/{alias}.json", RECORD_MAX)
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise schemas.SchemaError("alias", "$", f"not JSON ({exc})") from None
        schemas.validate(obj, "alias")
        return obj["version"]

    def resolve(self, ref: str) -> tuple[str, str]:
        """``"clips:best"`` -> ``("clips", "v3")``; unknown: :class:`ArtifactNotFoundError`."""
        name, label = parse_ref(ref)
        if VERSION_RE.match(label):
            if not self.backend.exists(f"artifacts/{name}/versions/{label}.json"):
                raise ArtifactNotFoundError(self._not_found(name, ref))
            return name, label
        if label == "latest":
            latest = self._latest(name)
            if latest is None:
                raise ArtifactNotFoundError(self._not_found(name, ref))
            return name, latest
        try:
            return name, self._read_alias(name, label)
        except FileNotFoundError:
            raise ArtifactNotFoundError(self._not_found(name, ref)) from None

    def _not_found(self, name: str, ref: str) -> str:
        if not self.exists():
            raise self._no_store()
        versions = self.versions(name)
        if not versions:
            names = self.names()
            return (
                f"no artifact named {name!r} in {self.url}; artifacts: "
                f"{', '.join(names[:20]) or '(none)'}"
            )
        labels = list(self.aliases(name))
        return (
            f"no version or alias {ref!r} in {self.url}; {name} has versions "
            f"{versions[0]}..{versions[-1]} and aliases {', '.join(labels)}"
        )

    def artifact(self, ref: str) -> Artifact:
        """The committed artifact ``"name:vN"``, ``"name:latest"``, ``"name:<alias>"``."""
        name, version = self.resolve(ref)
        return Artifact._committed(self, self._manifest(name, version))

    def _manifest(self, name: str, version: str) -> Manifest:
        key = (name, version)
        m = self._manifests.get(key)
        if m is None:
            where = f"artifacts/{name}/versions/{version}.json"
            try:
                data = self.backend.read(where, MANIFEST_MAX)
            except FileNotFoundError:
                raise ArtifactNotFoundError(f"no version {name}:{version} in {self.url}") from None
            m = Manifest.parse(data, f"{self.url}/{where}")
            if (m["name"], m["version"]) != key:
                raise IntegrityError(
                    f"{where} names itself {m['name']}:{m['version']}; the store was altered"
                )
            self._manifests[key] = m
        return m

    # -- entries --------------------------------------------------------------------------
    def _other(self, url: str) -> Store:
        if url == self.url:
            return self
        s = self._others.get(url)
        if s is None:
            # only an existing store: following a reference must create nothing there
            backend, canonical = open_backend(url)
            s = self._others[url] = Store(backend, canonical, _existing=True)
        return s

    def _read_entry(self, art: Artifact, path: str, e: dict[str, Any]) -> bytes:
        name = f"{art.qualified_name}/{path}"
        if "inline" in e:
            data = e["inline"].encode("utf-8")
            check_bytes(data, e["digest"], e["size"], name)
            return data
        ref = e.get("ref")
        if "uri" in e or (ref and ref.get("store", self.url) != self.url):
            with self._open_entry_streaming(art, path, e) as f:
                return f.read()
        if "pack" in e:
            data = self._read_member(e, name)
            check_bytes(data, e["digest"], e["size"], name)
            return data
        try:
            with self.backend.open(blob_path(e["digest"])) as f:
                data = f.read(e["size"] + 1)  # bounded: one byte more tells a longer blob
        except FileNotFoundError:
            raise IntegrityError(f"{name}: its blob {e['digest'][:16]}... is missing") from None
        check_bytes(data, e["digest"], e["size"], name)
        return data

    def _open_entry_streaming(self, art: Artifact, path: str, e: dict[str, Any]) -> IO[bytes]:
        """Open an entry for streaming; the stream raises IntegrityError at EOF on a mismatch."""
        name = f"{art.qualified_name}/{path}"
        ref = e.get("ref")
        if "inline" in e:
            raw: IO[bytes] = io.BytesIO(e["inline"].encode("utf-8"))
        elif "uri" in e:
            fs, p = fsspec.core.url_to_fs(e["uri"])
            if "digest" not in e:
                info = fs.info(p)
                tag = (
                    info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("created")
                )
                if str(tag).strip('"') != e["etag"]:
                    raise IntegrityError(f"{name}: {e['uri']} changed since it was referenced")
            raw = fs.open(p, "rb")
        elif ref and ref.get("store", self.url) != self.url:
            other = self._other(ref["store"])
            src = other.artifact(ref["artifact"])
            raw = src._store._open_entry_streaming(src, ref["path"], src._entry_json(ref["path"]))
        elif "pack" in e:
            raw = io.BytesIO(self._read_member(e, name))
        else:
            try:
                raw = self.backend.open(blob_path(e["digest"]))
            except FileNotFoundError:
                raise IntegrityError(f"{name}: its blob {e['digest'][:16]}... is missing") from None
        return _CheckedReader(raw, e.get("digest"), e["size"], name)

    def _open_verified(self, art: Artifact, path: str, e: dict[str, Any]) -> IO[bytes]:
        """Open a (large) entry for random access after checking its bytes once by streaming."""
        key = f"{e.get('digest')}:{e['size']}:{e.get('uri')}"
        if key not in self._verified:
            with self._open_entry_streaming(art, path, e) as f:
                while f.read(CHUNK):
                    pass
            self._verified.add(key)
        ref = e.get("ref")
        if "inline" in e or ("pack" in e and not (ref and "store" in ref)):
            return io.BytesIO(self._read_entry(art, path, e))
        if "uri" in e:
            fs, p = fsspec.core.url_to_fs(e["uri"])
            return fs.open(p, "rb")
        if ref and ref.get("store", self.url) != self.url:
            src = self._other(ref["store"]).artifact(ref["artifact"])
            return src.open_media(ref["path"])
        return self.backend.open(blob_path(e["digest"]))

    def _read_member(self, e: dict[str, Any], name: str) -> bytes:
        """The bytes of a pack member (checked by the caller)."""
        try:
            return self.backend.read_range(pack_path(e["pack"]), e["offset"], e["size"])
        except FileNotFoundError:
            raise IntegrityError(f"{name}: its pack {e['pack'][:16]}... is missing") from None
        except OSError as exc:  # e.g. S3's 416: the range is past the pack's end
            raise IntegrityError(
                f"{name}: bytes {e['offset']}..{e['offset'] + e['size']} of its pack "
                f"{e['pack'][:16]}... cannot be read ({exc}); the pack is shorter or damaged"
            ) from None

    # -- packs ----------------------------------------------------------------------------
    def _packed(self, sizes: dict[str, int]) -> dict[str, dict[str, Any]]:
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
        unseen = [i for i in ids if i not in self._pack_members]
        for rel, data in self.backend.read_many(
            [pack_path(i) + ".idx" for i in unseen], MANIFEST_MAX
        ).items():
            pid = rel[len("packs/") : -len(".idx")]
            members = _parse_pack_index(pid, data)
            if members is not None and self._size_or_none(pack_path(pid)) == sum(
                size for _, size in members
            ):
                self._pack_members[pid] = members  # (not cached when bad: it may be mended)
        for i in ids:
            offset = 0
            wanted = []
            for digest, size in self._pack_members.get(i) or ():
                if sizes.get(digest) == size and digest not in found:
                    wanted.append((digest, {"pack": i, "offset": offset}))
                offset += size
            if wanted and self._pack_intact(i):  # a damaged or planted pack is not reused
                found.update(wanted)
        return found

    def _pack_intact(self, pid: str) -> bool:
        """Whether pack ``pid`` holds the bytes its index names (every member hashed)."""
        members = self._pack_members.get(pid) or []
        try:
            with self.backend.open(pack_path(pid)) as f:
                return _members_match(f, [s for _, s in members], [d for d, _ in members])
        except (FileNotFoundError, OSError, IntegrityError):
            return False

    def _size_or_none(self, rel: str) -> int | None:
        try:
            return self.backend.size(rel)
        except (FileNotFoundError, OSError):
            return None

    def _loose(self, digests: set[str]) -> set[str]:
        """Which of ``digests`` the store holds as blobs of their own: asked one by one on
        a local disk; on object stores one listing of ``blobs/`` (a request per 1000 blobs,
        not one per file)."""
        if self.backend.is_local:
            fans = set(self.backend.listdir("blobs/sha256"))  # a new store has none
            return {d for d in digests if d[:2] in fans and self.backend.exists(blob_path(d))}
        found = set()
        for rel, _ in self.backend.walk_files("blobs/sha256"):
            parts = rel.split("/")
            d = "".join(parts[2:4]) if len(parts) == 4 else ""
            if d in digests:
                found.add(d)
        return found

    def _pack(
        self, entries: dict[str, Any], small: dict[str, Any], uploads: dict[str, Any]
    ) -> list[tuple[str, bytes]]:
        """Place the new small files of a commit (digest -> content): the ones the store
        already holds where they are, the rest in new packs (when there are at least
        ``pack_min`` of them) or as blobs.  Sets the entries' locations, adds what to write
        to ``uploads`` and returns the new packs' indexes (written after the packs)."""
        sizes = {e["digest"]: e["size"] for e in entries.values() if e.get("_small")}
        located = self._packed(sizes)
        for pid in {w["pack"] for w in located.values()}:  # young again for gc's grace
            self.backend.touch(pack_path(pid) + ".idx")
            self.backend.touch(pack_path(pid))
        new = [d for d in small if d not in located]
        if self.pack_min is not None and len(new) >= self.pack_min:
            # about to pack: files already kept as blobs stay blobs (stored once).  Without
            # packing this question is not needed: writing a blob again is harmless.
            loose = self._loose(set(new))
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
                    self._pack_members[pid] = members
                    group, filled = [], 0
        for e in entries.values():
            where = located.get(e.get("digest")) if e.pop("_small", False) else None
            if where:
                e.update(where)
        return indexes

    # -- committing -----------------------------------------------------------------------
    def commit(
        self, draft: Artifact, aliases: Iterable[str] = (), *, run_id: str | None = None
    ) -> Artifact:
        """Commit a draft as the next version ``vN`` and return the committed artifact.

        The commit holds a lease (``leases/commit-<id>``) from before it decides which
        files the store already holds until its manifest is created: ``gc`` deletes
        nothing while a lease younger than its grace exists, and a commit waits while a
        ``gc`` is deleting (see :meth:`_commit` and docs/security.md).
        """
        if not isinstance(draft, Artifact) or not draft.is_draft:
            return self._commit(draft, aliases, run_id=run_id)  # (raises the usual error)
        aliases = [aliases] if isinstance(aliases, str) else list(aliases)
        for a in aliases:  # refusals before the lease: a refused commit writes nothing
            if a != "latest":
                check_alias(a)
        self._check_writable()
        lease = self._take_lease()
        try:
            return self._commit(draft, aliases, run_id=run_id)
        finally:
            self.backend.delete(lease)

    def _take_lease(self) -> str:
        """Write this commit's lease, then wait while another process's gc is deleting."""
        lease = f"leases/commit-{uuid.uuid4().hex}"
        self.backend.write(lease, b"commit")
        delay = 0.01
        while self._leases("gc-", GC_MARKER_STALE):
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        return lease

    def _leases(self, kind: str, max_age: float, but: str | None = None) -> int:
        """How many ``leases/<kind>*`` files younger than ``max_age`` seconds exist."""
        now = time.time()
        return sum(
            1
            for rel, mtime in self.backend.walk_files("leases")
            if rel.rsplit("/", 1)[-1].startswith(kind) and rel != but and now - mtime < max_age
        )

    def _commit(
        self, draft: Artifact, aliases: Iterable[str] = (), *, run_id: str | None = None
    ) -> Artifact:
        """Commit a draft as the next version ``vN`` and return the committed artifact.

        Blobs go first (existing ones are skipped), then the manifest is created if absent
        as ``vN`` (retrying ``vN+1`` on a conflict), then aliases move.  A draft whose
        content and metadata equal ``latest`` makes no new version: ``latest`` is returned
        (and the aliases move to it).
        """
        if not isinstance(draft, Artifact):
            raise TypeError(f"Invalid draft {draft!r}: commit() takes an Artifact draft")
        if not draft.is_draft:
            raise ReadOnlyError(f"{draft.qualified_name} is already committed")
        if isinstance(aliases, str):
            aliases = [aliases]
        alias_list = [check_alias(a) for a in aliases if a != "latest"]
        self._check_writable()
        entries, uploads, indexes = self._resolve_entries(draft)
        digest = entries_digest(entries)
        latest = self._latest(draft.name)
        if latest is not None:
            m = self._manifest(draft.name, latest)
            if (m["digest"], m["type"], m.obj.get("description"), m["metadata"]) == (
                digest,
                draft.type,
                draft.description,
                draft.metadata,
            ):
                self._move_aliases(draft.name, latest, alias_list)
                return Artifact._committed(self, m)
        obj = {
            "_type": "manifest",
            "format": 1,
            "name": draft.name,
            "version": "",
            "type": draft.type,
            "description": draft.description,
            "metadata": json.loads(canonical_json(draft.metadata)),  # a copy, as stored
            "digest": digest,
            "created_at": _now(),
            "created_by": run_id,
            "entries": entries,
        }
        n = int(latest[1:]) + 1 if latest else 0
        obj["version"] = _version_or_refuse(draft.name, n)
        checked = _check_readable(obj, draft.name)  # before anything is written
        # the bar counts files: write_many reports a pack as one, its other files tick as read
        files = sum(len(c.parts) if isinstance(c, Pack) else 1 for _, c in uploads)
        counter = self._progress_counter(files, f"commit {draft.name}")
        if counter is not None:
            uploads = [(p, _counted(c, counter.update)) for p, c in uploads]
        try:
            self.backend.write_many(uploads, counter.update if counter else None)
        finally:
            if counter is not None:
                counter.close()
        for rel, data in indexes:  # after their packs: an index means a whole pack
            self.backend.write(rel, data)
        self._create_marker()  # the first commit creates the store, with its first version
        while True:
            version = _version_or_refuse(draft.name, n)
            data = checked if version == obj["version"] else None
            obj["version"] = version
            data = data or canonical_json(obj)
            try:
                self.backend.create(f"artifacts/{draft.name}/versions/v{n}.json", data)
                break
            except FileExistsError:
                newest = self._latest(draft.name)
                n = max(n + 1, int(newest[1:]) + 1 if newest else 0)
        manifest = Manifest(obj)  # what was written: every part of obj is its own
        self._manifests[(draft.name, obj["version"])] = manifest
        self._move_aliases(draft.name, obj["version"], alias_list)
        return Artifact._committed(self, manifest)

    def _resolve_entries(
        self, draft: Artifact
    ) -> tuple[dict[str, Any], list[tuple[str, Any]], list[tuple[str, bytes]]]:
        entries: dict[str, Any] = {}
        uploads: dict[str, Any] = {}
        small: dict[str, Any] = {}  # digest -> content of the new files that may be packed
        # a draft made by new_draft() carries its parent's entries: committed to another
        # store, they become references to the parent (its bytes are not in this store)
        parent = getattr(draft, "_parent", None)
        if parent is not None and (parent._store is None or parent._store.url == self.url):
            parent = None
        for path, e in draft._entries.items():
            content = draft._pending.get(path)
            source = draft._sources.get(path)
            if source is None and content is None and parent is not None:
                source = (parent, path)
            e = dict(e)
            ref = e.get("ref")
            text = inline_text(path, content) if isinstance(content, (bytes, bytearray)) else None
            if text is not None:
                e["inline"] = text
                e.pop("ref", None)
            elif content is not None:
                e.pop("pack", None)
                e.pop("offset", None)
                if not isinstance(content, (bytes, bytearray)):
                    content = _CheckedOpener(
                        content, e["digest"], e["size"], f"{draft.name}/{path}"
                    )
                if e["size"] <= PACK_MEMBER_MAX:
                    small.setdefault(e["digest"], content)
                    e["_small"] = True
                else:
                    uploads.setdefault(blob_path(e["digest"]), content)
            elif source is not None and "uri" not in e and "inline" not in e:
                src_art, src_path = source
                src_store = src_art._store
                assert src_store is not None
                if ref is None or "store" not in ref or ref["store"] == src_store.url:
                    ref = dict(ref or {"artifact": src_art.qualified_name, "path": src_path})
                    ref["store"] = src_store.url
                if ref["store"] == self.url:
                    ref.pop("store")
                e["ref"] = ref
            if ref is not None and "store" in ref and ref["store"] == self.url:
                e["ref"] = {k: v for k, v in ref.items() if k != "store"}
            elif "ref" in e:
                e["ref"] = dict(e["ref"])  # the new manifest shares nothing with the draft
            entries[path] = e
        indexes = self._pack(entries, small, uploads) if small else []
        return entries, list(uploads.items()), indexes

    def _move_aliases(self, name: str, version: str, aliases: Sequence[str]) -> None:
        for alias in aliases:
            self.set_alias(name, alias, version)

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``name:alias`` at ``version`` (a ``vN`` or another alias)."""
        check_artifact_name(name)
        check_alias(alias)
        if alias == "latest":  # derived from the versions: a stored one would shadow it
            raise ValueError(
                "Invalid alias 'latest': it always names the newest version and cannot be set"
            )
        _, version = self.resolve(f"{name}:{version}")
        obj = {
            "_type": "alias",
            "artifact": name,
            "alias": alias,
            "version": version,
            "updated_at": _now(),
        }
        schemas.validate(obj, "alias")
        self.backend.write(f"artifacts/{name}/aliases/{alias}.json", canonical_json(obj))

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove alias ``name:alias`` (``latest`` cannot be removed: it is derived)."""
        check_alias(alias)
        if alias == "latest":
            raise ValueError("'latest' always names the newest version and cannot be removed")
        path = f"artifacts/{name}/aliases/{alias}.json"
        if not self.backend.exists(path):
            raise ArtifactNotFoundError(f"no alias {name}:{alias} in {self.url}")
        self.backend.delete(path)

    # -- lineage --------------------------------------------------------------------------
    def record_lineage(self, run_id: str, action: str, artifact: Artifact) -> dict[str, Any]:
        """Record that run ``run_id`` ``"logged"`` or ``"used"`` a committed artifact."""
        check_artifact_name(run_id)
        obj = {
            "_type": "lineage",
            "run": run_id,
            "action": action,
            "artifact": artifact.qualified_name,
            "digest": artifact.manifest["digest"],
            "at": _now(),
        }
        schemas.validate(obj, "lineage")
        self.backend.write(
            f"lineage/{artifact.name}/{artifact.version}/{run_id}.{action}.json",
            canonical_json(obj),
        )
        return obj

    def lineage(self, ref: str) -> dict[str, Any]:
        """``{"artifact", "created_by", "logged_by", "used_by"}`` for a version."""
        name, version = self.resolve(ref)
        m = self._manifest(name, version)
        out: dict[str, Any] = {
            "artifact": f"{name}:{version}",
            "created_by": m.obj.get("created_by"),
            "logged_by": [],
            "used_by": [],
        }
        for f in self.backend.listdir(f"lineage/{name}/{version}"):
            run, _, action = f[: -len(".json")].rpartition(".")
            if action in ("logged", "used"):
                out[f"{action}_by"].append(run)
        return out

    # -- garbage collection ---------------------------------------------------------------
    def live_blobs(self) -> set[str]:
        """Digests of every blob some manifest of the store refers to."""
        return self._live()[0]

    def live_packs(self) -> set[str]:
        """Ids of every pack some manifest of the store refers to."""
        return self._live()[1]

    def _live(self) -> tuple[set[str], set[str]]:
        """``(blob digests, pack ids)`` that some manifest refers to, in one walk."""
        blobs: set[str] = set()
        packs: set[str] = set()
        for name in self.names():
            for version in self.versions(name):
                for e in self._manifest(name, version).entries.values():
                    ref = e.get("ref")
                    if "uri" in e or "inline" in e or (ref and "store" in ref):
                        continue
                    if "pack" in e:
                        packs.add(e["pack"])
                    else:
                        blobs.add(e["digest"])
        return blobs, packs

    def gc(self, dry_run: bool = False, grace: float = DEFAULT_GRACE) -> GcReport:
        """Delete blobs and packs no manifest refers to, and stale temporary files.

        Only files older than ``grace`` seconds are deleted, so that the blobs of a commit in
        flight (written before its manifest) survive.  ``gc`` first writes its own marker
        (``leases/gc-<id>``; commits wait while it exists), then deletes nothing at all if
        a commit's lease younger than ``grace`` exists (its files are then counted in
        ``kept_young``): a commit that reuses files it found in the store is never cut
        short, provided it finishes within ``grace``.
        """
        if grace < 0:
            raise ValueError(f"Invalid grace {grace!r}: give a number of seconds >= 0")
        if dry_run:
            return self._gc(True, grace)
        marker = f"leases/gc-{uuid.uuid4().hex}"
        self.backend.write(marker, b"gc")
        try:
            if self._leases("commit-", grace):  # a commit in flight: delete nothing
                r = self._gc(True, grace, marker)
                return GcReport(
                    [], 0, r.live_blobs, r.kept_young + len(r.deleted), False, r.live_packs
                )
            return self._gc(False, grace, marker)
        finally:
            self.backend.delete(marker)

    def _gc(self, dry_run: bool, grace: float, marker: str | None = None) -> GcReport:
        """gc's work, once the commits in flight are known (``marker``: gc's own)."""
        now = time.time()
        refreshed = time.monotonic()
        live, packs = self._live()
        deleted: list[str] = []
        freed = young = 0
        candidates = []
        for prefix in ("blobs", "packs", "artifacts", "probe", "tmp", "leases"):
            for rel, mtime in self.backend.walk_files(prefix):
                base = rel.rsplit("/", 1)[-1]
                if rel == marker:
                    continue
                if base.startswith(".tmp-") or prefix in ("probe", "tmp", "leases"):
                    candidates.append((rel, mtime))
                elif prefix == "blobs":
                    parts = rel.split("/")
                    digest = "".join(parts[2:4]) if len(parts) == 4 else ""
                    if digest not in live:
                        candidates.append((rel, mtime))
                elif prefix == "packs":
                    if base.removesuffix(".idx") not in packs:
                        candidates.append((rel, mtime))
        # an index goes before its pack: an index whose pack is gone would offer missing bytes
        candidates.sort(key=lambda c: not c[0].endswith(".idx"))
        for rel, mtime in self._progress(candidates, "gc", unit="file"):
            if now - mtime < grace:
                young += 1
                continue
            try:
                freed += self.backend.size(rel)
            except (FileNotFoundError, OSError):
                continue
            deleted.append(rel)
            if not dry_run:
                self.backend.delete(rel)
                if marker and time.monotonic() - refreshed > GC_MARKER_STALE / 5:
                    self.backend.write(marker, b"gc")  # still deleting: commits wait
                    refreshed = time.monotonic()
        return GcReport(sorted(deleted), freed, len(live), young, dry_run, len(packs))

    def is_local(self) -> bool:
        """Whether the store is a folder on the local disk."""
        return isinstance(self.backend, LocalBackend)


class _CountedPack(Pack):
    """A pack that calls ``tick(1)`` as each of its members but the first is read (the
    backend's progress callback counts the pack itself once)."""

    def __init__(self, pack: Pack, tick: Any):
        self.parts, self.size, self._tick = pack.parts, pack.size, tick

    def chunks(self) -> Iterator[bytes]:
        for i, chunk in enumerate(super().chunks()):
            if i:
                self._tick(1)
            yield chunk


def _counted(content: Any, tick: Any) -> Any:
    return _CountedPack(content, tick) if isinstance(content, Pack) else content


class _CheckedReader(io.RawIOBase):
    """A read-only stream that hashes what passes and raises IntegrityError at EOF."""

    def __init__(self, raw: IO[bytes], digest: str | None, size: int, name: str):
        self._raw = raw
        self._digest = digest
        self._size = size
        self._name = name
        self._h = hashlib.sha256()
        self._n = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(len(b))
        if not data:
            self._finish()
            return 0
        n = len(data)
        b[:n] = data
        self._h.update(data)
        self._n += n
        if self._n > self._size:
            raise IntegrityError(f"{self._name}: longer than its recorded {self._size} bytes")
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(CHUNK):
                chunks.append(chunk)
            return b"".join(chunks)
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def _finish(self) -> None:
        if self._n != self._size:
            raise IntegrityError(
                f"{self._name}: {self._n} bytes stored, its manifest says {self._size}"
            )
        if self._digest is not None and self._h.hexdigest() != self._digest:
            raise IntegrityError(f"{self._name}: stored bytes do not match sha256 {self._digest}")

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


class _CheckedOpener:
    """Opens a draft entry's file for upload (see :func:`_open_checked`); ``size`` lets a
    backend tell a whole blob already stored from a torn one."""

    def __init__(self, content: str | Any, digest: str, size: int, name: str):
        self.content, self.digest, self.size, self.name = content, digest, size, name

    def __call__(self) -> IO[bytes]:
        return _open_checked(self.content, self.digest, self.size, self.name)


def _open_checked(content: str | Any, digest: str, size: int, name: str) -> IO[bytes]:
    """Open a draft entry's file for upload; the stream raises at EOF if it changed since
    it was added (so a blob is never published under the wrong digest)."""
    try:
        raw = open(content, "rb") if isinstance(content, str) else content()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"cannot commit {name}: its file {content if isinstance(content, str) else ''} is "
            "gone since it was added to the draft; add it again"
        ) from None
    why = "its file changed after it was added to the draft; add it again"
    return _CheckedReader(raw, digest, size, f"{name} ({why})")


def _parse_pack_index(pid: str, data: bytes) -> list[tuple[str, int]] | None:
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


#: the largest version number the format lists (``v`` and at most nine digits)
VERSION_MAX = 999_999_999


def _version_or_refuse(name: str, n: int) -> str:
    """``vN``, or ``ValueError`` when ``N`` is past what the store lists as a version."""
    if n > VERSION_MAX:
        raise ValueError(
            f"cannot commit {name}: its next version would be v{n}, past v{VERSION_MAX}, the "
            "last version number the store format lists; commit under another artifact name"
        )
    return f"v{n}"


def _check_readable(obj: dict[str, Any], name: str) -> bytes:
    """``obj``'s bytes, or an error when the store could not read them back (checked as a
    reader checks them)."""
    data = canonical_json(obj)
    if len(data) > MANIFEST_MAX:
        raise ValueError(
            f"cannot commit {name}: its manifest would be {len(data)} bytes, more than the "
            f"{MANIFEST_MAX} a store reads; commit its files in several artifacts"
        )
    Manifest.parse(data, f"{name} (not committed: nothing was written)")
    return data


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
