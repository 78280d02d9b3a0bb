"""Copying versions from one store to another (``src.copy_to(dst)``).

Versions (``refs``: names, every version, or ``name:vN`` / ``name:alias`` refs; ``None``:
every artifact) arrive with their metadata, description, aliases and lineage, and verify and
read without the source.  A version whose history diverged in ``dst`` becomes a new
version there: nothing is overwritten.  A source alias that does not read stops the copy
before anything is written (:class:`CopyError` naming the file and the mend).

A version is copied the way a commit writes one: the bytes first (only those ``dst`` does
not hold yet; new small files end to end in packs, written concurrently by the backend),
then the manifest, created if absent as the next free ``vN`` of ``dst``.  A copy cut short
leaves files no manifest names (``gc`` takes them) and no half version; a re-run finds the
bytes already there and sends only the rest.

A version counts as already copied when ``dst`` has a version of the same name with the
same content (entries digest), type, description and metadata: a repeated copy reads the
manifests of both sides and sends no blob.

After a copy, ``dst``'s ``latest`` (when the source's ``latest`` was among the versions
copied) and every alias copied name a version with the same content as the source's,
whatever its number in ``dst``: a source ``latest`` that ``dst`` holds under an older number
is repeated as ``dst``'s newest version (from the files ``dst`` holds; nothing is sent).
"""

from __future__ import annotations

import functools
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import schemas
from media.errors import IntegrityError

from . import lineage as _lineage
from .backends.base import Pack
from .errors import ArtifactError, ArtifactNotFoundError, UnsafeBackendError
from .manifest import SEAL_KEY, Manifest, canonical_json, entries_digest
from .names import check_alias, parse_ref
from .odb.chunks import table_entry
from .odb.layout import MANIFEST_MAX, blob_digest, blob_path, pack_path
from .odb.packs import PACK_MEMBER_MAX
from .odb.readers import CheckedOpener

__all__ = ["CopyError", "SourceDamagedError", "CopyReport", "copy"]


class CopyError(ArtifactError):
    """A version could not be copied (the message names both stores and the version)."""


class SourceDamagedError(CopyError, IntegrityError):
    """A version could not be copied because the source store's bytes of one of its entries
    do not match its manifest (or are missing): the source needs repair, not a retry."""


@dataclass
class CopyReport:
    """What :func:`copy` did: ``versions`` made in ``dst`` (pairs of source and destination
    qualified names), ``skipped`` (already there, paired the same way), and the files
    (``blobs``) and ``bytes`` sent."""

    versions: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    blobs: int = 0
    bytes: int = 0


def copy(src: Any, dst: Any, refs: Iterable[str] | str | None = None) -> CopyReport:
    """See :meth:`artifacts.store.Store.copy_to` (``src`` and ``dst`` are stores)."""
    if dst.url == src.url:
        raise ValueError(f"cannot copy {src.url} to itself: give another store")
    report = CopyReport()
    selection = _selection(src, refs)
    # every alias is read before anything is written: one that cannot be copied stops the
    # copy here (skipping it would leave dst's alias of that name silently stale)
    aliases = {name: _source_aliases(src, dst, name) for name in selection}
    for name, versions in selection.items():
        # (every version selected: the last is the source's latest, known without a listing)
        latest = versions[-1] if refs is None else src.refs.latest(name)
        _copy_artifact(src, dst, name, versions, aliases[name], report, latest)
    return report


def _source_aliases(src: Any, dst: Any, name: str) -> dict[str, str]:
    """Alias -> version of ``name`` in ``src``; an alias file that does not read (bad JSON,
    a schema failure, a name that is no alias) raises :class:`CopyError` saying how to mend
    it: unlike a listing, a copy never leaves one out silently."""
    out = {}
    for f in src.backend.listdir(f"artifacts/{name}/aliases"):
        if not f.endswith(".json") or f == "latest.json":  # latest is derived, never stored
            continue
        alias, rel = f[:-5], f"artifacts/{name}/aliases/{f}"
        try:
            check_alias(alias)
        except ValueError as exc:
            fix = f"it is no alias file ({exc}): delete it from the source store"
        else:
            try:
                out[alias] = src.refs.read_alias(name, alias)
                continue
            except FileNotFoundError:  # removed meanwhile
                continue
            except ValueError as exc:
                fix = (
                    f"it does not read as an alias ({exc}): point it again with "
                    f"set_alias({name!r}, {alias!r}, 'vN') or remove it with "
                    f"remove_alias({name!r}, {alias!r}) on the source store (or `artifacts "
                    f"alias set {name}:vN {alias}` / `artifacts alias remove {name}:{alias}`)"
                )
        raise CopyError(
            f"cannot copy {name} of {src.url} to {dst.url}: its alias file {rel} cannot be "
            f"copied, {fix}; then copy again. Nothing was copied"
        )
    return out


