"""The commit, flowing one way: ``draft.staged()`` -> entries and uploads (new small files
placed by ``odb.packs``) -> ``backend.write_many()`` -> pack indexes -> the manifest created
if absent as ``vN`` (``refs.create_version``) -> aliases -> a :class:`Version`."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from media.errors import IntegrityError

from .backends.base import Pack
from .draft import Artifact
from .errors import AliasNotMovedError, ReadOnlyError
from .manifest import canonical_json, check_named, entries_digest, inline_text
from .names import check_alias
from .odb.chunks import (
    BLAKE3_KEY,
    chunk_digests,
    chunks_field,
    digests_of_stream,
    file_digest,
    wants_chunks,
)
from .odb.layout import MANIFEST_MAX, blob_path
from .odb.packs import PACK_MEMBER_MAX
from .odb.readers import CheckedOpener
from .refs import version_or_refuse
from .reuse import check_reused
from .staging import Staged
from .timefmt import now
from .version import Version

__all__ = ["commit"]

#: stands in the checked manifest for a BLAKE3 digest computed while the files are written:
#: a valid digest of the same length, so the check holds for the bytes with the real one
_PENDING = "0" * 64
#: where a store keeps an entry's bytes, and the digests it derived from them there
_LOCATION = ("ref", "pack", "offset", BLAKE3_KEY, "chunks")


def commit(
    store: Any, draft: Artifact, aliases: Iterable[str] = (), run_id: str | None = None
) -> Version:
    """See :meth:`artifacts.store.Store.commit` (``store`` is that facade)."""
    if not isinstance(draft, Artifact):
        raise TypeError(f"Invalid draft {draft!r}: commit() takes an Artifact draft")
    if not draft.is_draft:
        raise ReadOnlyError(f"{draft.qualified_name} is already committed")
    if isinstance(aliases, str):
        aliases = [aliases]
    alias_list = [check_alias(a) for a in aliases if a != "latest"]
    store.check_writable()
    staged = draft.staged()
    pending: dict[str, tuple[Any, list[dict[str, Any]]]] = {}  # digest -> (bytes, entries)
    entries, uploads, indexes = _stage(store, staged, pending)
    digest = entries_digest(entries)
    latest, n = store.refs.head(staged.name)  # (n: past deleted versions too)
    if latest is not None:
        m = store.refs.manifest(staged.name, latest)
        if (m["digest"], m["type"], m.obj.get("description"), m["metadata"]) == (
            digest,
            staged.type,
            staged.description,
            staged.metadata,
        ):
            found = Version(store, m)
            _move_aliases(store, found, alias_list, made=False)
            return found
    obj: dict[str, Any] = {
        "_type": "manifest",
        # format 2 only where it must be: an entry with BLAKE3 digests (old readers refuse it)
        "format": 2 if any(_format_2(e) for e in entries.values()) else 1,
        "name": staged.name,
        "version": "",
        "type": staged.type,
        "description": staged.description,
        "metadata": json.loads(canonical_json(staged.metadata)),  # a copy, as stored
        "digest": digest,
        "created_at": now(),
        "created_by": run_id,
        "entries": entries,
    }
    obj["version"] = version_or_refuse(staged.name, n)
    # checked before anything is written (with _PENDING for the digests still to compute)
    checked = _check_readable(obj, staged.name)
    # the bar counts files: write_many reports a pack as one, its other files tick as read
    files = sum(len(c.parts) if isinstance(c, Pack) else 1 for _, c in uploads)
    counter = store.progress.counter(files, f"commit {staged.name}")
    if counter is not None:
        uploads = [(p, _counted(c, counter.update)) for p, c in uploads]
    try:
        if pending:
            # the files are written on a thread while this one hashes them with BLAKE3:
            # both release the GIL (writev, blake3), so the hashing costs no extra time
            # on a second core; the manifest is made only when both are done
            writer = _Writer(store, uploads, indexes, counter)
            writer.start()
            tables: list[tuple[str, bytes]] = []
            try:
                for content, same in pending.values():
                    b3, table = _digests(content, same[0]["size"])
                    field = None
                    if table is not None:
                        table_digest = hashlib.sha256(table).hexdigest()
                        tables.append((blob_path(table_digest), table))
                        field = chunks_field(table_digest)
                    for e in same:
                        e[BLAKE3_KEY] = b3
                        if field is not None:
                            e["chunks"] = dict(field)
                checked = canonical_json(obj)  # (as checked: only the digests changed)
            except BaseException:
                writer.cancel()  # nothing of the commit runs on after it raised
                raise
            writer.finish()
            store.backend.write_many(tables)  # (before the manifest that names them)
        else:
            _write(store, uploads, indexes, counter)
    finally:
        if counter is not None:
            counter.close()
    committed = Version(store, store.refs.create_version(obj, latest, checked, n))
    _move_aliases(store, committed, alias_list, made=True)
    return committed


def _write(
    store: Any,
    uploads: list[tuple[str, Any]],
    indexes: list[Any],
    counter: Any,
    cancelled: threading.Event | None = None,
) -> None:
    """Write the commit's files, then the indexes of its packs, then the store's marker
    if it has none yet (the first commit creates the store, just before its first
    version; its fsync overlaps the hashing when this runs on a :class:`_Writer`), unless
    the commit was ``cancelled`` meanwhile."""
    store.backend.write_many(uploads, counter.update if counter else None)
    for rel, data in indexes:  # after their packs: an index means a whole pack
        store.backend.write(rel, data)
    if cancelled is None or not cancelled.is_set():
        store.ensure_marker()


class _Writer(threading.Thread):
    """:func:`_write` on a thread; :meth:`finish` waits for it and raises what it raised."""

    def __init__(self, *args: Any):
        super().__init__(name="artifacts-commit-writer", daemon=True)
        self._args = args
        self._error: BaseException | None = None
        self._cancelled = threading.Event()

    def run(self) -> None:
        try:
            _write(*self._args, self._cancelled)
        except BaseException as exc:  # raised again by finish(), on the committing thread
            self._error = exc

    def finish(self) -> None:
        """Wait for the writes; raise the writer's error, if any."""
        self._wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def cancel(self) -> None:
        """The commit failed: no marker for a new store; wait for the writes in flight
        (their files are debris for ``gc``, as after a crash), raise nothing of them."""
        self._cancelled.set()
        self._wait()

    def _wait(self) -> None:
        try:
            self.join()
        except BaseException:  # an interrupt while waiting: the writes end first all the same
            self._cancelled.set()
            self.join()
            raise


