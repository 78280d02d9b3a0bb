"""Value types of the fake plugin distribution in ``tests/fake_dist`` (registry tests).

Imported only through the entry points of ``fake_media_plugin-0.1.dist-info``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from media import Value


class Tone(Value):
    """A pure tone described by its frequency: a JSON-only value type."""

    artifact_type: ClassVar[str] = "fake-tone"
    json_schema: ClassVar[dict[str, Any]] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["_type", "hz"],
        "properties": {
            "_type": {"const": "fake-tone", "description": "The type tag."},
            "hz": {"type": "number", "exclusiveMinimum": 0, "description": "Frequency."},
        },
    }

    def __init__(self, hz: float):
        self.hz = hz

    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """``{"_type": "fake-tone", "hz": ...}``."""
        return {"_type": self.artifact_type, "hz": self.hz}

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> Tone:
        """Rebuild the tone."""
        return cls(json_obj["hz"])

    def _eq_key(self) -> Any:
        return self.hz


class Mislabelled(Tone):
    """Registered under an entry-point name that differs from its tag (a broken plugin)."""

    artifact_type: ClassVar[str] = "fake-other"