def _selection(src: Any, refs: Iterable[str] | str | None) -> dict[str, list[str]]:
    """name -> its versions to copy, oldest first."""
    if refs is None:
        if not src.exists():
            raise src.no_store_error()
        every = {}
        for name in src.backend.listdir("artifacts"):  # (names(), without listing twice)
            try:
                versions = src.refs.versions(name)
            except ValueError:  # not an artifact's folder
                continue
            if versions:
                every[name] = versions
        return every
    refs = [refs] if isinstance(refs, str) else list(refs)
    out: dict[str, list[str]] = {}
    for ref in refs:
        name, _ = parse_ref(ref)
        if ":" in ref:
            versions = [src.refs.resolve(ref)[1]]
        else:
            versions = src.refs.versions(name)
            if not versions:
                raise ArtifactNotFoundError(src.refs.not_found(name, ref))
        have = out.setdefault(name, [])
        have.extend(v for v in versions if v not in have)
    return {name: sorted(vs, key=lambda v: int(v[1:])) for name, vs in out.items()}


def _key(m: Manifest) -> tuple[Any, ...]:
    """What makes two versions of one name the same copy."""
    obj = m.obj
    return (obj["digest"], obj["type"], obj.get("description"), canonical_json(obj["metadata"]))


def _copy_artifact(
    src: Any,
    dst: Any,
    name: str,
    versions: list[str],
    aliases: dict[str, str],
    report: CopyReport,
    latest: str | None,
) -> None:
    """Copy ``name``'s ``versions`` (those not in ``dst`` yet), then make ``dst``'s
    ``latest`` hold the content of the source's ``latest`` (when copied), then copy
    ``aliases`` (of src)."""
    have: dict[tuple[Any, ...], str] = {}
    newest = None  # dst's newest version, as this copy knows it
    if dst.exists():
        for v in dst.refs.versions(name):
            have.setdefault(_key(dst.refs.manifest(name, v)), v)
            newest = v
    mapped: dict[str, str] = {}
    for v in versions:
        m = src.refs.manifest(name, v)
        there = have.get(_key(m))
        if there is not None:
            report.skipped.append((f"{name}:{v}", f"{name}:{there}"))
        else:
            there = newest = _copy_version(src, dst, m, report)
            have[_key(m)] = there
            report.versions.append((f"{name}:{v}", f"{name}:{there}"))
        mapped[v] = there
    if latest in mapped and (
        newest is None
        or _key(dst.refs.manifest(name, newest)) != _key(src.refs.manifest(name, latest))
    ):
        mapped[latest] = _repeat_latest(src, dst, name, latest, mapped[latest], report)
    now = dst.refs.stored_aliases(name)
    for alias, v in aliases.items():
        if v in mapped and now.get(alias) != mapped[v]:
            dst.refs.set_alias(name, alias, mapped[v])


def _repeat_latest(
    src: Any, dst: Any, name: str, latest: str, there: str, report: CopyReport
) -> str:
    """Make ``dst``'s version ``there`` (the copy of the source's ``latest``, not ``dst``'s
    newest) ``dst``'s newest as well: a new version with the same content, made from the
    files ``dst`` holds (nothing is sent); returns it."""
    dst.check_writable()
    with dst.lease():  # (its files are named by a version of dst already)
        obj = json.loads(canonical_json(dict(dst.refs.manifest(name, there).obj)))
        _, n = dst.refs.head(name)
        made = dst.refs.create_version(obj, None, None, n)["version"]
    _copy_lineage(src, dst, name, latest, made)
    pair = (f"{name}:{latest}", f"{name}:{there}")
    if pair in report.skipped:
        report.skipped.remove(pair)
    report.versions.append((f"{name}:{latest}", f"{name}:{made}"))
    return made


