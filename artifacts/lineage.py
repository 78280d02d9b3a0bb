"""Lineage records: which run logged or used a version
(``lineage/<name>/<version>/<run>.<action>.json``)."""

from __future__ import annotations

from typing import Any

import schemas

from .backends.base import Backend
from .manifest import canonical_json
from .names import check_artifact_name
from .timefmt import now

__all__ = ["record", "runs_of", "forget"]


def record(
    backend: Backend, run_id: str, action: str, name: str, version: str, digest: str
) -> dict[str, Any]:
    """Write that run ``run_id`` ``"logged"`` or ``"used"`` ``name:version``."""
    check_artifact_name(run_id)
    obj = {
        "_type": "lineage",
        "run": run_id,
        "action": action,
        "artifact": f"{name}:{version}",
        "digest": digest,
        "at": now(),
    }
    schemas.validate(obj, "lineage")
    backend.write(f"lineage/{name}/{version}/{run_id}.{action}.json", canonical_json(obj))
    return obj


def runs_of(backend: Backend, name: str, version: str) -> dict[str, list[str]]:
    """``{"logged_by": [...], "used_by": [...]}`` for ``name:version``."""
    out: dict[str, list[str]] = {"logged_by": [], "used_by": []}
    for f in backend.listdir(f"lineage/{name}/{version}"):
        run, _, action = f[: -len(".json")].rpartition(".")
        if action in ("logged", "used"):
            out[f"{action}_by"].append(run)
    return out


def forget(backend: Backend, name: str, versions: list[str]) -> None:
    """Delete the records of ``name``'s ``versions`` (they were deleted)."""
    for version in versions:
        for rel, _ in list(backend.walk_files(f"lineage/{name}/{version}")):
            backend.delete(rel)  # (relative to the store's root)
