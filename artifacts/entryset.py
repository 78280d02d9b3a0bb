"""What a draft and a committed version share: a name, a type, metadata and a set of
entries (path -> the entry's manifest JSON), with lookups by path or value name."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .dataset import Dataset
from .errors import EntryNotFoundError, ReadOnlyError
from .manifest import ManifestEntry, entries_digest
from .names import VALUE_JSON_RE

__all__ = ["EntrySet", "check_metadata", "parents"]


class EntrySet:
    """The entries of an artifact, draft or committed (see ``Artifact`` and ``Version``)."""

    name: str
    type: str
    description: str | None
    metadata: dict[str, Any]
    version: str | None
    _entries: dict[str, dict[str, Any]]
    #: value name -> its JSON entry; a tuple of the entries when several share the name
    _index: dict[str, str | tuple[str, ...]] | None

    @property
    def is_draft(self) -> bool:
        """``True`` for a draft, ``False`` once committed."""
        raise NotImplementedError

    @property
    def qualified_name(self) -> str:
        """``"name:vN"`` (``"name:draft"`` before commit)."""
        return f"{self.name}:{self.version or 'draft'}"

    @property
    def digest(self) -> str:
        """sha256 over the entries (equal content, equal digest)."""
        return entries_digest(self._entries)

    @property
    def entries(self) -> dict[str, ManifestEntry]:
        """Entry path -> :class:`ManifestEntry`, sorted by path."""
        return {p: ManifestEntry.from_json(p, self._entries[p]) for p in sorted(self._entries)}

    def __repr__(self) -> str:
        return f"<Artifact {self.qualified_name} type={self.type!r} entries={len(self._entries)}>"

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def dataset(self, name: str) -> Dataset:
        """The ``Table`` value ``name`` of a committed version as a
        :class:`artifacts.dataset.Dataset` for training (a draft: ``ValueError``)."""
        return Dataset(self, name)

    def entry_json(self, path: str) -> dict[str, Any] | None:
        """The manifest JSON of entry ``path`` (``None`` when there is none); do not change
        it."""
        return self._entries.get(path)

    def _resolve_name(self, name: str) -> str | None:
        """The entry path of ``name``: an entry path, or a value name without its suffix.

        A value name that several values share (``clip.audio-file.json`` and
        ``clip.table.json``) raises ``ValueError`` listing their full names.
        """
        if name in self._entries:
            return name
        if self._index is None:
            index: dict[str, str | tuple[str, ...]] = {}
            match = VALUE_JSON_RE.match
            # (only names ending so can match: the media files are not tried)
            for p in self._entries:
                if p.endswith(".json"):
                    m = match(p)
                    if m:
                        base = m["base"]
                        seen = index.setdefault(base, p)
                        if seen is not p:  # a second value of that name: ambiguous
                            index[base] = (*((seen,) if type(seen) is str else seen), p)
            self._index = index
        path = self._index.get(name)
        if type(path) is tuple:
            full = ", ".join(repr(p) for p in sorted(path))
            raise ValueError(
                f"{name!r} names {len(path)} values in {self.qualified_name}: {full}; "
                "give the full name of the one you mean"
            )
        return path  # type: ignore[return-value]

    def get_entry(self, name: str) -> ManifestEntry:
        """The manifest entry of ``name`` (a path, or a value name without suffix)."""
        path = self._resolve_name(name)
        if path is None:
            raise EntryNotFoundError(f"no entry named {name!r} in {self.qualified_name}")
        return ManifestEntry.from_json(path, self._entries[path])

    def value_names(self) -> list[str]:
        """Names of the values (entries ``<name>.<tag>.json``), each one that ``get`` takes:
        a name that several values share is given as their full entry names."""
        self._resolve_name("")
        assert self._index is not None
        names: list[str] = []
        for base, path in self._index.items():
            if type(path) is tuple:
                names.extend(path)
            else:
                names.append(base)
        return sorted(names)

    def _read_only(self) -> ReadOnlyError:
        return ReadOnlyError(
            f"{self.qualified_name} is committed and read-only; call new_draft() to make "
            "a draft of the next version"
        )

    def _needs_commit(self, what: str) -> ValueError:
        return ValueError(f"{what} needs a committed artifact; commit the draft first")


def check_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """A JSON copy of an artifact's metadata (``TypeError`` when it is not JSON)."""
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


def parents(path: str) -> list[str]:
    """The folders above an entry path: ``a/b/c`` -> ``["a", "a/b"]``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]