def _copy_version(src: Any, dst: Any, m: Manifest, report: CopyReport) -> str:
    """Copy one version; returns its version in ``dst``.  Errors name both stores."""
    name, version = m["name"], m["version"]
    # a store that ignores conditional writes needs single_writer, as commits do (asked
    # only when there is something to copy: a repeated copy writes not even the probe)
    dst.check_writable()
    try:
        with dst.lease():  # gc keeps the files this copy finds in dst until it is done
            return _write_version(src, dst, m, report)
    except UnsafeBackendError:
        raise
    except IntegrityError as exc:
        if f"{src.url} {name}:{version}/" not in str(exc):  # (not about a source entry)
            raise CopyError(
                f"cannot copy {name}:{version} of {src.url} to {dst.url}: {exc}"
            ) from exc
        ref = f"{name}:{version}"
        raise SourceDamagedError(
            f"cannot copy {ref} of {src.url} to {dst.url}: the SOURCE store's bytes of an "
            f"entry are damaged: {exc}. Check the source with "
            f"open_store({src.url!r}).artifact({ref!r}).verify() (or `artifacts --store "
            f"{src.url} verify {ref}`) and repair it there (commit the good file again) before "
            f"copying: a retry fails the same way. {ref} was not copied and no alias of {name} "
            f"moved in {dst.url} (versions copied before it are whole there); files sent "
            "before the damage was found stay there, unreferenced, until a gc of that store "
            "removes them (once older than its grace)"
        ) from exc
    except Exception as exc:
        raise CopyError(
            f"cannot copy {name}:{version} of {src.url} to {dst.url}: {exc}; nothing of it is "
            "visible there yet, run the copy again to finish it"
        ) from exc


def _write_version(src: Any, dst: Any, m: Manifest, report: CopyReport) -> str:
    name, version = m["name"], m["version"]
    entries, small, uploads = _entries(src, dst, m)
    if entries_digest(entries) != m["digest"]:
        raise ArtifactError(f"{src.url} {name}:{version}: its entries do not match its digest")
    wanted = {e["digest"] for e in entries.values() if "_small" in e}
    wanted |= {blob_digest(p) for p in uploads}
    held = dst.packs.loose(wanted) if wanted else set()  # (a killed copy: no marker yet)
    for d in held:  # already a blob of dst: its entry says so, nothing is sent
        small.pop(d, None)
        uploads.pop(blob_path(d), None)
    for e in entries.values():
        if e.get("digest") in held:
            e.pop("_small", None)
    indexes = dst.packs.plan(entries, small, uploads) if small else []
    for e in entries.values():
        e.pop("_small", None)
    items = list(uploads.items())
    files = sum(len(c.parts) if isinstance(c, Pack) else 1 for _, c in items)
    sent = sum(c.size for _, c in items)
    obj = json.loads(canonical_json(dict(m.obj)))
    obj.pop(SEAL_KEY, None)  # its entries change: the copy gets a seal of its own
    obj["entries"] = entries
    obj["version"] = "v0"
    data = canonical_json(obj)
    if len(data) > MANIFEST_MAX:
        raise ValueError(f"its manifest would be more than the {MANIFEST_MAX} bytes a store reads")
    Manifest.parse(data, f"the copy of {name}:{version} (nothing was written)")  # as read back
    # the marker first: files a failed copy leaves make a store whose gc removes them
    dst.ensure_marker()
    counter = dst.progress.counter(files, f"copy {name}:{version}")
    try:
        dst.backend.write_many(items, counter.update if counter else None)
    finally:
        if counter is not None:
            counter.close()
    for rel, data in indexes:  # after their packs: an index means a whole pack
        dst.backend.write(rel, data)
    _, n = dst.refs.head(name)
    made = dst.refs.create_version(obj, None, None, n)["version"]
    report.blobs += files
    report.bytes += sent
    _copy_lineage(src, dst, name, version, made)
    return made


