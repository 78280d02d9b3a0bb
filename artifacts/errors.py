"""The error family of :mod:`artifacts` (all derive from :class:`media.MediaError`)."""

from __future__ import annotations

from media.errors import IntegrityError, MediaError

__all__ = [
    "ArtifactError",
    "ArtifactNotFoundError",
    "EntryNotFoundError",
    "IntegrityError",
    "UnsafeBackendError",
    "ReadOnlyError",
    "StoreNotFoundError",
    "AliasNotMovedError",
]


class ArtifactError(MediaError):
    """Base class of the store's errors."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    """No artifact, version or alias of that name in the store."""


class StoreNotFoundError(ArtifactNotFoundError):
    """No store at that location (no ``store.json``): a read creates none; a commit does."""


class EntryNotFoundError(ArtifactError, LookupError):
    """No entry of that name in the artifact."""


class ReadOnlyError(ArtifactError, ValueError):
    """A committed artifact cannot change: make a new draft with ``new_draft()``."""


class UnsafeBackendError(ArtifactError, RuntimeError):
    """The backend does not honour create-if-absent, so concurrent commits could lose data."""


class AliasNotMovedError(ArtifactError):
    """A commit made (or found) its version, but some of the aliases it was asked to move
    did not move: ``version`` is the committed artifact, ``aliases`` the ones not moved;
    the cause is chained (``__cause__``)."""

    def __init__(self, message: str, version: object, aliases: list[str]):
        super().__init__(message)
        self.version = version
        self.aliases = aliases