def _copied(
    store: Any, name: str, path: str, e: dict[str, Any], source: Any
) -> tuple[dict[str, Any], CheckedOpener]:
    """Entry ``e`` of another store as a new file of this one, and its opener (read from
    the version it came from when known, else through the entry's ``ref``)."""
    foreign = dict(e)
    if source is not None:
        opener = functools.partial(source[0].open_entry, source[1])
    else:
        opener = functools.partial(store.objects.open, foreign, f"{name}/{path}")
    out = {k: v for k, v in e.items() if k not in ("ref", "pack", "offset")}
    return out, CheckedOpener(opener, out["digest"], out["size"], f"{name}/{path}")


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


def _check_readable(obj: dict[str, Any], name: str) -> bytes:
    """``obj``'s bytes, or an error when the store could not read them back (checked as a
    reader checks them)."""
    data = canonical_json(obj)
    if len(data) > MANIFEST_MAX:
        raise ValueError(
            f"cannot commit {name}: its manifest would be {len(data)} bytes, more than the "
            f"{MANIFEST_MAX} a store reads; commit its files in several artifacts"
        )
    # checked as a reader checks what it parses: the entries were built here, from parts
    # already checked, so the object itself is checked (no JSON parsed back), and its
    # digest was just computed from them
    check_named(obj, f"{name} (not committed: nothing was written)", digest_known=True)
    return data