def _entries(
    src: Any, dst: Any, m: Manifest
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The copy's entries, its new small files (digest -> opener) and its large ones
    (blob path -> opener), read from ``src`` and checked against their digests."""
    name, version = m["name"], m["version"]
    entries: dict[str, Any] = {}
    small: dict[str, Any] = {}
    uploads: dict[str, Any] = {}
    packs = _PackReader(src, m)
    for path, e in m.entries.items():
        out = json.loads(canonical_json(dict(e)))
        kind = src.objects.kind(e)
        if kind in ("inline", "reference"):  # the bytes, or their URI, travel with the entry
            out.pop("ref", None)  # (where src took it from names src's versions, not dst's)
            entries[path] = out
            continue
        ref = e.get("ref")
        if kind == "foreign" and ref["store"] == dst.url:  # an entry of dst itself
            out["ref"] = {k: v for k, v in ref.items() if k != "store"}
            entries[path] = out
            continue
        # the copy stands alone: where the source found the bytes means nothing in dst
        out = {k: v for k, v in out.items() if k not in ("pack", "offset", "ref")}
        where = f"{src.url} {name}:{version}/{path}"
        opener = functools.partial(packs.open, dict(e), where)
        content = CheckedOpener(opener, out["digest"], out["size"], where, why="")
        if out["size"] <= PACK_MEMBER_MAX:
            small.setdefault(out["digest"], content)
            out["_small"] = True
        else:
            uploads.setdefault(blob_path(out["digest"]), content)
        if "chunks" in out and kind in ("blob", "packed"):  # its chunk table goes along
            table = src.objects.read(table_entry(e), f"{where} (its chunk table)")
            digest, opener = out["chunks"]["table"], functools.partial(io.BytesIO, table)
            table_opener = CheckedOpener(opener, digest, len(table), where, why="")
            uploads.setdefault(blob_path(digest), table_opener)
        else:
            out.pop("chunks", None)
        entries[path] = out
    return entries, small, uploads


class _PackReader:
    """Opens the entries of one source version.  The span of a pack this version's
    members cover is read once (the last one kept) when they make up most of it, not with
    a ranged read per member: members are asked for in pack order, so a remote source
    costs a request per pack."""

    def __init__(self, src: Any, m: Manifest):
        self.src = src
        #: pack -> [first byte, end, bytes used] of this version's members
        self.spans: dict[str, list[int]] = {}
        for e in m.entries.values():
            if src.objects.kind(e) == "packed":
                start, end = e["offset"], e["offset"] + e["size"]
                span = self.spans.setdefault(e["pack"], [start, end, 0])
                span[0], span[1], span[2] = (
                    min(span[0], start),
                    max(span[1], end),
                    span[2] + e["size"],
                )
        self.last: tuple[str, int, bytes] | None = None

    def open(self, e: Mapping[str, Any], where: str) -> IO[bytes]:
        """Entry ``e`` as a stream (checked by the caller's :class:`CheckedOpener`)."""
        pid = e.get("pack") if self.src.objects.kind(e) == "packed" else None
        if pid is None:
            return self.src.objects.open(e, where)
        if self.last is None or self.last[0] != pid:
            start, end, used = self.spans[pid]
            if used * 2 < end - start:  # mostly other versions' files: ranged reads
                return self.src.objects.open(e, where)
            try:
                data = self.src.backend.read_range(pack_path(pid), start, end - start)
            except FileNotFoundError:
                raise IntegrityError(f"{where}: its pack {pid[:16]}... is missing") from None
            self.last = (pid, start, data)
        _, start, data = self.last
        at = e["offset"] - start
        return io.BytesIO(data[at : at + e["size"]])  # (a short pack: the check fails)


def _copy_lineage(src: Any, dst: Any, name: str, version: str, made: str) -> None:
    """The runs that logged or used ``name:version`` in ``src`` did so of the copy too."""
    digest = dst.refs.manifest(name, made)["digest"]
    for key, runs in _lineage.runs_of(src.backend, name, version).items():
        for run in runs:
            try:
                _lineage.record(dst.backend, run, key[: -len("_by")], name, made, digest)
            except (ValueError, schemas.SchemaError):
                continue  # a record src should not hold (a bad run name): not copied
