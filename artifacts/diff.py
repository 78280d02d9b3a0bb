"""Words for the differences between two versions (shared by the preview and the CLI)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["fmt", "describe_changes"]


def fmt(v: Any) -> str:
    """A value of a diff, short: numbers as ``%g``, the rest as JSON."""
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, (int, float)) else f"{v:g}"


def describe_changes(changes: dict[str, Any]) -> str:
    """``{"field": [old, new]}`` of a value as one line (``samples changed`` for audio)."""
    parts = []
    for field, (old, new) in changes.items():
        if field == "sha256":
            parts.append("samples changed")
        else:
            parts.append(f"{field} {fmt(old)} → {fmt(new)}")
    return "; ".join(parts)
