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

from .backends.base import Backend
from .errors import ArtifactNotFoundError
from .manifest import Manifest, canonical_json
from .names import VERSION_FILE_RE, VERSION_RE, check_alias, check_artifact_name, parse_ref
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

    def versions(self, name: str) -> list[str]:
        """Versions of artifact ``name``, oldest first (``[]`` when there are none)."""
        check_artifact_name(name)
        nums = [
            int(m.group(1))
            for f in self.backend.listdir(f"artifacts/{name}/versions")
            if (m := VERSION_FILE_RE.match(f))
        ]
        return [f"v{n}" for n in sorted(nums)]

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
        out = {"latest": latest}
        for f in self.backend.listdir(f"artifacts/{name}/aliases"):
            if not f.endswith(".json") or f == "latest.json":  # latest is derived, never stored
                continue
            try:
                out[f[:-5]] = self.read_alias(name, check_alias(f[:-5]))
            except (ValueError, FileNotFoundError):
                continue
        return dict(sorted(out.items()))

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
            if not self.backend.exists(f"artifacts/{name}/versions/{label}.json"):
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
        self, obj: dict[str, Any], after: str | None, checked: bytes | None = None
    ) -> Manifest:
        """Create ``obj`` (a manifest whose ``"version"`` is filled here) as the version
        after ``after``, if absent; on a conflict the next free number is tried.
        ``checked``: ``obj``'s bytes as already checked, for its first number."""
        name = obj["name"]
        n = int(after[1:]) + 1 if after else 0
        first = obj["version"]
        while True:
            version = version_or_refuse(name, n)
            data = checked if checked is not None and version == first else None
            obj["version"] = version
            data = data or canonical_json(obj)
            try:
                self.backend.create(f"artifacts/{name}/versions/v{n}.json", data)
                break
            except FileExistsError:
                newest = self.latest(name)
                n = max(n + 1, int(newest[1:]) + 1 if newest else 0)
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
