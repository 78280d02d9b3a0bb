"""artifacts: versioned, content-addressed artifacts of media values on any fsspec store.

``open_store(url)`` opens a store; ``Artifact(name, type)`` is a draft to fill and
``store.commit(draft)`` makes it a version; ``Run`` logs values and artifacts from a local
run folder.  See docs/store-format.md for the layout and the commit protocol.
"""

from media.errors import IntegrityError

from .draft import Artifact
from .errors import (
    AliasNotMovedError,
    ArtifactError,
    ArtifactNotFoundError,
    EntryNotFoundError,
    ReadOnlyError,
    StoreNotFoundError,
    UnsafeBackendError,
)
from .manifest import Manifest, ManifestEntry
from .run import HistoryWarning, Run, read_history
from .store import STORE_ENV, GcReport, Store, default_store_path, open_store
from .version import Version

__all__ = [
    "open_store",
    "default_store_path",
    "STORE_ENV",
    "Store",
    "Artifact",
    "Version",
    "Manifest",
    "ManifestEntry",
    "Run",
    "read_history",
    "GcReport",
    "ArtifactError",
    "AliasNotMovedError",
    "ArtifactNotFoundError",
    "EntryNotFoundError",
    "IntegrityError",
    "ReadOnlyError",
    "StoreNotFoundError",
    "UnsafeBackendError",
    "HistoryWarning",
]
