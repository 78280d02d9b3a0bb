"""``Run``: logging values, the JSON Lines history and reading it back."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import artifacts
import schemas
from artifacts import Artifact, Run
from artifacts.run import HistoryWarning, read_history
from media import Audio, OpaqueValue, Table


def history_lines(run: Run) -> list[str]:
    with open(os.path.join(run.dir, "history.jsonl"), encoding="utf-8") as f:
        return f.read().splitlines()


def files_under(path) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs
    )


# -- logging ------------------------------------------------------------------------------
def test_log_scalars_and_numpy_scalars(tmp_path):
    run = Run(dir=tmp_path)
    row = run.log(
        {
            "loss": 0.25,
            "epoch": 3,
            "name": "ünï",
            "ok": True,
            "none": None,
            "f32": np.float32(0.5),
            "i64": np.int64(7),
            "b": np.bool_(False),
            "nested": {"a": [1, np.int16(2)], "b": {"c": "d"}},
            "tuple": (1, 2),
        }
    )
    expected = {
        "loss": 0.25,
        "epoch": 3,
        "name": "ünï",
        "ok": True,
        "none": None,
        "f32": 0.5,
        "i64": 7,
        "b": False,
        "nested": {"a": [1, 2], "b": {"c": "d"}},
        "tuple": [1, 2],
    }
    assert {k: row[k] for k in expected} == expected
    assert type(row["i64"]) is int and type(row["b"]) is bool
    (got,) = run.history()
    assert {k: got[k] for k in expected} == expected
    assert got["_step"] == 0
    assert isinstance(got["_timestamp"], float) and got["_runtime"] >= 0


def test_log_a_single_clip_and_a_table(tmp_path):
    run = Run(dir=tmp_path)
    clip = Audio(np.arange(16, dtype=np.int16), 8000, caption="c")
    table = Table(["clip", "label"], [[Audio(np.ones(4, np.float32), 4), "dog"]])
    row = run.log({"clip": clip, "table": table})
    assert row["clip"]["_type"] == "audio-file"
    assert row["clip"]["path"] == f"media/audio/clip_0_{clip.sha256[:20]}.wav"
    assert row["table"]["_type"] == "table"
    assert clip.is_bound()
    (got,) = run.history()
    assert isinstance(got["clip"], Audio) and got["clip"] == clip
    assert got["clip"].caption == "c"
    assert isinstance(got["table"], Table) and got["table"] == table
    assert got["table"]["label"] == ["dog"]
    assert files_under(tmp_path / "media") == sorted(
        [
            f"audio/clip_0_{clip.sha256[:20]}.wav",
            f"audio/table_0_{table.data[0][0].sha256[:20]}.wav",
        ]
    )


def test_log_a_list_of_clips(tmp_path):
    run = Run(dir=tmp_path)
    clips = [Audio(np.zeros(8, np.int16), 8), Audio(np.ones((8, 2), np.float64), 16, caption="x")]
    row = run.log({"l": clips})
    assert row["l"]["_type"] == "audio"
    assert row["l"]["count"] == 2 and row["l"]["captions"] == ["", "x"]
    (got,) = run.history()
    assert isinstance(got["l"], list) and got["l"] == clips
    assert [c.caption for c in got["l"]] == [None, "x"]


def test_the_same_clip_logged_twice_is_copied_once(tmp_path):
    run = Run(dir=tmp_path)
    clip = Audio(np.zeros(8, np.int16), 8)
    run.log({"a": clip})
    run.log({"a": clip})
    assert len(files_under(tmp_path / "media")) == 1
    first, second = run.history()
    assert first["a"] == second["a"] == clip


def test_a_clip_read_from_one_run_can_be_logged_to_another(tmp_path):
    run1 = Run(dir=tmp_path / "one")
    run1.log({"a": Audio(np.arange(8, dtype=np.int16), 8), "l": [Audio(np.ones(2, np.int32), 2)]})
    (row,) = run1.history()
    run2 = Run(dir=tmp_path / "two")
    run2.log({"a": row["a"], "l": row["l"], "t": Table(["c"], [[row["a"]]])})
    (got,) = run2.history()
    assert got["a"] == row["a"] and got["l"] == row["l"] and got["t"]["c"] == [row["a"]]
    assert all(not f.startswith("..") for f in files_under(tmp_path / "two"))
    # the table's cell is the clip already bound to this run under "a": one copy
    assert len(files_under(tmp_path / "two" / "media")) == 2


def test_history_rows_validate_against_their_schema(tmp_path):
    run = Run(dir=tmp_path)
    run.log({"x": 1, "clip": Audio(np.zeros(4, np.int16), 8)})
    run.log({"l": [Audio(np.zeros(4, np.float32), 8, caption="c")], "t": Table(["a"], [[1]])})
    lines = history_lines(run)
    assert len(lines) == 2
    for line in lines:
        row = json.loads(line)
        schemas.validate(row, "history-row")
        for value in row.values():
            if isinstance(value, dict):
                schemas.validate(value)
    assert json.loads(lines[0]) == dict(sorted(json.loads(lines[0]).items()))


def test_bad_values_are_refused(tmp_path):
    run = Run(dir=tmp_path)
    with pytest.raises(TypeError, match=r"Invalid value for 'x': object cannot be logged"):
        run.log({"x": object()})
    with pytest.raises(TypeError, match=r"Invalid key 1 in the value of 'x': keys must be str"):
        run.log({"x": {1: 2}})
    with pytest.raises(TypeError, match=r"Invalid data \[1\]: log\(\) takes a dict"):
        run.log([1])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"Invalid value for 'x': ndarray cannot be logged"):
        run.log({"x": np.zeros(3)})
    assert run.history() == []


# -- keys ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "key, error, message",
    [
        ("_step", ValueError, r"Invalid key '_step': keys starting with '_' are reserved"),
        ("_mine", ValueError, r"keys starting with '_' are reserved"),
        ("../../x", ValueError, r"Invalid run key '../../x': it has an empty, '.' or '..'"),
        ("/abs", ValueError, r"Invalid run key '/abs': it is absolute"),
        ("a\x00b", ValueError, r"Invalid run key 'a\\x00b': it contains a NUL"),
        ("a\\b", ValueError, r"it contains a backslash"),
        ("C:/x", ValueError, r"Invalid run key 'C:/x': it starts with a drive letter"),
        ("", ValueError, r"Invalid run key '': it is empty"),
        (3, TypeError, r"Invalid key 3: history keys are str"),
    ],
)
def test_bad_keys_are_refused_and_nothing_is_written(tmp_path, key, error, message):
    run = Run(dir=tmp_path / "run")
    clip = Audio(np.zeros(4, np.int16), 8)
    with pytest.raises(error, match=message):
        run.log({"good": clip, key: 1})
    assert files_under(tmp_path) == []
    assert not clip.is_bound()
    assert run.step == 0


def test_nested_keys_make_folders_inside_the_run(tmp_path):
    run = Run(dir=tmp_path)
    clip = Audio(np.zeros(4, np.int16), 8)
    run.log({"eval/clip": clip})
    assert files_under(tmp_path / "media") == [f"audio/eval/clip_0_{clip.sha256[:20]}.wav"]
    assert run.history()[0]["eval/clip"] == clip


# -- steps --------------------------------------------------------------------------------
def test_steps_never_go_back(tmp_path):
    run = Run(dir=tmp_path)
    assert run.step == 0
    assert run.log({"x": 0})["_step"] == 0
    assert run.log({"x": 1})["_step"] == 1
    assert run.log({"x": 10}, step=10)["_step"] == 10
    assert run.step == 11
    for step in (9, 3, 0):
        with pytest.raises(ValueError, match=rf"Invalid step {step}: the last logged step is 10"):
            run.log({"x": 2}, step=step)
    assert run.log({"y": 2}, step=10)["_step"] == 10  # the last step again: joins its row
    assert run.step == 11
    assert [(r["_step"], r["x"]) for r in run.history()] == [(0, 0), (1, 1), (10, 10)]


@pytest.mark.parametrize("step", [-1, 1.5, "3", True, None.__class__])
def test_bad_steps(tmp_path, step):
    run = Run(dir=tmp_path)
    with pytest.raises(ValueError, match=r"Invalid step .*: give an int >= 0"):
        run.log({"x": 1}, step=step)  # type: ignore[arg-type]


def test_a_run_reopened_on_its_folder_continues_its_steps(tmp_path):
    Run(dir=tmp_path).log({"x": 1}, step=4)
    run = Run(dir=tmp_path, resume=True)
    assert run.step == 5
    run.log({"x": 2})
    assert [r["_step"] for r in run.history()] == [4, 5]


# -- torn lines ---------------------------------------------------------------------------
def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path):
    run = Run(dir=tmp_path)
    run.log({"x": 1})
    run.log({"clip": Audio(np.zeros(4, np.int16), 8)})
    with open(tmp_path / "history.jsonl", "ab") as f:
        f.write(b'{"_step": 2, "x": 3, "clip": {"_type": "audio-fi')
    with pytest.warns(HistoryWarning, match=r"history.jsonl: line 3 skipped") as record:
        rows = run.history()
    assert len(record) == 1
    assert [r["_step"] for r in rows] == [0, 1]
    assert isinstance(rows[1]["clip"], Audio)


def test_a_run_resumed_after_a_torn_line_keeps_its_new_rows(tmp_path):
    Run(dir=tmp_path).log({"x": 1})
    with open(tmp_path / "history.jsonl", "ab") as f:
        f.write(b'{"_step": 1, "x"')
    run = Run(dir=tmp_path, resume=True)
    assert run.step == 1
    run.log({"x": 2})
    with pytest.warns(HistoryWarning, match="line 2 skipped"):
        rows = run.history()
    assert [(r["_step"], r["x"]) for r in rows] == [(0, 1), (1, 2)]


@pytest.mark.parametrize(
    "bad", [b"not json", b"[1, 2]", b'{"_step": -1}', b'{"x": 1}', b"\xff\xfe", b'{"_step": "0"}']
)
def test_unreadable_lines_anywhere_are_skipped(tmp_path, bad):
    (tmp_path / "history.jsonl").write_bytes(b'{"_step": 0}\n' + bad + b'\n{"_step": 1}\n')
    with pytest.warns(HistoryWarning, match="line 2 skipped"):
        rows = read_history(tmp_path)
    assert [r["_step"] for r in rows] == [0, 1]


def test_history_of_an_empty_folder(tmp_path):
    assert read_history(tmp_path) == []
    assert Run(dir=tmp_path).history() == []


def test_history_keeps_values_of_unknown_types(tmp_path):
    row = {"_step": 0, "m": {"_type": "martian-type", "x": 1}}
    (tmp_path / "history.jsonl").write_text(json.dumps(row) + "\n")
    (got,) = read_history(tmp_path)
    assert isinstance(got["m"], OpaqueValue) and got["m"].json == row["m"]


# -- finish, defaults, artifacts ----------------------------------------------------------
def test_finish(tmp_path):
    run = Run(dir=tmp_path)
    run.log({"x": 1})
    run.finish()
    with pytest.raises(RuntimeError, match=r"run .* is finished; start a new Run to log more"):
        run.log({"x": 2})
    assert len(run.history()) == 1
    with Run(dir=tmp_path / "ctx") as ctx:
        ctx.log({"y": 1})
    with pytest.raises(RuntimeError, match="is finished"):
        ctx.log({"y": 2})


def test_default_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = Run()
    assert run.dir == str(tmp_path / "runs" / run.id)
    assert os.path.isdir(run.dir)
    named = Run(id="my-run")
    assert named.dir == str(tmp_path / "runs" / "my-run")


def test_log_and_use_artifacts(tmp_path):
    store = artifacts.open_store(str(tmp_path / "store"))
    run = Run(dir=tmp_path / "run", store=store)
    draft = Artifact("clips", type="dataset")
    draft.add(Audio(np.zeros(4, np.int16), 8), "c")
    v0 = run.log_artifact(draft, aliases=["best"])
    assert v0.qualified_name == "clips:v0" and "best" in v0.aliases
    used = run.use_artifact("clips:best")
    assert used.version == "v0"
    lineage = [(r["action"], r["artifact"], r["run"]) for r in run.lineage()]
    assert lineage == [("logged", "clips:v0", run.id), ("used", "clips:v0", run.id)]
    assert store.lineage("clips:v0")["used_by"] == [run.id]
    run.log({"c": used.get("c")})
    assert run.history()[0]["c"] == used.get("c")
