"""The store: versioned, content-addressed artifacts on the local disk or any fsspec URL.

``Store`` is a thin facade over the parts that do the work: ``refs`` (names, versions,
aliases), ``objects`` and ``packs`` (the object database, :mod:`artifacts.odb`),
``backend`` (:mod:`artifacts.backends`), lineage and progress.  Layout (see
docs/store-format.md)::

    store.json                                   marker: {"_type": "store", "format": 1}
    blobs/sha256/<2 hex>/<62 hex>                one copy of every distinct file...
    packs/<64 hex>, packs/<64 hex>.idx           ...or of many small ones, end to end in a pack
    artifacts/<name>/versions/v<N>.json          immutable manifests, created if absent
    artifacts/<name>/aliases/<alias>.json        movable pointers (latest is derived)
    lineage/<name>/<version>/<run>.<action>.json which run logged or used a version
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import platformdirs

import schemas

from . import lineage as _lineage
from . import transfer as _transfer
from .backends import Backend, LocalBackend, open_backend
from .commit import commit as _commit
from .draft import Artifact
from .errors import ArtifactNotFoundError, StoreNotFoundError, UnsafeBackendError
from .leases import Leases
from .manifest import canonical_json
from .names import check_alias
from .odb.cache import BlobCache
from .odb.gc import (
    DEFAULT_GRACE,
    GcReport,
    sweep,
)
from .odb.layout import RECORD_MAX
from .odb.objects import Objects
from .odb.packs import PACK_MEMBER_MAX, PACK_MIN, PACK_TARGET, Packs
from .progress import Progress
from .refs import Refs
from .transfer import CopyReport
from .version import Version

__all__ = ["Store", "open_store", "default_store_path", "GcReport", "STORE_ENV"]
__all__ += ["DEFAULT_GRACE", "PACK_MIN", "PACK_MEMBER_MAX", "PACK_TARGET"]

STORE_ENV = "MEDIA_ARTIFACTS_STORE"
CACHE_SIZE = 10 << 30  # bytes a read cache keeps by default (open_store's cache_size)


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
    # platformdirs knows each system's per-user data folder (and XDG_DATA_HOME)
    base = platformdirs.user_data_dir("media-artifacts", appauthor=False, roaming=False)
    return os.path.join(base, "store")


def open_store(
    url: str | os.PathLike[str] | None = None,
    *,
    single_writer: bool = False,
    progress: bool | None = None,
    pack_min: int | None = PACK_MIN,
    cache: str | os.PathLike[str] | None = None,
    cache_size: int = CACHE_SIZE,
    **storage_options: Any,
) -> Store:
    """Open the store at an fsspec URL or local path.

    Opening creates nothing: where there is no store yet, reads find no artifacts
    (``artifact()`` raises :class:`StoreNotFoundError`) and the first commit creates it.
    ``None`` opens the embedded default store (:func:`default_store_path`); an empty URL
    is refused (``ValueError``), never taken as the current folder.
    ``single_writer=True`` promises that one process at a time commits, which is required
    on backends that do not honour create-if-absent.  ``progress`` shows progress bars
    (default: when stderr is a terminal).  A commit that writes at least ``pack_min`` new
    files of up to 4 MiB packs them end to end into objects of about 32 MiB (one file or
    request instead of one per file); ``None`` writes every file as a blob of its own.
    ``cache`` names a local folder, outside the store, where reads keep checked copies
    of the blobs and pack members they fetch (for repeated epochs over a remote store):
    at most ``cache_size`` bytes (default 10 GiB), least recently used out, every hit
    checked against its sha256 (``verify`` always reads the store itself).
    Other keyword arguments go to fsspec.
    """
    if url is None:
        url = default_store_path()
    url = os.fspath(url)
    if isinstance(url, str) and not url.strip():
        raise ValueError(
            f"Invalid store URL {url!r}: it is empty; give a folder or a URL "
            "(open_store(None) opens the default store)"
        )
    backend, canonical = open_backend(url, **storage_options)
    if isinstance(backend, LocalBackend) and os.path.isfile(canonical):
        raise NotADirectoryError(f"{canonical!r} is a file; a store is a folder: give its path")
    blob_cache = None
    if cache is not None:
        folder = os.path.abspath(os.fspath(cache))
        if isinstance(backend, LocalBackend):
            root = os.path.abspath(canonical)
            if os.path.commonpath([folder, root]) == root:
                raise ValueError(
                    f"Invalid cache {folder!r}: it is inside the store {root}, and reads never "
                    "write into a store; give a folder outside it"
                )
        blob_cache = BlobCache(folder, cache_size)
    store = Store(
        backend, canonical, single_writer=single_writer, progress=progress, pack_min=pack_min
    )
    store.cache = blob_cache
    store.opened_with = {
        "single_writer": single_writer,
        "progress": progress,
        "pack_min": pack_min,
        "cache": cache if cache is None else os.path.abspath(os.fspath(cache)),
        "cache_size": cache_size,
        **storage_options,
    }
    return store


def _reopen(url: str, opened_with: dict[str, Any]) -> Store:
    """A store unpickled: opened again at ``url`` as it was (see :meth:`Store.__reduce__`)."""
    return open_store(url, **opened_with)


class Store:
    """Versioned artifacts on one backend.  Get one with :func:`open_store`."""

    def __init__(
        self,
        backend: Backend,
        url: str,
        *,
        single_writer: bool = False,
        progress: bool | None = None,
        pack_min: int | None = PACK_MIN,
        existing: bool = False,
    ):
        if pack_min is not None and (type(pack_min) is not int or pack_min < 1):
            raise ValueError(
                f"Invalid pack_min {pack_min!r}: give a number of files >= 1, or None to "
                "store every file as a blob of its own"
            )
        self.backend = backend
        self.url = url
        self.single_writer = single_writer
        self.pack_min = pack_min
        self._exists = False
        self.refs = Refs(backend, url, self._missing_store)
        self.leases = Leases(backend, url)
        self.objects = Objects(backend, url, self._foreign)
        self.packs = Packs(backend, pack_min)
        self.progress = Progress(progress)
        self.cache: BlobCache | None = None  # a local cache of read bytes (open_store)
        self._honours_create: bool | None = None
        self._others: dict[str, Store] = {}
        self._lock = threading.Lock()
        self._init_marker(existing)

    @classmethod
    def open(cls, url: str | os.PathLike[str] | None = None, **kwargs: Any) -> Store:
        """:func:`open_store` (for callers that hold the class, not the module)."""
        return open_store(url, **kwargs)

    #: the keyword arguments :func:`open_store` was given (a pickle opens the store again)
    opened_with: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"<Store {self.url}>"

    def __reduce__(self) -> tuple[Any, ...]:
        """A store pickles as its URL and options and is opened again where it is
        unpickled (its locks, caches and connections are this process's own), so that
        values loaded from it can go to a process pool.  A ``memory://`` store is this
        process's memory: opened in another process, it is another, empty store."""
        if self.opened_with is None:
            raise TypeError(f"{self!r} was not made by open_store(), so it cannot be pickled")
        return (_reopen, (self.url, self.opened_with))

    def _init_marker(self, existing: bool = False) -> None:
        # reading never writes: the marker is made by the first commit (ensure_marker)
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

    def no_store_error(self) -> StoreNotFoundError:
        """The error a read raises where there is no store."""
        return StoreNotFoundError(
            f"no store at {self.url}: there is no store.json there, and reading creates "
            "none; check the location, or commit to create a store there"
        )

    def _missing_store(self) -> StoreNotFoundError | None:
        return None if self.exists() else self.no_store_error()

    def ensure_marker(self) -> None:
        """Write the store's marker if there is none (the first commit does, just before its
        manifest)."""
        if not self._exists:
            try:
                self.backend.create("store.json", canonical_json({"_type": "store", "format": 1}))
            except FileExistsError:
                pass
            self._exists = True

    # -- create-if-absent -------------------------------------------------------------------
    def honours_create_if_absent(self) -> bool:
        """Whether the backend refuses a second create of the same file (its flag, else
        probed once).

        Commits rely on it to number versions without a lock.  Some S3-compatible servers
        ignore the condition; on those, commits need ``single_writer=True``.
        """
        if self._honours_create is None and self.backend.honours_create_if_absent is not None:
            self._honours_create = self.backend.honours_create_if_absent
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

    def check_writable(self) -> None:
        """Raise :class:`UnsafeBackendError` when concurrent commits could overwrite each
        other here (the backend ignores create-if-absent and ``single_writer`` is off)."""
        if not self.single_writer and not self.honours_create_if_absent():
            raise UnsafeBackendError(
                f"{self.url} does not honour create-if-absent (a second conditional create "
                "of the same file succeeded), so concurrent commits could overwrite each "
                "other's versions; if only one process commits to this store at a time, open "
                "it with open_store(url, single_writer=True)"
            )

    # -- names, versions, aliases -----------------------------------------------------------
    def names(self) -> list[str]:
        """Names of the artifacts in the store, sorted."""
        return self.refs.names()

    def versions(self, name: str) -> list[str]:
        """Versions of artifact ``name``, oldest first (``[]`` when there are none)."""
        return self.refs.versions(name)

    def aliases(self, name: str) -> dict[str, str]:
        """Alias -> version for artifact ``name``, ``latest`` included."""
        return self.refs.aliases(name)

    def aliases_of(self, name: str, version: str) -> list[str]:
        """The aliases that point at ``name:version`` now."""
        return sorted(a for a, v in self.aliases(name).items() if v == version)

    def resolve(self, ref: str) -> tuple[str, str]:
        """``"clips:best"`` -> ``("clips", "v3")``; unknown: :class:`ArtifactNotFoundError`."""
        return self.refs.resolve(ref)

    def artifact(self, ref: str) -> Version:
        """The committed artifact ``"name:vN"``, ``"name:latest"``, ``"name:<alias>"``."""
        name, version = self.refs.resolve(ref)
        return Version(self, self.refs.manifest(name, version))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``name:alias`` at ``version`` (a ``vN`` or another alias)."""
        self.refs.set_alias(name, alias, version)

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove alias ``name:alias`` (``latest`` cannot be removed: it is derived)."""
        self.refs.remove_alias(name, alias)

    def delete(self, ref: str, dry_run: bool = False) -> list[str]:
        """Delete ``"name:vN"`` (or an alias's version), or every version of ``"name"``;
        returns what went (would go: ``dry_run``).  See :meth:`artifacts.refs.Refs.delete`."""
        return self.refs.delete(ref, dry_run, self.check_writable)

    def _foreign(self, ref: Mapping[str, Any]) -> tuple[Version, str]:
        """The version of another store that holds a foreign entry, and its path there."""
        url = ref["store"]
        other = self if url == self.url else self._others.get(url)
        if other is None:
            # only an existing store: following a reference must create nothing there
            backend, canonical = open_backend(url)
            other = self._others[url] = Store(backend, canonical, existing=True)
        return other.artifact(ref["artifact"]), ref["path"]

    # -- committing -------------------------------------------------------------------------
    def commit(
        self, draft: Artifact, aliases: Iterable[str] = (), *, run_id: str | None = None
    ) -> Version:
        """Commit a draft as the next version ``vN`` and return the committed artifact.

        Blobs go first (existing ones are skipped), then the manifest is created if absent
        as ``vN`` (retrying ``vN+1`` on a conflict), then aliases move.  A draft whose
        content and metadata equal ``latest`` makes no new version: ``latest`` is returned
        (and the aliases move to it).

        The commit holds a lease (``leases/commit-<id>``) from before it decides which
        files the store already holds until its manifest is created: ``gc`` deletes
        nothing while a lease younger than its grace exists, and a commit waits while a
        ``gc`` is deleting (see docs/security.md).
        """
        if not isinstance(draft, Artifact) or not draft.is_draft:
            return _commit(self, draft, aliases, run_id)  # (raises the usual error)
        aliases = [aliases] if isinstance(aliases, str) else list(aliases)
        for a in aliases:  # refusals before the lease: a refused commit writes nothing
            if a != "latest":
                check_alias(a)
        self.check_writable()
        lease = self.leases.take()
        # a commit to a location that is not a store yet undoes what it wrote if it fails:
        # a failed commit never leaves files there without a store to collect them
        before = None if self.exists() else self._objects_here()
        try:
            return _commit(self, draft, aliases, run_id)
        except BaseException:
            if before is not None:
                self._undo_first_commit(before)
            raise
        finally:
            self.backend.delete(lease)

    def _objects_here(self) -> set[str]:
        """The files under ``blobs/`` and ``packs/``, and ``store.json`` if there."""
        found = {rel for p in ("blobs", "packs") for rel, _ in self.backend.walk_files(p)}
        return found | ({"store.json"} if self.backend.exists("store.json") else set())

    def _undo_first_commit(self, before: set[str]) -> None:
        """Remove what a failed commit wrote to a location that held no store when it began
        (``before``: what was there then), unless a version or another commit appeared
        meanwhile.  It takes ``gc``'s turn (see :meth:`gc`): no commit starts meanwhile."""
        marker = f"leases/gc-{uuid.uuid4().hex}"
        try:
            self.backend.write(marker, b"gc")
            try:
                if len(self.leases.young("commit-", DEFAULT_GRACE)) > 1 or self.backend.listdir(
                    "artifacts"
                ):
                    return  # another commit's files, or a store now: gc's to collect
                for rel in sorted(self._objects_here() - before, key=lambda r: r != "store.json"):
                    with contextlib.suppress(FileNotFoundError):
                        self.backend.delete(rel)
                self._exists = False
            finally:
                self.backend.delete(marker)
        except OSError:  # (best effort: the commit's own error is the one to raise)
            pass

    def lease(self) -> contextlib.AbstractContextManager[None]:
        """Hold a commit's lease for the block: ``gc`` deletes nothing meanwhile."""
        return self.leases.hold()

    def copy_to(self, dst: Store, refs: Iterable[str] | str | None = None) -> CopyReport:
        """Copy versions (``refs``: names or ``name:vN``; ``None``: all) with their
        metadata, aliases and lineage to ``dst``, sending only bytes it lacks; see
        :mod:`artifacts.transfer`."""
        return _transfer.copy(self, dst, refs)

    # -- lineage ----------------------------------------------------------------------------
    def record_lineage(self, run_id: str, action: str, artifact: Version) -> dict[str, Any]:
        """Record that run ``run_id`` ``"logged"`` or ``"used"`` a committed artifact."""
        return _lineage.record(
            self.backend,
            run_id,
            action,
            artifact.name,
            artifact.version,  # type: ignore[arg-type]
            artifact.manifest["digest"],
        )

    def lineage(self, ref: str) -> dict[str, Any]:
        """``{"artifact", "created_by", "logged_by", "used_by"}`` for a version."""
        name, version = self.refs.resolve(ref)
        m = self.refs.manifest(name, version)
        return {
            "artifact": f"{name}:{version}",
            "created_by": m.obj.get("created_by"),
            **_lineage.runs_of(self.backend, name, version),
        }

    # -- garbage collection -----------------------------------------------------------------
    def live_blobs(self) -> set[str]:
        """Digests of every blob some manifest of the store refers to."""
        return self._live()[0]

    def live_packs(self) -> set[str]:
        """Ids of every pack some manifest of the store refers to."""
        return self._live()[1]

    def _live(self) -> tuple[set[str], set[str]]:
        """``(blob digests, pack ids)`` that some manifest refers to, in one walk."""
        return self.refs.live_objects()

    def gc(self, dry_run: bool = False, grace: float = DEFAULT_GRACE) -> GcReport:
        """Delete blobs and packs no manifest refers to, and stale temporary files.

        Only files older than ``grace`` seconds are deleted, so that the blobs of a commit in
        flight (written before its manifest) survive.  ``gc`` first writes its own marker
        (``leases/gc-<id>``; commits wait while it exists), then deletes nothing at all if
        a commit's lease younger than ``grace`` exists (its files are then counted in
        ``kept_young``, the leases named in ``held_by``): a commit that reuses files it
        found in the store is never cut short, provided it finishes within ``grace``.

        Where there is no store (no ``store.json``: a mistyped location) it writes nothing
        and raises :class:`StoreNotFoundError`.
        """
        if grace < 0:
            raise ValueError(f"Invalid grace {grace!r}: give a number of seconds >= 0")
        if not self.exists():  # (before its marker: gc never makes files where no store is)
            raise self.no_store_error()
        if dry_run:
            return self._gc(True, grace)
        marker = f"leases/gc-{uuid.uuid4().hex}"
        self.backend.write(marker, b"gc")
        try:
            held_by = self.leases.young("commit-", grace)
            if held_by:  # a commit in flight: delete nothing
                r = self._gc(True, grace, marker)
                return GcReport(
                    [],
                    0,
                    r.live_blobs,
                    r.kept_young + len(r.deleted),
                    False,
                    r.live_packs,
                    held_by,
                )
            return self._gc(False, grace, marker)
        finally:
            self.backend.delete(marker)

    def _gc(self, dry_run: bool, grace: float, marker: str | None = None) -> GcReport:
        """gc's sweep of what no manifest names, once the commits in flight are known."""
        live, packs = self._live()
        return sweep(
            self.backend,
            live,
            packs,
            dry_run=dry_run,
            grace=grace,
            progress=lambda items, desc: self.progress.items(items, desc, unit="file"),
            marker=marker,
        )

    def is_local(self) -> bool:
        """Whether the store is a folder on the local disk."""
        return isinstance(self.backend, LocalBackend)
