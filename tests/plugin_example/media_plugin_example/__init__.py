"""An example media type plugin: ``LabelTrack``, time-aligned labels for an audio clip.

The package is found by media-artifacts through its entry point in the group
``media.types`` (name ``label-track``, the type tag); nobody has to import it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from importlib import resources
from typing import Any, ClassVar

from media import Media

__all__ = ["LabelTrack"]

_SCHEMA = json.loads(
    resources.files(__name__).joinpath("label-track.schema.json").read_text(encoding="utf-8")
)


def _check_label(item: Any, i: int) -> tuple[float, float, str]:
    try:
        start, end, label = item
    except (TypeError, ValueError):
        raise TypeError(f"Invalid label {i} {item!r}: give a (start, end, label) triple") from None
    if not isinstance(label, str) or any(c in label for c in "\t\r\n"):
        raise ValueError(f"Invalid label {i} {label!r}: a str without tabs or line breaks")
    for what, t in (("start", start), ("end", end)):
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise TypeError(f"Invalid {what} {t!r} of label {i}: give seconds as a finite number")
    start, end = float(start), float(end)
    if not 0 <= start <= end:
        raise ValueError(f"Invalid label {i}: need 0 <= start <= end, got {start} and {end}")
    return start, end, label


class LabelTrack(Media):
    """Labels ``(start, end, label)`` in seconds, stored as a tab-separated text file.

    ``LabelTrack([(0.0, 1.5, "dog"), (1.5, 2.0, "cat")])``; ``.labels`` is the list of
    triples (read lazily from the file of a loaded track).  Times round-trip exactly: they
    are written with ``repr``.
    """

    artifact_type: ClassVar[str] = "label-track"
    json_schema: ClassVar[dict[str, Any]] = _SCHEMA
    _media_kind: ClassVar[str] = "labels"

    def __init__(self, labels: Iterable[Any]):
        super().__init__()
        if isinstance(labels, (str, bytes)):
            raise TypeError("Invalid labels: give a list of (start, end, label) triples")
        self._labels: list[tuple[float, float, str]] | None = [
            _check_label(item, i) for i, item in enumerate(labels)
        ]
        self._count = len(self._labels)
        self._extension = "txt"

    def _materialize(self) -> None:
        assert self._labels is not None
        text = "".join(f"{s!r}\t{e!r}\t{label}\n" for s, e, label in self._labels)
        self._set_bytes(text.encode("utf-8"), "txt")

    @property
    def labels(self) -> list[tuple[float, float, str]]:
        """The labels, ``(start, end, label)``, read from the file on first use."""
        if self._labels is None:
            with self.open() as f:
                text = f.read().decode("utf-8")
            rows = [line.split("\t") for line in text.splitlines()]
            self._labels = [(float(s), float(e), label) for s, e, label in rows]
        return list(self._labels)

    def __len__(self) -> int:
        return self._count

    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """``{"_type", "path", "sha256", "size", "count"}``; the file goes to the target."""
        obj = super().to_json(run_or_artifact)
        obj["count"] = self._count
        return obj

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> LabelTrack:
        """A track whose labels are read from ``source_artifact`` when first asked for."""
        self = cls.__new__(cls)
        Media.__init__(self)
        self._labels = None
        self._count = json_obj["count"]
        self._set_source_file(
            source_artifact, json_obj["path"], json_obj["sha256"], json_obj["size"], "txt"
        )
        return self

    def _eq_key(self) -> Any:
        return self.labels

    def __repr__(self) -> str:
        return f"LabelTrack({self._count} labels)"
