"""``Table``: rows of cells, where a cell is a JSON scalar or any registered value."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from .value import Media, Value

__all__ = ["Table", "OpaqueValue"]

_SCALARS = (str, int, float, bool, type(None))


class OpaqueValue(Value):
    """JSON of a type no installed plugin knows, kept exactly as it was read.

    Containers (tables, artifacts, run histories) load such JSON as an ``OpaqueValue``
    instead of failing; writing it again gives back the same JSON.  ``tag`` is its
    ``"_type"``.
    """

    artifact_type: ClassVar[str] = ""

    def __init__(self, json_obj: dict[str, Any], source: Any = None):
        self.json = json_obj
        self.tag = json_obj.get("_type")
        self.source = source

    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """The JSON as it was read.

        A target with a ``keep_files_of(value)`` method (an artifact draft, a run) is asked
        to keep the files the JSON refers to, read from :attr:`source`.
        """
        keep = getattr(run_or_artifact, "keep_files_of", None)
        if callable(keep):
            keep(self)
        return self.json

    def paths(self) -> list[str]:
        """Every string under a ``"path"`` key, anywhere in the JSON: the files it refers to."""
        out: list[str] = []
        stack: list[Any] = [self.json]
        while stack:
            obj = stack.pop()
            if isinstance(obj, dict):
                for k, v in obj.items():
                    if k == "path" and isinstance(v, str):
                        out.append(v)
                    else:
                        stack.append(v)
            elif isinstance(obj, list):
                stack.extend(obj)
        return sorted(set(out))

    def _eq_key(self) -> Any:
        return self.json

    def __repr__(self) -> str:
        return f"OpaqueValue(_type={self.tag!r})"


def load_cell(cell: Any, source: Any) -> Any:
    """A cell or history value from JSON: a registered value, an opaque one, or as is."""
    if isinstance(cell, dict) and isinstance(cell.get("_type"), str):
        from .errors import UnknownTypeError

        try:
            return Value.init_from_json(cell, source)
        except UnknownTypeError:
            return OpaqueValue(cell, source)
    return cell


def _check_cell(cell: Any, row: int, column: str) -> Any:
    if isinstance(cell, Value):
        return cell
    if isinstance(cell, _SCALARS):
        if isinstance(cell, float) and not math.isfinite(cell):
            raise ValueError(
                f"Invalid cell {cell!r} in row {row}, column {column!r}: JSON has no NaN or "
                "infinity; use None for a missing number"
            )
        return cell
    # numpy scalars: store their Python value
    item = getattr(cell, "item", None)
    if callable(item) and getattr(cell, "shape", None) == ():
        value = item()
        if isinstance(value, _SCALARS):
            return value
    raise TypeError(  # (reprlib: a cell nested thousands deep has no printable repr)
        f"Invalid cell {reprlib.repr(cell)} in row {row}, column {column!r}: a cell is a str, int, "
        "float, bool, None or a media value (Audio, a registered type)"
    )


class Table(Value):
    """Rows of cells with named columns.

    ``Table(columns=["clip", "label"], data=[[Audio(...), "dog"], ...])``.  Cells are JSON
    scalars or registered values.  Added to an artifact, every media cell's file is stored
    once; loaded back, media cells are lazy (their samples are read only when asked).
    """

    artifact_type: ClassVar[str] = "table"

    def __init__(self, columns: Sequence[str], data: Sequence[Sequence[Any]] | None = None):
        if isinstance(columns, (str, bytes)):
            raise TypeError(f"Invalid columns {columns!r}: give a list of column names")
        cols = list(columns)
        for c in cols:
            if not isinstance(c, str):
                raise TypeError(f"Invalid column name {c!r}: expected a str")
        if len(set(cols)) != len(cols):
            dup = sorted({c for c in cols if cols.count(c) > 1})
            raise ValueError(f"Invalid columns: duplicate names {dup}")
        self.columns = cols
        self._data: list[list[Any]] = []
        # a loaded table keeps its JSON rows and decodes a column when it is first used
        self._raw: list[list[Any]] | None = None
        self._source: Any = None
        self._decoded: dict[int, list[Any]] = {}
        for row in data or ():
            if isinstance(row, (str, bytes, dict)) or not hasattr(row, "__iter__"):
                raise TypeError(f"Invalid row {len(self._data)} {row!r}: a row is a list of cells")
            self.add_data(*row)

    @property
    def data(self) -> list[list[Any]]:
        """The rows, as lists of cells (a loaded table decodes every cell on first use)."""
        if self._raw is not None:
            cols = [self._column(i) for i in range(len(self.columns))]
            self._data = [list(r) for r in zip(*cols)] if cols else [[] for _ in self._raw]
            self._raw, self._decoded = None, {}
        return self._data

    def _column(self, i: int) -> list[Any]:
        col = self._decoded.get(i)
        if col is None:
            assert self._raw is not None
            col = []
            for r, row in enumerate(self._raw):
                try:
                    col.append(load_cell(row[i], self._source))
                except ValueError as exc:  # same type; the message says which cell of what
                    src = self.artifact_source
                    where = getattr(src.artifact, "qualified_name", None) if src else None
                    where = f"{where}/{src.name}: " if where and src.name else ""
                    exc.args = (f"{where}row {r}, column {self.columns[i]!r}: {exc}",)
                    raise exc.with_traceback(None) from None
            self._decoded[i] = col
        return col

    def add_data(self, *cells: Any) -> None:
        """Append one row."""
        if len(cells) != len(self.columns):
            raise ValueError(
                f"Invalid row {len(self.data)}: it has {len(cells)} cells, the table has "
                f"{len(self.columns)} columns {self.columns}"
            )
        self.data.append(
            [_check_cell(c, len(self.data), col) for c, col in zip(cells, self.columns)]
        )

    def __len__(self) -> int:
        return len(self._raw) if self._raw is not None else len(self._data)

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self.data)

    def __getitem__(self, column: str) -> list[Any]:
        """All cells of one column."""
        try:
            i = self.columns.index(column)
        except ValueError:
            raise KeyError(f"no column {column!r}; columns: {self.columns}") from None
        if self._raw is not None:
            return list(self._column(i))
        return [row[i] for row in self._data]

    def get_column(self, name: str) -> list[Any]:
        """All cells of column ``name``."""
        return self[name]

    def media(self) -> Iterator[Media]:
        """Every media cell, row by row."""
        for row in self.data:
            for cell in row:
                if isinstance(cell, Media):
                    yield cell

    def bind_to_run(self, run: Any, key: str, step: int | str) -> None:
        """Bind every media cell not yet bound to ``run`` (see ``Media.bind_to_run``)."""
        for cell in self.media():
            cell.ensure_bound(run, key, step)

    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """``{"_type": "table", "columns", "data", "ncols", "nrows"}``; media cells hold the
        JSON of their value, and their files go to ``run_or_artifact``."""
        data = [
            [c.to_json(run_or_artifact) if isinstance(c, Value) else c for c in row]
            for row in self.data
        ]
        return {
            "_type": self.artifact_type,
            "columns": list(self.columns),
            "data": data,
            "ncols": len(self.columns),
            "nrows": len(data),
        }

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> Table:
        """Rebuild a table; media cells are lazy, cells of unknown types stay opaque.

        Cells are decoded (and their JSON validated) column by column, when a column is
        first used: opening a large table costs little, and reading its scalar columns
        builds no media values.
        """
        columns = json_obj["columns"]
        table = cls(columns)
        rows = json_obj["data"]
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                from schemas import SchemaError

                raise SchemaError(
                    "table", f"$.data[{i}]", f"has {len(row)} cells for {len(columns)} columns"
                )
        table._raw, table._source = rows, source_artifact
        return table

    def _eq_key(self) -> Any:
        return (self.columns, self.data)

    def __repr__(self) -> str:
        return f"Table(columns={self.columns}, rows={len(self)})"
