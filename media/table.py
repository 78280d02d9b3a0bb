"""``Table``: rows of cells, where a cell is a JSON scalar or any registered value."""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterator, Sequence
from numbers import Integral as _Integral
from typing import Any, ClassVar

from .errors import SchemaError
from .paths import paths_in
from .value import Media, Value, checked_json

__all__ = ["Table", "OpaqueValue"]

_SCALARS = (str, int, float, bool, type(None))


# a bounded repr for error messages: nesting is cut (a cell nested thousands deep has no
# printable repr), short values are shown whole
_CELL_REPR = reprlib.Repr()
_CELL_REPR.maxother = _CELL_REPR.maxstring = 100


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
        return paths_in(self.json)

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
    raise TypeError(
        f"Invalid cell {_CELL_REPR.repr(cell)} in row {row}, column {column!r}: a cell is a str, "
        "int, float, bool, None or a media value (Audio, a registered type)"
    )


class Table(Value):
    """Rows of cells with named columns.

    ``Table(columns=["clip", "label"], data=[[Audio(...), "dog"], ...])``.  Cells are JSON
    scalars or registered values.  Added to an artifact, every media cell's file is stored
    once; loaded back, media cells are lazy (their samples are read only when asked).
    """

    artifact_type: ClassVar[str] = "table"

    def __init__(
        self,
        columns: Sequence[str] | None = None,
        data: Sequence[Sequence[Any]] | None = None,
        dataframe: Any = None,
    ):
        if dataframe is not None:
            if columns is not None or data is not None:
                raise ValueError(
                    "Table(dataframe=df) takes its columns and rows from df; give either "
                    "columns and data, or dataframe, not both"
                )
            columns, data = _from_dataframe(dataframe)
        elif columns is None:
            if data is not None:
                raise ValueError(
                    "Table(data=...) needs column names: pass columns=[...], one per cell"
                )
            columns = []
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

    def stored_rows(self) -> list[list[Any]] | None:
        """The rows as stored JSON (cells not decoded; do not change them), or ``None`` when
        the table was not loaded from JSON or has been decoded already."""
        return self._raw

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

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` (negative counts from the end) as a dict of column -> cell.

        Iterating over a table still gives rows as lists of cells, in column order.
        """
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, (int, _Integral)):
            raise TypeError(f"Invalid row index {i!r}: expected an int")
        if not -n <= i < n:
            raise IndexError(f"row {i} is out of range: the table has {n} rows")
        i = int(i) % n
        if self._raw is not None:
            cells = [self._column(j)[i] for j in range(len(self.columns))]
        else:
            cells = self._data[i]
        return dict(zip(self.columns, cells))

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row as a dict of column -> cell."""
        for r in self.data:
            yield dict(zip(self.columns, r))

    def add_column(self, name: str, values: Sequence[Any]) -> None:
        """Append column ``name`` with one cell per row (any cell a table holds).

        A table with no columns yet takes its number of rows from ``values``.  On any error
        the table is left as it was.
        """
        if not isinstance(name, str):
            raise TypeError(f"Invalid column name {name!r}: expected a str")
        if name in self.columns:
            raise ValueError(
                f"Invalid column name {name!r}: the table already has it; columns: {self.columns}"
            )
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
            raise TypeError(
                f"Invalid values {values!r} for column {name!r}: give a list with one cell per row"
            )
        values = list(values)
        rows = self.data
        if (self.columns or rows) and len(values) != len(rows):
            raise ValueError(
                f"Invalid values for column {name!r}: {len(values)} cells for a table of "
                f"{len(rows)} rows"
            )
        cells = [_check_cell(v, r, name) for r, v in enumerate(values)]
        if not self.columns and not rows:
            self._data = [[c] for c in cells]
        else:
            for row, cell in zip(rows, cells):
                row.append(cell)
        self.columns.append(name)

    def get_dataframe(self) -> Any:
        """The table as a pandas ``DataFrame`` (one column per column, media cells as objects).

        A column whose cells are all ints, all floats, all bools or all strs gets pandas' dtype
        for them; any other column (None among values, mixed types, media) keeps its cells as
        Python objects, so ``Table(dataframe=table.get_dataframe()) == table``.
        """
        pd = _pandas()
        cols = {}
        for i, name in enumerate(self.columns):
            cells = self._column(i) if self._raw is not None else [r[i] for r in self._data]
            kinds = {type(c) for c in cells}
            dtype = None if len(kinds) == 1 and kinds <= {int, float, bool, str} else object
            if dtype is None and kinds == {int} and not all(-(2**63) <= c < 2**63 for c in cells):
                dtype = object  # beyond int64: keep Python ints
            cols[name] = pd.Series(cells, dtype=dtype, index=range(len(cells)))
        if not cols:
            return pd.DataFrame(index=range(0))
        return pd.DataFrame(cols, columns=list(self.columns))

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
            [
                self._cell_json(c, r, i, run_or_artifact) if isinstance(c, Value) else c
                for i, c in enumerate(row)
            ]
            for r, row in enumerate(self.data)
        ]
        return {
            "_type": self.artifact_type,
            "columns": list(self.columns),
            "data": data,
            "ncols": len(self.columns),
            "nrows": len(data),
        }

    def _cell_json(self, cell: Value, r: int, i: int, target: Any) -> dict[str, Any]:
        """The JSON of a value cell, checked for a custom type (a refusal names the cell)."""
        try:
            return checked_json(cell, target)
        except SchemaError as exc:
            where = f"in row {r}, column {self.columns[i]!r} of a table"
            raise SchemaError(exc.tag, exc.field, f"{where}: {exc.reason}") from None

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


_PANDAS_HINT = "pip install media-artifacts[pandas]"


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(
            f"Table.get_dataframe and Table(dataframe=...) need pandas: {_PANDAS_HINT}"
        ) from None
    return pandas


def _from_dataframe(df: Any) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of a pandas DataFrame; missing values (NaN, None, NA, NaT) become None."""
    pd = _pandas()
    if not isinstance(df, pd.DataFrame):
        raise TypeError(
            f"Invalid dataframe of type {type(df).__name__}: expected a pandas DataFrame"
        )
    columns = list(df.columns)
    for c in columns:
        if not isinstance(c, str):
            raise TypeError(
                f"Invalid column name {c!r} in the DataFrame: a table's column names are strs; "
                "rename it first, e.g. df.columns = [str(c) for c in df.columns]"
            )
    data: list[list[Any]] = [[] for _ in range(len(df))]
    for c in range(len(columns)):
        series = df.iloc[:, c]
        for row, cell in zip(data, series.tolist()):
            if isinstance(cell, float) and math.isnan(cell):
                cell = None
            elif not isinstance(cell, (Value, *_SCALARS)) and _is_missing(pd, cell):
                cell = None
            row.append(cell)
    return columns, data


def _is_missing(pd: Any, cell: Any) -> bool:
    try:
        return bool(pd.isna(cell))
    except (TypeError, ValueError):  # arrays and other non-scalars: not "missing"
        return False