def _move_aliases(store: Any, version: Version, aliases: list[str], made: bool) -> None:
    """Point ``aliases`` at the committed ``version``; one that fails raises
    :class:`AliasNotMovedError`, which says the version exists and how to move the rest
    (the caller's draft is committed: a bare OSError would read as a failed commit)."""
    name, v = version.name, version.version
    for i, alias in enumerate(aliases):
        try:
            store.set_alias(name, alias, v)  # (through the facade: tests pause it there)
        except Exception as exc:
            left = aliases[i:]
            what = (
                f"{version.qualified_name} was committed to {store.url} (latest moved to it)"
                if made
                else f"no new version was made: the draft equals {version.qualified_name} "
                f"of {store.url} (latest)"
            )
            moved = f" (moved: {', '.join(aliases[:i])})" if i else ""
            raise AliasNotMovedError(
                f"{what}, but alias(es) {', '.join(left)} did not move{moved}: "
                f"{type(exc).__name__}: {exc}. Once the cause is fixed, move them with "
                + "; ".join(f"store.set_alias({name!r}, {a!r}, {v!r})" for a in left)
                + f" (or: artifacts alias set {name}:{v} ALIAS), or commit the same draft "
                "again (it makes no new version)",
                version,
                left,
            ) from exc


def _check_still_there(local: str, size: int, name: str) -> None:
    """Refuse, before anything is written, a file added by path that is gone or has another
    size now (a change that keeps the size is found while it is copied, by its sha256)."""
    try:
        now = os.stat(local).st_size
    except FileNotFoundError:
        raise FileNotFoundError(
            f"cannot commit {name}: its file {local} is gone since it was added to the draft; "
            "add it again"
        ) from None
    if now != size:
        raise IntegrityError(
            f"cannot commit {name}: its file {local} has {now} bytes, {size} when it was added "
            "to the draft (it changed); add it again"
        )


def _stage(
    store: Any, staged: Staged, pending: dict[str, Any]
) -> tuple[dict[str, Any], list[tuple[str, Any]], list[tuple[str, bytes]]]:
    """The new manifest's entries, what to write and the new packs' indexes.  New files
    held in memory get their BLAKE3 digest later: they are added to ``pending``."""
    url = store.url
    entries: dict[str, Any] = {}
    uploads: dict[str, Any] = {}
    small: dict[str, Any] = {}  # digest -> content of the new files that may be packed
    # a draft made by new_draft() carries its parent's entries: committed to another
    # store, they become references to the parent (its bytes are not in this store)
    parent = staged.parent
    # where each reused same-store entry came from (checked to still hold its bytes)
    reused: dict[str | None, list[str]] = {}
    own = None
    if parent is not None and parent.store.url == url:
        own, parent = parent.qualified_name, None
    for path, e in staged.entries.items():
        content = staged.pending.get(path)
        source = staged.sources.get(path)
        if source is None and content is None and parent is not None:
            source = (parent, path)
        e = dict(e)
        e.pop("chunks", None)  # a new file's table is made below; a source's is copied
        if content is not None:
            e.pop(BLAKE3_KEY, None)  # (new bytes: their digests are made below)
        ref = e.get("ref")
        text = inline_text(path, content) if isinstance(content, (bytes, bytearray)) else None
        if text is not None:
            e["inline"] = text
            e.pop("ref", None)
        elif content is not None:
            e.pop("pack", None)
            e.pop("offset", None)
            if isinstance(content, str):
                _check_still_there(content, e["size"], f"{staged.name}/{path}")
            if not isinstance(content, (bytes, bytearray)):
                content = CheckedOpener(content, e["digest"], e["size"], f"{staged.name}/{path}")
            if e["digest"] in staged.blake3 and not wants_chunks(e["size"]):
                # hashed while the draft was filled (bytes since spooled are written through
                # a check of their sha256: the same bytes)
                e[BLAKE3_KEY] = staged.blake3[e["digest"]]
            else:
                _add_digests(e, content, uploads, pending)
            if e["size"] <= PACK_MEMBER_MAX:
                small.setdefault(e["digest"], content)
                e["_small"] = True
            else:
                uploads.setdefault(blob_path(e["digest"]), content)
        elif source is not None and "uri" not in e and "inline" not in e:
            src_art, src_path = source
            src_url = src_art.store.url
            if ref is None or "store" not in ref or ref["store"] == src_url:
                ref = dict(ref or {"artifact": src_art.qualified_name, "path": src_path})
                ref["store"] = src_url
            if ref["store"] == url:
                ref.pop("store")
            e["ref"] = ref
        if "store" in (e.get("ref") or {}) and e["ref"]["store"] != url:
            # another store's entry: its bytes are copied here, so that the version reads
            # and verifies without that store (only add_reference points outside a store)
            e, content = _copied(store, staged.name, path, e, source)
            if wants_chunks(e["size"]):  # (a BLAKE3 digest of the source comes along)
                _add_digests(e, content, uploads)
            if e["size"] <= PACK_MEMBER_MAX:
                small.setdefault(e["digest"], content)
                e["_small"] = True
            else:
                uploads.setdefault(blob_path(e["digest"]), content)
            entries[path] = e
            continue
        if ref is not None and "store" in ref and ref["store"] == url:
            e["ref"] = {k: v for k, v in ref.items() if k != "store"}
        elif "ref" in e:
            e["ref"] = dict(e["ref"])  # the new manifest shares nothing with the draft
        if content is None and _same_store(e) and "chunks" in staged.entries[path]:
            e["chunks"] = dict(staged.entries[path]["chunks"])  # its table is stored here
        if content is None and _same_store(e):  # bytes this store must still hold
            origin = e["ref"]["artifact"] if "ref" in e else own
            reused.setdefault(origin, []).append(path)
        entries[path] = e
    for path, data in check_reused(store, staged.name, entries, reused).items():
        # gone from the store, but its checked bytes are in the read cache: new bytes
        e = {k: v for k, v in entries[path].items() if k not in _LOCATION}
        _add_digests(e, data, uploads, pending)
        if e["size"] <= PACK_MEMBER_MAX:
            small.setdefault(e["digest"], data)
            e["_small"] = True
        else:
            uploads.setdefault(blob_path(e["digest"]), data)
        entries[path] = e
    indexes = store.packs.plan(entries, small, uploads) if small else []
    return entries, list(uploads.items()), indexes


