"""Helpers for the reliability tests: snapshots of a store's bytes, read around the store.

A snapshot maps every file under a store's root to the sha256 of its bytes, plus every
folder (so that a stray ``makedirs`` counts as a change).  It is read directly from the local
folder or from the fsspec filesystem, never through :class:`artifacts.Store`, so that the
store is checked by an independent path.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any

import artifacts
from artifacts import Artifact
from artifacts.backends import LocalBackend
from artifacts.manifest import SEAL_KEY, canonical_json, entries_digest, seal

__all__ = [
    "draft_with",
    "snapshot",
    "snapshot_dir",
    "open_backend_store",
    "manifest_path",
    "read_manifest",
    "write_manifest",
    "blob_file",
    "resealed",
]


def draft_with(name: str, files: dict[str, bytes]) -> Artifact:
    """A draft dataset ``name`` whose entries are ``files`` (path -> bytes)."""
    draft = Artifact(name, "dataset")
    for path, data in files.items():
        with draft.new_file(path, mode="wb") as f:
            f.write(data)
    return draft


def snapshot_dir(root: str | os.PathLike[str]) -> dict[str, str]:
    """``relative path -> sha256`` of every file (and ``"<dir>"`` for every folder)."""
    root = os.fspath(root)
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = "<dir>"
        for f in filenames:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, root)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def snapshot(store: artifacts.Store) -> dict[str, str]:
    """Every file of the store (local folder or fsspec filesystem) and its sha256."""
    backend = store.backend
    if isinstance(backend, LocalBackend):
        return snapshot_dir(backend.root)
    fs = backend.fs
    fs.invalidate_cache()
    out = {}
    for path in fs.find(backend.root, withdirs=True):
        if fs.isdir(path):
            out[path + "/"] = "<dir>"
        else:
            out[path] = hashlib.sha256(fs.cat_file(path)).hexdigest()
    return out


def open_backend_store(backend: str, tmp_path: Any) -> artifacts.Store:
    """A new store on ``"local"`` (a folder under ``tmp_path``) or ``"memory"``."""
    if backend == "local":
        return artifacts.open_store(str(tmp_path / f"store-{uuid.uuid4().hex[:8]}"))
    return artifacts.open_store(f"memory://store-{uuid.uuid4().hex}")


def manifest_path(store: artifacts.Store, name: str, version: str) -> str:
    """Local file of a version's manifest."""
    return os.path.join(store.backend.root, "artifacts", name, "versions", f"{version}.json")


def read_manifest(store: artifacts.Store, name: str, version: str) -> dict[str, Any]:
    """A version's manifest JSON, read from the folder."""
    with open(manifest_path(store, name, version), "rb") as f:
        return json.loads(f.read())


def write_manifest(
    store: artifacts.Store,
    name: str,
    version: str,
    obj: Any,
    fix_digest: bool = True,
) -> None:
    """Overwrite a version's manifest file; ``fix_digest`` recomputes its entries digest
    and its seal, as a careful forger would (else the seal, when ``obj`` has one, is left
    as it was: the file no longer matches it)."""
    if fix_digest and isinstance(obj, dict) and isinstance(obj.get("entries"), dict):
        try:
            obj["digest"] = entries_digest(obj["entries"])
        except (KeyError, TypeError, AttributeError):
            pass  # entries too broken to digest: leave the digest as it is
    if fix_digest and isinstance(obj, dict):
        data = resealed(obj)
    else:
        data = canonical_json(obj) if not isinstance(obj, bytes) else obj
    with open(manifest_path(store, name, version), "wb") as f:
        f.write(data)


def resealed(obj: dict[str, Any]) -> bytes:
    """A manifest's bytes as a careful forger stores them: canonical JSON, sealed again
    (:func:`artifacts.manifest.seal`) when ``obj`` has a seal, so that what a test forged is
    refused by the check it is about, not by the seal."""
    if SEAL_KEY not in obj:
        return canonical_json(obj)
    return seal(canonical_json({k: v for k, v in obj.items() if k != SEAL_KEY}))[0]


def blob_file(store: artifacts.Store, digest: str) -> str:
    """Local file of the blob with this sha256."""
    return os.path.join(store.backend.root, "blobs", "sha256", digest[:2], digest[2:])


def draft_adders(draft: Artifact, payload: Any, tmp_path: Any) -> dict[str, Any]:
    """``method name -> f(entry name)`` for each way a draft takes a named entry (a file
    ``payload``, text, a clip, a folder, a reference), to try one name every way."""
    import numpy as np

    from media import Audio

    folder = tmp_path / "folder"
    folder.mkdir(exist_ok=True)
    (folder / "f.txt").write_bytes(b"f")
    clip = Audio(np.zeros(4, np.float32), 16000)

    def new_file(name: str) -> None:
        with draft.new_file(name) as f:
            f.write("text")

    return {
        "add_file": lambda name: draft.add_file(payload, name),
        "new_file": new_file,
        "add": lambda name: draft.add(clip, name),
        "add_dir": lambda name: draft.add_dir(folder, name),
        "add_reference": lambda name: draft.add_reference(f"file://{payload}", name),
    }
