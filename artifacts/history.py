"""Reading a run folder's history (``history.jsonl``) and lineage lines back: shared by
:class:`artifacts.run.Run` and the preview of runs."""

from __future__ import annotations

import json
import math
import os
import stat
import warnings
from collections.abc import Mapping
from typing import Any

import schemas
from media import Audio, FolderSource, load_cell

__all__ = [
    "HISTORY",
    "FLOAT_TAG",
    "HistoryWarning",
    "encode_float",
    "merge_steps",
    "read_history",
    "load_row",
    "read_jsonl",
    "end_torn_line",
    "open_append",
]

HISTORY = "history.jsonl"

#: Type tag of a NaN or infinite number in a history line: strict JSON has no such numbers,
#: and a logged NaN loss must come back as NaN.  See ``schemas/float.schema.json``.
FLOAT_TAG = "float"
_FLOAT_NAMES = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def encode_float(value: float) -> float | dict[str, str]:
    """``value`` itself when finite, else its ``float`` form (``{"_type": "float",
    "value": "NaN"}``), which :func:`read_history` turns back into the float."""
    if math.isnan(value):
        return {"_type": FLOAT_TAG, "value": "NaN"}
    if math.isinf(value):
        return {"_type": FLOAT_TAG, "value": "Infinity" if value > 0 else "-Infinity"}
    return value


def _decode_floats(obj: dict[str, Any]) -> Any:
    """``json.loads`` hook: a ``float`` form becomes its number (at any depth, no recursion
    of ours: the parser calls this bottom-up)."""
    if obj.get("_type") == FLOAT_TAG:
        schemas.validate(obj, FLOAT_TAG)
        return _FLOAT_NAMES[obj["value"]]
    return obj


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
    :class:`HistoryWarning` when ``warn``).  History rows get their ``float`` forms back as
    numbers; bare ``NaN``/``Infinity`` (older files, the wandb client) read as well."""
    hook = _decode_floats if tag == "history-row" else None
    rows = []
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, object_hook=hook)
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
    """Rows of ``<dir>/history.jsonl``, one per step, values rebuilt through
    ``Value.init_from_json``.

    Lines logged at the same step (``run.log`` called more than once at one step) make one
    row: the union of their keys, a key logged twice keeping its last value.  Lines that
    cannot be read (a torn write at a crash) are skipped with a :class:`HistoryWarning`.
    ``audio`` seq values and lists of values become lists; NaN and infinities (written in the
    ``float`` form) come back as floats; values of types no installed plugin knows stay as
    :class:`media.OpaqueValue`.  A folder without a history has no rows; a folder that does
    not exist raises :class:`FileNotFoundError`.  Also reads the history the wandb client
    writes, given its rows as JSON Lines and its media folder.
    """
    dir = os.fspath(dir)
    if not os.path.isdir(dir):
        if os.path.exists(dir):
            raise NotADirectoryError(
                f"Invalid run folder {dir!r}: it is a file; read_history reads the folder "
                "that holds a run's history.jsonl (run.dir)"
            )
        raise FileNotFoundError(
            f"No run folder {dir!r}: it does not exist; check the path (read_history reads "
            "the folder that holds a run's history.jsonl, run.dir)"
        )
    path = os.path.join(dir, HISTORY)
    if not os.path.exists(path):
        return []
    rows = merge_steps(read_jsonl(path, "history-row", warn))
    if not load_values:
        return rows
    source = FolderSource(dir)
    return [load_row(row, source) for row in rows]


def merge_steps(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per ``_step``, in order of first appearance: rows of one step are joined,
    a key in several keeping its last value (as wandb joins the log calls of one step)."""
    merged: dict[int, dict[str, Any]] = {}
    for row in rows:
        have = merged.get(row["_step"])
        if have is None:
            merged[row["_step"]] = row
        else:
            have.update(row)
    return list(merged.values())


def load_row(row: Mapping[str, Any], source: Any) -> dict[str, Any]:
    """One history row with its values rebuilt from ``source``."""
    out = {}
    for key, value in row.items():
        if isinstance(value, dict) and value.get("_type") == "audio":
            out[key] = Audio.seq_from_json(value, source)
        elif isinstance(value, list):  # a list of values (Audio's own form aside)
            out[key] = [load_cell(v, source) for v in value]
        else:
            out[key] = load_cell(value, source)
    return out
