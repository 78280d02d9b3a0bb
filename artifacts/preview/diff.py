"""What changed between two committed versions: shared by ``artifacts diff`` and the page."""

from __future__ import annotations

import json
from typing import Any

from media import Audio, AudioSegment, Table, Value

from .items import VALUE_JSON

__all__ = ["compare", "counts", "describe_changes", "fmt", "table_cell_changes"]

# (field shown, attribute): the file's format is its extension
_AUDIO_FIELDS = (
    ("sample_rate", "sample_rate"),
    ("duration", "duration"),
    ("channels", "channels"),
    ("frames", "frames"),
    ("dtype", "dtype"),
    ("caption", "caption"),
    ("format", "extension"),
)
_WHOLE = 1 << 22  # samples up to which two clips are compared in one read each
_BLOCK = 1 << 20  # frames compared at a time past that: memory stays bounded for long clips


def _entry_key(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e.get("digest"), e.get("uri"), e.get("etag"), e["size"])


def fmt(v: Any) -> str:
    """A value as it is shown in a change: numbers plain, anything else as JSON."""
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, (int, float)) else f"{v:g}"


def describe_changes(changes: dict[str, Any], arrow: str = "→") -> str:
    """``"field old → new; ..."`` for one value's changes.

    ``samples`` reads "samples changed"; a file digest (``sha256``) that changed while the
    samples did not reads "file changed, samples equal".
    """
    parts = []
    for field, (old, new) in changes.items():
        if field == "samples":
            parts.append("samples changed")
        elif field == "sha256":
            if "samples" not in changes:
                parts.append("file changed, samples equal")
        else:
            parts.append(f"{field} {fmt(old)} {arrow} {fmt(new)}")
    return "; ".join(parts)


def counts(diff: dict[str, Any]) -> str:
    """The summary line of a comparison, as ``artifacts diff`` prints it."""
    return (
        f"{len(diff['added'])} added, {len(diff['removed'])} removed, "
        f"{len(diff['changed'])} changed"
    )


def _type_name(v: Value) -> str:
    return getattr(v, "tag", None) or type(v).artifact_type or type(v).__name__


def _range(clip: Audio) -> tuple[int, int] | None:
    return (clip.start, clip.stop) if isinstance(clip, AudioSegment) else None


def _same_cell(a: Any, b: Any) -> bool:
    if isinstance(a, Audio) and isinstance(b, Audio):
        # (a segment is its recording's file: the same file in another range is other audio)
        return (a.sha256, _range(a), a.caption) == (b.sha256, _range(b), b.caption)
    if type(a) is not type(b):
        return False
    return bool(a == b)


def table_cell_changes(a: Table, b: Table) -> set[tuple[int, str]]:
    """``(row, column)`` of the cells of ``b`` that differ from ``a`` (rows matched by index;
    rows and columns ``a`` lacks count as changed)."""
    out = set()
    for r, row in enumerate(b.data):
        old = dict(zip(a.columns, a.data[r])) if r < len(a.data) else {}
        for col, cell in zip(b.columns, row):
            if col not in old or not _same_cell(old[col], cell):
                out.add((r, col))
    return out


def _value_changes(a: Value, b: Value) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    if type(a) is not type(b):
        return {"type": [_type_name(a), _type_name(b)]}
    if isinstance(a, Audio):
        assert isinstance(b, Audio)
        for field, attr in _AUDIO_FIELDS:
            va, vb = getattr(a, attr), getattr(b, attr)
            if va != vb:
                changes[field] = [va, vb]
        if isinstance(a, AudioSegment) and isinstance(b, AudioSegment):  # same file, other range
            for field in ("start", "stop"):
                if getattr(a, field) != getattr(b, field):
                    changes[field] = [getattr(a, field), getattr(b, field)]
        if a.sha256 != b.sha256:
            changes["sha256"] = [a.sha256, b.sha256]
        if not _same_samples(a, b):
            changes["samples"] = [None, "changed"]
        return changes
    if isinstance(a, Table):
        assert isinstance(b, Table)
        if a.columns != b.columns:
            changes["columns"] = [a.columns, b.columns]
        if len(a.data) != len(b.data):
            changes["rows"] = [len(a.data), len(b.data)]
        return changes
    return changes


def _same_samples(a: Audio, b: Audio) -> bool:
    """Whether two clips hold the same samples (the arrays ``numpy()`` returns).

    The same file (and range) holds the same samples; other frames, channels or dtype are
    other samples; otherwise both are decoded, a block at a time, and compared: the same
    samples re-encoded (WAV to FLAC) are equal.
    """
    if a.sha256 == b.sha256 and _range(a) == _range(b):
        return True
    if (a.frames, a.channels, a.ndim, a.dtype) != (b.frames, b.channels, b.ndim, b.dtype):
        return False
    # (one read for most clips: a block at a time would seek a compressed file again each time)
    block = a.frames if a.frames * a.channels <= _WHOLE else _BLOCK
    for start in range(0, a.frames, max(block, 1)):
        stop = min(start + block, a.frames)
        if a.numpy(start, stop).tobytes() != b.numpy(start, stop).tobytes():
            return False
    return True


def compare(a: Any, b: Any) -> dict[str, Any]:
    """What changed from version ``a`` to version ``b``.

    ``{"a", "b", "added", "removed", "changed"}`` (entry paths), ``"values"`` (value name
    -> ``{"status": "added" | "removed" | "changed", "changes": {field: [old, new]}}``; for
    audio the fields are sample_rate, duration, channels, frames, dtype, caption, format (the
    file's extension), start and stop (segments), sha256 (the file) and samples
    (``[null, "changed"]`` when the decoded samples differ: a clip re-encoded with the same
    samples has a new sha256 but no samples change)) and ``"artifact"`` (type, description
    and metadata keys that changed, as ``[old, new]``).
    """
    ea, eb = a.manifest.entries, b.manifest.entries
    out: dict[str, Any] = {
        "a": a.qualified_name,
        "b": b.qualified_name,
        "added": sorted(set(eb) - set(ea)),
        "removed": sorted(set(ea) - set(eb)),
        "changed": sorted(p for p in set(ea) & set(eb) if _entry_key(ea[p]) != _entry_key(eb[p])),
        "values": {},
        "artifact": {},
    }
    names_a = {m["base"]: p for p in ea if (m := VALUE_JSON.match(p))}
    names_b = {m["base"]: p for p in eb if (m := VALUE_JSON.match(p))}
    values: dict[str, Any] = {}
    for name in sorted(set(names_a) | set(names_b)):
        pa, pb = names_a.get(name), names_b.get(name)
        if pa is None:
            values[name] = {"status": "added", "changes": {}}
        elif pb is None:
            values[name] = {"status": "removed", "changes": {}}
        elif pa != pb or _entry_key(ea[pa]) != _entry_key(eb[pb]):
            try:
                changes = _value_changes(a.get(pa), b.get(pb))
            except Exception as exc:  # unreadable on one side: say so, keep comparing
                changes = {"error": [None, str(exc)]}
            values[name] = {"status": "changed", "changes": _jsonable(changes)}
    out["values"] = values
    for field in ("type", "description"):
        if getattr(a, field) != getattr(b, field):
            out["artifact"][field] = [getattr(a, field), getattr(b, field)]
    for key in sorted(set(a.metadata) | set(b.metadata)):
        va, vb = a.metadata.get(key), b.metadata.get(key)
        if va != vb:
            out["artifact"][f"metadata.{key}"] = [va, vb]
    return out


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: getattr(o, "item", lambda: str(o))()))
