"""Reading a run folder's history (``history.jsonl``) and lineage lines back: shared by
:class:`artifacts.run.Run` and the preview of runs."""

from __future__ import annotations

import json
import os
import stat
import warnings
from collections.abc import Mapping
from typing import Any

import schemas
from media import Audio, FolderSource, load_cell

__all__ = [
    "HISTORY",
    "HistoryWarning",
    "read_history",
    "load_row",
    "read_jsonl",
    "end_torn_line",
    "open_append",
]

HISTORY = "history.jsonl"


class HistoryWarning(UserWarning):
    """A history line could not be read (a torn write) and was skipped."""


def open_append(path: str, create: bool = True, mode: int = os.O_WRONLY | os.O_APPEND) -> int:
    """Open a run's own record file, never through a link planted in the run folder."""
    flags = mode | os.O_NOFOLLOW | os.O_NONBLOCK | (os.O_CREAT if create else 0)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if os.path.islink(path):
            raise ValueError(
                f"Invalid run file {path!r}: it is a symbolic link; a run writes only its own "
                "files (remove the link)"
            ) from None
        raise exc from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"Invalid run file {path!r}: not a regular file (remove it)")
    return fd


def end_torn_line(path: str) -> None:
    """End a torn last line (a crash while writing) so the next row starts on its own line."""
    try:
        with os.fdopen(open_append(path, create=False, mode=os.O_RDWR), "rb+") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")
    except FileNotFoundError:
        pass


def read_jsonl(path: str, tag: str, warn: bool) -> list[dict[str, Any]]:
    """The rows of a JSON Lines file that validate as ``tag``; others are skipped (with a
    :class:`HistoryWarning` when ``warn``)."""
    rows = []
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            schemas.validate(row, tag)
        except RecursionError:  # nested too deeply to parse: skipped like any bad line
            if warn:
                why = "nested too deeply"
                warnings.warn(f"{path}: line {i} skipped ({why})", HistoryWarning, stacklevel=3)
            continue
        except (ValueError, schemas.SchemaError) as exc:
            if warn:
                warnings.warn(f"{path}: line {i} skipped ({exc})", HistoryWarning, stacklevel=3)
            continue
        rows.append(row)
    return rows


def read_history(
    dir: str | os.PathLike[str], load_values: bool = True, warn: bool = True
) -> list[dict[str, Any]]:
    """Rows of ``<dir>/history.jsonl``, values rebuilt through ``Value.init_from_json``.

    Lines that cannot be read (a torn write at a crash) are skipped with a
    :class:`HistoryWarning`.  ``audio`` seq values become lists of Audio; values of types no
    installed plugin knows stay as :class:`media.OpaqueValue`.  Also reads the history the
    wandb client writes, given its rows as JSON Lines and its media folder.
    """
    dir = os.fspath(dir)
    path = os.path.join(dir, HISTORY)
    if not os.path.exists(path):
        return []
    rows = read_jsonl(path, "history-row", warn)
    if not load_values:
        return rows
    source = FolderSource(dir)
    return [load_row(row, source) for row in rows]


def load_row(row: Mapping[str, Any], source: Any) -> dict[str, Any]:
    """One history row with its values rebuilt from ``source``."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dict) and value.get("_type") == "audio":
            out[key] = Audio.seq_from_json(value, source)
        else:
            out[key] = load_cell(value, source)
    return out
