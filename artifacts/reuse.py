"""A commit's check that the entries it takes over from versions of the same store (values
loaded from a version, a ``new_draft()``'s entries) still have their bytes there.

Such an entry names a blob or pack member and writes no bytes.  While the version it came
from exists, that version's manifest keeps those bytes alive (``gc`` marks them).  Once that
version is deleted, ``gc`` may remove them, and a manifest naming them would be unreadable.
The commit runs this check while it holds its lease (see :meth:`artifacts.store.Store.commit`):
a ``gc`` that started before the lease has finished (the commit waited for it), and one that
starts later deletes nothing until the manifest exists (which then keeps the bytes alive),
provided the commit finishes within the ``gc``'s grace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ArtifactError, ArtifactNotFoundError
from .names import parse_ref

__all__ = ["check_reused"]


def check_reused(
    store: Any, name: str, entries: Mapping[str, Any], reused: Mapping[str | None, list[str]]
) -> dict[str, bytes]:
    """Check that the bytes of ``reused`` entries (origin version -> paths) are in ``store``.

    A version that still exists and holds the same blob or pack keeps it alive: one read of
    its manifest per version.  The entries of a version deleted since are looked up (blobs
    in one listing where the backend lists cheaply, packs in one listing).  Returns
    path -> bytes for entries whose bytes are gone but held, checked, in the store's read
    cache (the commit writes them again); any other entry whose bytes are gone raises
    :class:`ArtifactError` before anything is written.
    """
    listed: dict[str, list[str]] = {}
    doubtful: list[tuple[str | None, str, bool]] = []  # (origin, path, origin exists)
    for origin, paths in reused.items():
        m = _manifest(store, origin, listed)
        for path in paths:
            e = entries[path]
            if m is None or not _holds(store, m, e, e["ref"]["path"] if "ref" in e else path):
                doubtful.append((origin, path, m is not None))
    if not doubtful:
        return {}
    blobs, packs = set(), set()
    for _, path, _ in doubtful:
        blobs |= set(_blobs_of(store, entries[path]))
        if "pack" in entries[path]:
            packs.add(entries[path]["pack"])
    held = store.packs.loose(blobs) if blobs else set()
    held_packs = set(store.backend.listdir("packs")) if packs else set()
    out: dict[str, bytes] = {}
    gone = []
    for origin, path, exists in doubtful:
        e = entries[path]
        if set(_blobs_of(store, e)) <= held and e.get("pack", "") in held_packs | {""}:
            continue  # still there: the new manifest keeps it alive from now on
        cache = getattr(store, "cache", None)
        data = cache.get(e["digest"], e["size"]) if cache is not None else None
        if data is not None:
            out[path] = bytes(data)
        else:
            gone.append((origin, path, exists))
    if gone:
        raise ArtifactError(_message(store, name, gone))
    return out


def _manifest(store: Any, origin: str | None, listed: dict[str, list[str]]) -> Any:
    """The manifest of version ``origin`` (``"name:vN"``) of ``store``, or ``None`` when it
    is not there (deleted)."""
    if origin is None:
        return None
    try:
        name, version = parse_ref(origin)
        if name not in listed:
            listed[name] = store.refs.versions(name)
        if version not in listed[name]:
            return None
        return store.refs.manifest(name, version)
    except (ArtifactNotFoundError, ValueError, TypeError):
        return None


def _holds(store: Any, m: Any, e: Mapping[str, Any], path: str) -> bool:
    """Whether manifest ``m`` names the same bytes as entry ``e`` at ``path`` (so that
    ``gc`` keeps them while ``m``'s version exists)."""
    s = m.entries.get(path)
    if s is None or store.objects.kind(s) != store.objects.kind(e):
        return False
    if s.get("digest") != e["digest"] or s.get("pack") != e.get("pack"):
        return False
    return "chunks" not in e or (s.get("chunks") or {}).get("table") == e["chunks"]["table"]


def _blobs_of(store: Any, e: Mapping[str, Any]) -> list[str]:
    """The blobs entry ``e`` needs: its own (unless packed) and its chunk table."""
    out = [] if store.objects.kind(e) == "packed" else [e["digest"]]
    if "chunks" in e:
        out.append(e["chunks"]["table"])
    return out


def _message(store: Any, name: str, gone: list[tuple[str | None, str, bool]]) -> str:
    """Why the commit is refused, naming the entries, where they came from, and what to do."""
    lines = []
    for origin, path, exists in gone[:10]:
        if origin is None:
            why = f"its bytes are not in {store.url}"
        elif exists:
            why = f"it came from {origin}, which no longer holds it, and its bytes are gone"
        else:
            why = f"it came from {origin}, deleted since, and gc has removed its bytes"
        lines.append(f"  {path}: {why}")
    more = f"\n  ... and {len(gone) - 10} more" if len(gone) > 10 else ""
    return (
        f"cannot commit {name} to {store.url}: {len(gone)} entr{'y' if len(gone) == 1 else 'ies'}"
        f" would name bytes the store no longer holds (nothing was written):\n"
        + "\n".join(lines)
        + more
        + "\nadd those files again from their originals (add(), add_file()) instead of the "
        "values loaded from the deleted version"
    )
