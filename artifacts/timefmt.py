"""The one timestamp format of stored records."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["now"]


def now() -> str:
    """The current UTC time as stored: ``2026-12-01T14:16:18.265133Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
