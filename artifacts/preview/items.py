"""What a committed version holds, in the order the page shows it."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from media import Audio, Table

__all__ = ["Item", "items", "paths_in", "VALUE_JSON", "AUDIO_EXT"]

VALUE_JSON = re.compile(r"^(?P<base>.+)\.(?P<tag>[a-z0-9][a-z0-9_-]{0,63})\.json$")
AUDIO_EXT = ("wav", "flac", "ogg", "oga", "opus", "mp3", "aiff", "aif", "au", "caf", "w64")


@dataclasses.dataclass
class Item:
    """One thing on the page: a value, an audio file no value holds, another file, an error."""

    name: str  # a value name, or the path of a file entry
    kind: str  # "audio", "table", "value", "file", "error"
    value: Any = None
    entry: str = ""  # the entry path holding it
    clips: int = 0  # audio clips in it


def paths_in(obj: Any) -> list[str]:
    """Every string under a ``"path"`` key of a JSON object, at any depth."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "path" and isinstance(v, str):
                out.append(v)
            else:
                out += paths_in(v)
    elif isinstance(obj, list):
        for v in obj:
            out += paths_in(v)
    return out


def items(art: Any) -> list[Item]:
    """The values of ``art`` (sorted by name), then its audio files that no value holds,
    then its other files."""
    entries = art.manifest.entries
    out: list[Item] = []
    referenced: set[str] = set()
    value_paths = set()
    for path in sorted(entries):
        m = VALUE_JSON.match(path)
        if not m:
            continue
        value_paths.add(path)
        name = m["base"]
        try:
            referenced.update(paths_in(json.loads(art.read_bytes(path))))
            value = art.get(path)
        except Exception as exc:  # show a broken value on the page instead of failing
            out.append(Item(name, "error", str(exc), path))
            continue
        if isinstance(value, Audio):
            out.append(Item(name, "audio", value, path, 1))
        elif isinstance(value, Table):
            n = sum(isinstance(c, Audio) for row in value.data for c in row)
            out.append(Item(name, "table", value, path, n))
        else:
            out.append(Item(name, "value", value, path))
    for path in sorted(entries):
        if path in value_paths or path in referenced:
            continue
        ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        if ext in AUDIO_EXT:
            try:
                with art.open_media(path) as f:
                    audio = Audio(f)
            except (ValueError, TypeError) as exc:
                out.append(Item(path, "error", str(exc), path))
                continue
            out.append(Item(path, "audio", audio, path, 1))
        else:
            out.append(Item(path, "file", entries[path]["size"], path))
    return out