def _add_digests(
    e: dict[str, Any], content: Any, uploads: dict[str, Any], pending: Any = None
) -> None:
    """Record the BLAKE3 digest of a new file in ``e`` (and, for a large file, its chunk
    table, added to the uploads as a blob named by its sha256, written before the
    manifest).  A file read from a stream is read once for both, and checked against its
    sha256 as it is read, so the digests are surely those of the committed bytes.

    With ``pending`` (digest -> (content, entries)), the file gets :data:`_PENDING` for
    both for now: the commit computes them (:func:`_digests`) while the files are
    written, and writes the table after them."""
    if pending is not None:
        e[BLAKE3_KEY] = _PENDING
        if wants_chunks(e["size"]):
            e["chunks"] = chunks_field(_PENDING)
        pending.setdefault(e["digest"], (content, []))[1].append(e)
        return
    b3, table = _digests(content, e["size"])
    e[BLAKE3_KEY] = b3
    if table is not None:
        digest = hashlib.sha256(table).hexdigest()
        uploads.setdefault(blob_path(digest), table)
        e["chunks"] = chunks_field(digest)


def _digests(content: Any, size: int) -> tuple[str, bytes | None]:
    """The BLAKE3 digest of a new file and its chunk table if it gets one; a file behind a
    :class:`CheckedOpener` is read once for both, and raises if it changed since added."""
    if isinstance(content, (bytes, bytearray)):
        return file_digest(content), chunk_digests(content) if wants_chunks(size) else None
    with content() as f:
        return digests_of_stream(f, wants_chunks(size))


def _format_2(e: Mapping[str, Any]) -> bool:
    """Whether entry ``e`` needs manifest format 2 (BLAKE3 digests; old readers refuse)."""
    return "chunks" in e or BLAKE3_KEY in e


def _same_store(e: Mapping[str, Any]) -> bool:
    """Whether entry ``e``'s bytes (and so a chunk table made for them) are in this store."""
    return "uri" not in e and "inline" not in e and "store" not in e.get("ref", {})
