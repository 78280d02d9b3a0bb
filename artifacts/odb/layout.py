"""Where the object database keeps bytes, relative to the store root."""

from __future__ import annotations

import hashlib

__all__ = ["blob_path", "blob_digest", "pack_path", "pack_id", "RECORD_MAX", "MANIFEST_MAX"]

#: the largest alias, lineage record or store marker read (they are a few hundred bytes)
RECORD_MAX = 1 << 20
#: the largest manifest or pack index written or read (a read never takes more memory)
MANIFEST_MAX = 256 << 20

BLOBS = "blobs/sha256"
PACKS = "packs"


def blob_path(digest: str) -> str:
    """Where the blob with this sha256 lives, relative to the store root."""
    return f"blobs/sha256/{digest[:2]}/{digest[2:]}"


def blob_digest(rel: str) -> str:
    """The digest a blob path stands for (``""`` for a path that is no blob's)."""
    parts = rel.split("/")
    return "".join(parts[2:4]) if len(parts) == 4 else ""


def pack_path(pack: str) -> str:
    """Where the pack with this id lives, relative to the store root (its index: ``+ .idx``)."""
    return f"packs/{pack}"


def pack_id(members: list[tuple[str, int]]) -> str:
    """The id of a pack: sha256 over its members' ``(digest, size)`` in order.

    A pack's bytes are its members' bytes end to end, so equal ids mean equal bytes.
    """
    lines = "".join(f"{digest} {size}\n" for digest, size in members)
    return hashlib.sha256(lines.encode()).hexdigest()
