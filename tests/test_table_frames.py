"""Table and pandas: Table(dataframe=...), get_dataframe(), add_column, rows as dicts."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest
import strategies
from hypothesis import given
from hypothesis import strategies as st

from artifacts import Artifact
from media import Audio, Table


def clip(i: int, n: int = 50) -> Audio:
    return Audio(np.full(n, i, dtype=np.int16), 16000, caption=f"c{i}")


def cell_types(t: Table) -> list[list[type]]:
    return [[type(c) for c in row] for row in t]


def test_dataframe_both_ways():
    t = Table(
        columns=["clip", "label", "n", "score", "ok", "maybe"],
        data=[[clip(1), "dog", 1, 0.5, True, None], [clip(2), "cat", 2, -0.0, False, 3]],
    )
    df = t.get_dataframe()
    assert list(df.columns) == t.columns and len(df) == 2
    assert df["n"].dtype == np.int64 and df["score"].dtype == np.float64
    assert df["ok"].dtype == bool and df["maybe"].dtype == object
    assert df["clip"][0] is t["clip"][0]
    back = Table(dataframe=df)
    assert back == t and cell_types(back) == cell_types(t)
    assert np.signbit(back["score"][1])


def test_from_a_users_dataframe():
    df = pd.DataFrame(
        {
            "x": [1.5, np.nan, 3.0],
            "y": pd.array([1, None, 3], dtype="Int64"),
            "z": ["a", None, "c"],
            "o": [np.int32(4), "s", 1.0],
        },
        index=[10, 11, 12],  # the index is not a column
    )
    t = Table(dataframe=df)
    assert t.columns == ["x", "y", "z", "o"]
    assert t["x"] == [1.5, None, 3.0]
    assert t["y"] == [1, None, 3]
    assert t["z"] == ["a", None, "c"]
    assert t["o"] == [4, "s", 1.0] and type(t["o"][0]) is int
    assert Table(dataframe=pd.DataFrame()) == Table()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"dataframe": pd.DataFrame({1: [1]})}, TypeError, "Invalid column name 1 in the DataF"),
        ({"dataframe": [[1]]}, TypeError, "Invalid dataframe of type list: expected a pandas"),
        (
            {"dataframe": pd.DataFrame({"a": [1]}), "columns": ["a"]},
            ValueError,
            "give either columns and data, or dataframe, not both",
        ),
        ({"data": [[1]]}, ValueError, "Table(data=...) needs column names"),
        (
            {"dataframe": pd.DataFrame({"a": [pd.Timestamp(0)]})},
            TypeError,
            "Invalid cell Timestamp('1970-01-01 00:00:00') in row 0, column 'a'",
        ),
        (
            {"dataframe": pd.DataFrame([[1, 2]], columns=["a", "a"])},
            ValueError,
            "duplicate names ['a']",
        ),
    ],
)
def test_dataframe_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        Table(**kwargs)
    assert message in str(info.value)


def test_without_pandas(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas raises ImportError
    t = Table(columns=["a"], data=[[1]])
    for call in (t.get_dataframe, lambda: Table(dataframe=object())):
        with pytest.raises(ImportError, match=r"pip install media-artifacts\[pandas\]"):
            call()


@given(st.from_type(Table))
def test_round_trip_through_a_dataframe(t):
    back = Table(dataframe=t.get_dataframe())
    assert back == t
    assert cell_types(back) == cell_types(t)
    assert back.columns == t.columns


@given(st.lists(strategies.scalars(), max_size=5))
def test_add_column_then_dataframe(values):
    t = Table()
    t.add_column("v", values)
    t.add_column("w", list(range(len(values))))
    assert len(t) == len(values)
    assert [r["v"] for r in t.rows()] == values
    assert Table(dataframe=t.get_dataframe()) == t


def test_add_column_and_rows():
    t = Table(columns=["a"], data=[[1], [2]])
    t.add_column("b", ["x", "y"])
    assert t.columns == ["a", "b"] and t.row(1) == {"a": 2, "b": "y"} and t.row(-2)["b"] == "x"
    assert list(t.rows()) == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert [row for row in t] == [[1, "x"], [2, "y"]]  # iteration still gives lists
    with pytest.raises(ValueError, match="Invalid column name 'a': the table already has it"):
        t.add_column("a", [1, 2])
    with pytest.raises(ValueError, match="3 cells for a table of 2 rows"):
        t.add_column("c", [1, 2, 3])
    with pytest.raises(TypeError, match="Invalid cell <class 'object'> in row 1, column 'c'"):
        t.add_column("c", [1, object])
    with pytest.raises(TypeError, match="give a list with one cell per row"):
        t.add_column("c", "ab")
    assert t.columns == ["a", "b"] and t.data == [[1, "x"], [2, "y"]]  # unchanged
    with pytest.raises(IndexError, match="row 2 is out of range: the table has 2 rows"):
        t.row(2)
    with pytest.raises(TypeError, match="Invalid row index '0'"):
        t.row("0")
    fresh = Table()
    fresh.add_column("a", [1, 2, 3])  # the first column sets the number of rows
    assert len(fresh) == 3 and fresh["a"] == [1, 2, 3]
    no_columns = Table([])
    no_columns.add_data()  # a row of no cells
    with pytest.raises(ValueError, match="0 cells for a table of 1 rows"):
        no_columns.add_column("a", [])


def test_loaded_table_to_dataframe_and_back_copies_no_audio(store):
    t = Table(columns=["clip", "label"], data=[[clip(i, 4000), f"l{i}"] for i in range(6)])
    draft = Artifact("ds", "dataset")
    draft.add(t, "all")
    v0 = store.commit(draft)
    loaded = v0.get("all")
    assert loaded.row(2)["label"] == "l2" and isinstance(loaded.row(2)["clip"], Audio)
    df = loaded.get_dataframe()
    df["n"] = df["label"].str.slice(1).astype(int)
    even = Table(dataframe=df[df["n"] % 2 == 0])
    even.add_column("half", [n / 2 for n in even["n"]])
    files = sorted(rel for rel, _ in store.backend.walk_files(""))
    draft = v0.new_draft()
    draft.add(even, "even")
    v1 = store.commit(draft)
    new = sorted(set(rel for rel, _ in store.backend.walk_files("")) - set(files))
    # no new blob or pack: the new version refers to the clips the first one stored
    assert not [p for p in new if p.startswith(("blobs/", "packs/"))], new
    got = v1.get("even")
    assert got["label"] == ["l0", "l2", "l4"] and got["half"] == [0.0, 1.0, 2.0]
    assert got["clip"][1].numpy().tolist() == [2] * 4000
