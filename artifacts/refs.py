"""Names, versions and aliases of a store: listing them, resolving ``name:label``, and
creating version ``vN`` if absent (retrying ``vN+1`` when another commit took it).

Layout: ``artifacts/<name>/versions/v<N>.json`` (immutable manifests, created if absent)
and ``artifacts/<name>/aliases/<alias>.json`` (movable pointers; ``latest`` is derived).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import schemas
from media.errors import IntegrityError

from . import lineage
from .backends.base import Backend
from .errors import ArtifactError, ArtifactNotFoundError
from .manifest import SEAL_KEY, Manifest, canonical_json, entry_kind, seal
from .names import (
    TOMBSTONE_RE,
    VERSION_FILE_RE,
    VERSION_RE,
    check_alias,
    check_artifact_name,
    parse_ref,
)
from .odb.layout import MANIFEST_MAX, RECORD_MAX
from .timefmt import now

__all__ = ["Refs", "RECORD_MAX", "MANIFEST_MAX", "VERSION_MAX", "version_or_refuse"]

#: the largest version number the format lists (``v`` and at most nine digits)
VERSION_MAX = 999_999_999


def version_or_refuse(name: str, n: int) -> str:
    """``vN``, or ``ValueError`` when ``N`` is past what the store lists as a version."""
    if n > VERSION_MAX:
        raise ValueError(
            f"cannot commit {name}: its next version would be v{n}, past v{VERSION_MAX}, the "
            "last version number the store format lists; commit under another artifact name"
        )
    return f"v{n}"


class Refs:
    """The names, versions and aliases of the store at ``url``."""

    def __init__(
        self,
        backend: Backend,
        url: str,
        missing_store: Callable[[], Exception | None] = lambda: None,
    ):
        self.backend = backend
        self.url = url
        #: the error for "no store here" (``None`` when there is one): a read of a name
        #: says that rather than "no such artifact"
        self.missing_store = missing_store
        self._manifests: dict[tuple[str, str], Manifest] = {}

    # -- listing ----------------------------------------------------------------------------
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

    def _numbers(self, name: str) -> tuple[list[int], int]:
        """The live version numbers of ``name`` (sorted) and the next number a commit may
        take: past every number ever used, deleted ones included (one listing)."""
        check_artifact_name(name)
        used, dead = set(), set()
        for f in self.backend.listdir(f"artifacts/{name}/versions"):
            if m := VERSION_FILE_RE.match(f):
                used.add(int(m.group(1)))
            elif m := TOMBSTONE_RE.match(f):
                dead.add(int(m.group(1)))
        return sorted(used - dead), max(used | dead, default=-1) + 1

    def versions(self, name: str) -> list[str]:
        """Versions of artifact ``name``, oldest first (``[]`` when there are none)."""
        return [f"v{n}" for n in self._numbers(name)[0]]

    def head(self, name: str) -> tuple[str | None, int]:
        """``(latest version or None, the number the next commit tries)``: a deleted
        version's number is never taken again."""
        live, nxt = self._numbers(name)
        return (f"v{live[-1]}" if live else None), nxt

    def latest(self, name: str) -> str | None:
        """The newest version of ``name`` (``None`` when there is none)."""
        versions = self.versions(name)
        return versions[-1] if versions else None

    def aliases(self, name: str) -> dict[str, str]:
        """Alias -> version for artifact ``name``, ``latest`` included."""
        latest = self.latest(name)
        if latest is None:
            error = self.missing_store()
            if error is not None:
                raise error
            raise ArtifactNotFoundError(f"no artifact named {name!r} in {self.url}")
        return dict(sorted({"latest": latest, **self.stored_aliases(name)}.items()))

    def stored_aliases(self, name: str) -> dict[str, str]:
        """Alias -> version of the aliases stored for ``name`` (``latest`` is derived, so
        never among them; ``{}`` when there are none)."""
        out = {}
        for f in self.backend.listdir(f"artifacts/{name}/aliases"):
            if not f.endswith(".json") or f == "latest.json":  # latest is derived, never stored
                continue
            try:
                out[f[:-5]] = self.read_alias(name, check_alias(f[:-5]))
            except (ValueError, FileNotFoundError):
                continue
        return out

    def read_alias(self, name: str, alias: str) -> str:
        """The version alias ``name:alias`` names (``FileNotFoundError`` when none)."""
        data = self.backend.read(f"artifacts/{name}/aliases/{alias}.json", RECORD_MAX)
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise schemas.SchemaError("alias", "$", f"not JSON ({exc})") from None
        schemas.validate(obj, "alias")
        return obj["version"]

    # -- resolving --------------------------------------------------------------------------
    def resolve(self, ref: str) -> tuple[str, str]:
        """``"clips:best"`` -> ``("clips", "v3")``; unknown: :class:`ArtifactNotFoundError`."""
        name, label = parse_ref(ref)
        if VERSION_RE.match(label):
            if label not in self.versions(name):  # (a deleted one is listed as such)
                raise ArtifactNotFoundError(self.not_found(name, ref))
            return name, label
        if label == "latest":
            latest = self.latest(name)
            if latest is None:
                raise ArtifactNotFoundError(self.not_found(name, ref))
            return name, latest
        try:
            return name, self.read_alias(name, label)
        except FileNotFoundError:
            raise ArtifactNotFoundError(self.not_found(name, ref)) from None

    def not_found(self, name: str, ref: str) -> str:
        """The message for an unknown ``ref``: what the store has instead (no store
        there: that error is raised)."""
        error = self.missing_store()
        if error is not None:
            raise error
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

    def manifest(self, name: str, version: str) -> Manifest:
        """The parsed, checked manifest of ``name:version`` (cached: it never changes)."""
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

    # -- writing ----------------------------------------------------------------------------
    def create_version(
        self,
        obj: dict[str, Any],
        after: str | None,
        checked: bytes | None = None,
        number: int | None = None,
    ) -> Manifest:
        """Create ``obj`` (a manifest whose ``"version"`` is filled here) as the version
        after ``after`` (or as number ``number``), if absent; on a conflict the next free
        number is tried.  ``checked``: ``obj``'s bytes as already checked, for its first
        number.  A deleted version's file stays (a tombstone), so its number is never
        created again.  The file is sealed (:func:`artifacts.manifest.seal`); ``obj`` gets
        its seal."""
        name = obj["name"]
        obj.pop(SEAL_KEY, None)  # (a copy of another version brings that one's)
        n = number if number is not None else int(after[1:]) + 1 if after else 0
        first = obj["version"]
        while True:
            version = version_or_refuse(name, n)
            data = checked if checked is not None and version == first else None
            obj["version"] = version
            data, value = seal(data or canonical_json(obj))
            try:
                self.backend.create(f"artifacts/{name}/versions/v{n}.json", data)
                break
            except FileExistsError:
                n = max(n + 1, self._numbers(name)[1])
        obj[SEAL_KEY] = value
        manifest = Manifest(obj)  # what was written: every part of obj is its own
        self._manifests[(name, obj["version"])] = manifest
        return manifest

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
            "updated_at": now(),
        }
        schemas.validate(obj, "alias")
        self.backend.write(f"artifacts/{name}/aliases/{alias}.json", canonical_json(obj))

    def move_aliases(self, name: str, version: str, aliases: Sequence[str]) -> None:
        """Point each of ``aliases`` at ``name:version``."""
        for alias in aliases:
            self.set_alias(name, alias, version)

    def remove_alias(self, name: str, alias: str) -> None:
        """Remove alias ``name:alias`` (``latest`` cannot be removed: it is derived)."""
        check_alias(alias)
        if alias == "latest":
            raise ValueError("'latest' always names the newest version and cannot be removed")
        path = f"artifacts/{name}/aliases/{alias}.json"
        if not self.backend.exists(path):
            raise ArtifactNotFoundError(f"no alias {name}:{alias} in {self.url}")
        self.backend.delete(path)

    def live_objects(self) -> tuple[set[str], set[str]]:
        """``(blob digests, pack ids)`` that some (not deleted) version refers to."""
        blobs: set[str] = set()
        packs: set[str] = set()
        for name in self.names():
            for version in self.versions(name):
                try:
                    manifest = self.manifest(name, version)
                except ArtifactNotFoundError:  # removed since it was listed: refers to nothing
                    continue
                for e in manifest.entries.values():
                    kind = entry_kind(e)
                    if kind == "packed":
                        packs.add(e["pack"])
                    elif kind == "blob":
                        blobs.add(e["digest"])
                    if "chunks" in e and kind in ("packed", "blob"):
                        blobs.add(e["chunks"]["table"])  # its chunk table (format 2)
        return blobs, packs

    # -- deleting ---------------------------------------------------------------------------
    def delete(
        self, ref: str, dry_run: bool = False, check: Callable[[], None] = lambda: None
    ) -> list[str]:
        """Delete ``"name:vN"`` (or the version an alias names), or with a bare ``"name"``
        every version of the artifact, and the aliases that named them; returns the
        qualified names deleted (``dry_run``: that would be).  A deleted number is never
        reused; refused with :class:`ArtifactError` (naming the referrers) while another
        version of the store refers to their entries; their runs' lineage records go, their
        bytes at the next ``gc``.  ``check`` runs before anything is written."""
        name, versions, aliases = self.plan_delete(ref)
        if not dry_run:
            check()
            self.delete_versions(name, versions, aliases)
            lineage.forget(self.backend, name, versions)
        return [f"{name}:{v}" for v in versions]

    def plan_delete(self, ref: str) -> tuple[str, list[str], list[str]]:
        """``(name, versions, aliases)`` that deleting ``ref`` removes: ``"name:vN"`` or an
        alias one version, a bare ``"name"`` every version.  Refused with
        :class:`ArtifactError` while a version not deleted refers to their entries."""
        if not isinstance(ref, str):
            raise TypeError(
                f"Invalid artifact reference {ref!r}: expected 'name' or 'name:version'"
            )
        name, label = parse_ref(ref)
        if ":" in ref:
            doomed = [self.resolve(ref)[1]]
        else:
            doomed = self.versions(name)
            if not doomed:
                raise ArtifactNotFoundError(self.not_found(name, ref))
        aliases = sorted(a for a, v in self.aliases(name).items() if v in doomed and a != "latest")
        referrers = self.referrers(name, set(doomed))
        if referrers:
            raise ArtifactError(
                f"cannot delete {', '.join(f'{name}:{v}' for v in doomed)} from {self.url}: "
                f"{', '.join(referrers)} refer to its entries; delete those first"
            )
        return name, doomed, aliases

    def referrers(self, name: str, doomed: set[str]) -> list[str]:
        """The versions (other than ``name``'s ``doomed`` ones) whose entries refer to an
        entry of ``name:<one of doomed>`` of this store."""
        out = []
        for other in self.names():
            for version in self.versions(other):
                if other == name and version in doomed:
                    continue
                for e in self.manifest(other, version).entries.values():
                    ref = e.get("ref")
                    if ref is None or ref.get("store", self.url) != self.url:
                        continue
                    try:
                        target = parse_ref(ref["artifact"])
                    except (TypeError, ValueError):
                        continue
                    if target[0] == name and target[1] in doomed:
                        out.append(f"{other}:{version}")
                        break
        return out

    def delete_versions(self, name: str, versions: Sequence[str], aliases: Sequence[str]) -> None:
        """Remove ``aliases``, then mark each version deleted (``vN.deleted``: listings skip
        it from then on) and overwrite its manifest with the tombstone: the file stays, so
        create-if-absent never makes ``vN`` again."""
        for alias in aliases:
            self.backend.delete(f"artifacts/{name}/aliases/{alias}.json")
        for version in versions:
            stone = canonical_json(
                {"_type": "tombstone", "artifact": name, "version": version, "deleted_at": now()}
            )
            self.backend.write(f"artifacts/{name}/versions/{version}.deleted", stone)
            self.backend.write(f"artifacts/{name}/versions/{version}.json", stone)
            self._manifests.pop((name, version), None)
