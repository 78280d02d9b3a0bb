"""``Run`` against its contract: lists of any value type, strict JSON lines with NaN kept,
several log calls at one step, resuming and reading folders that do not exist, and using a
committed version."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

import artifacts
import media
import schemas
from artifacts import Artifact, ArtifactNotFoundError, Run, read_history
from media import Audio, Table, Value


def strict_lines(run_dir) -> list[dict]:
    """The history lines, parsed as strict JSON (NaN, Infinity are errors)."""

    def refuse(constant):
        raise ValueError(f"non-JSON constant {constant}")

    with open(os.path.join(run_dir, "history.jsonl"), encoding="utf-8") as f:
        return [json.loads(line, parse_constant=refuse) for line in f]


class Point(Value):
    """A custom type the wandb way: a tag, to_json and from_json, no schema."""

    artifact_type = "contract-point"

    def __init__(self, x, y):
        self.x, self.y = x, y

    def to_json(self, run_or_artifact):
        return {"_type": self.artifact_type, "x": self.x, "y": self.y}

    @classmethod
    def from_json(cls, json_obj, source_artifact):
        return cls(json_obj["x"], json_obj["y"])

    def _eq_key(self):
        return (self.x, self.y)


def clip(value=0.0, n=16):
    return Audio(np.full(n, value, np.float32), 8000)


# -- 1: a list of any value type ----------------------------------------------------------
def test_lists_of_custom_values_tables_and_plugin_media_log_and_read_back(own_registry, tmp_path):
    from media_plugin_example import LabelTrack

    media.register(Point)
    run = Run(dir=tmp_path / "run")
    tracks = [LabelTrack([(0.0, 1.0, "dog")]), LabelTrack([(0.5, 2.0, "cat")])]
    tables = [Table(["clip", "n"], [[clip(0.25), 1]]), Table(["n"], [[2]])]
    row = run.log({"pts": [Point(1, 2), Point(3, 4)], "tracks": tracks, "tables": tables})
    assert row["pts"] == [
        {"_type": "contract-point", "x": 1, "y": 2},
        {"_type": "contract-point", "x": 3, "y": 4},
    ]
    run.log({"pts": (Point(5, 6),)})
    first, second = run.history()
    assert first["pts"] == [Point(1, 2), Point(3, 4)] and second["pts"] == [Point(5, 6)]
    assert [t.labels for t in first["tracks"]] == [[(0.0, 1.0, "dog")], [(0.5, 2.0, "cat")]]
    for track in row["tracks"]:  # each file copied into the run folder
        assert track["path"].startswith("media/labels/tracks_0_")
        assert os.path.isfile(os.path.join(run.dir, track["path"]))
    assert first["tables"][0]["clip"][0].numpy().tobytes() == clip(0.25).numpy().tobytes()
    assert first["tables"][1]["n"] == [2]
    for line in strict_lines(run.dir):  # each element is its type's JSON, valid
        for value in line["pts"]:
            schemas.validate(value)


def test_the_run_page_shows_lists_of_values(own_registry, tmp_path):
    from artifacts.preview import run_html

    media.register(Point)
    run = Run(dir=tmp_path / "run")
    run.log({"pts": [Point(1, 2), Point(3, 4)], "tables": [Table(["word"], [["zebra"]])]})
    page = run_html(run.dir)
    assert "pts 0[1]" in page and "contract-point" in page
    assert "tables 0[0]" in page and "zebra" in page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([clip(), 3], r"element 1 is int 3 but element 0 is an Audio"),
        ([1, clip()], r"element 0 is int 1 but element 1 is an Audio"),
        ([clip(), Table(["n"], [[1]])], r"element 1 is a Table but element 0 is an Audio"),
    ],
)
def test_a_mixed_list_is_refused_naming_the_element_and_what_is_allowed(tmp_path, value, message):
    run = Run(dir=tmp_path / "run")
    with pytest.raises(TypeError, match=message) as exc:
        run.log({"ok": 1, "mixed": value})
    assert "'mixed'" in str(exc.value) and "values of one type" in str(exc.value)
    assert "put mixed cells in a Table" in str(exc.value)
    assert os.listdir(run.dir) == []  # nothing written: no line, no media file


def test_a_value_inside_plain_data_or_an_unknown_element_names_where(tmp_path):
    run = Run(dir=tmp_path / "run")
    with pytest.raises(TypeError, match=r"'d': Audio at \['a'\]\[0\] is inside a list or dict"):
        run.log({"d": {"a": [clip()]}})
    with pytest.raises(TypeError, match=r"'l': object at \[1\] cannot be logged; log numbers"):
        run.log({"l": [1, object()]})
    assert os.listdir(run.dir) == []


# -- 2: strict JSON lines, NaN and infinities kept -----------------------------------------
def test_nan_and_infinities_are_written_as_strict_json_and_read_back_exactly(tmp_path):
    run = Run(dir=tmp_path / "run")
    run.log(
        {
            "loss": float("nan"),
            "inf": float("inf"),
            "ninf": float("-inf"),
            "f32": np.float32("nan"),
            "list": [1.5, float("nan"), float("-inf")],
            "dict": {"a": float("inf"), "b": [float("nan")]},
            "text": "NaN",  # a string stays a string
        }
    )
    (line,) = strict_lines(run.dir)
    assert line["loss"] == {"_type": "float", "value": "NaN"}
    assert line["list"][2] == {"_type": "float", "value": "-Infinity"}
    schemas.validate(line, "history-row")
    schemas.validate(line["inf"])
    for rows in (read_history(run.dir), read_history(run.dir, load_values=False)):
        (row,) = rows
        assert math.isnan(row["loss"]) and math.isnan(row["f32"])
        assert row["inf"] == math.inf and row["ninf"] == -math.inf
        assert row["list"][0] == 1.5 and math.isnan(row["list"][1]) and row["list"][2] == -math.inf
        assert row["dict"]["a"] == math.inf and math.isnan(row["dict"]["b"][0])
        assert row["text"] == "NaN"


def test_old_histories_with_bare_nan_still_read(tmp_path):
    (tmp_path / "history.jsonl").write_text(
        '{"_step": 0, "loss": NaN, "up": Infinity, "down": -Infinity, "l": [NaN]}\n'
    )
    (row,) = read_history(tmp_path)
    assert math.isnan(row["loss"]) and row["up"] == math.inf and row["down"] == -math.inf
    assert math.isnan(row["l"][0])


def test_the_float_form_is_not_ambiguous(tmp_path, own_registry):
    run = Run(dir=tmp_path / "run")
    with pytest.raises(ValueError, match=r"'_type': 'float' is how the history writes NaN"):
        run.log({"x": {"_type": "float", "value": "NaN"}})
    with pytest.raises(ValueError, match="already has a different JSON schema"):
        schemas.register_schema("float", {"type": "object"})
    # a value's own JSON has no float form: refused, not written as bare NaN
    media.register(Point)
    with pytest.raises(ValueError, match=r"'p': its JSON holds NaN or infinity"):
        run.log({"p": Point(float("nan"), 1)})
    assert not os.path.exists(os.path.join(run.dir, "history.jsonl"))
    # a malformed float form in a file is skipped like any bad line
    (tmp_path / "history.jsonl").write_text(
        '{"_step": 0, "x": {"_type": "float", "value": "nan"}}\n{"_step": 1, "x": 1}\n'
    )
    with pytest.warns(artifacts.HistoryWarning, match=r"line 1 skipped .*float"):
        assert [r["x"] for r in read_history(tmp_path)] == [1]


# -- 3: several log calls at one step ------------------------------------------------------
def test_log_calls_at_one_step_make_one_row_the_last_value_winning(tmp_path):
    run = Run(dir=tmp_path / "run")
    run.log({"a": 1}, step=0)
    run.log({"b": 2, "a": 3}, step=0)
    run.log({"c": clip(0.5)}, step=0)
    run.log({"d": 4})  # the default step still moves on
    with pytest.raises(ValueError, match=r"Invalid step 0: the last logged step is 1; steps never"):
        run.log({"e": 5}, step=0)
    rows = run.history()
    assert [r["_step"] for r in rows] == [0, 1]
    assert {k: v for k, v in rows[0].items() if not k.startswith("_")} == {
        "a": 3,
        "b": 2,
        "c": clip(0.5),
    }
    assert len(strict_lines(run.dir)) == 4  # appended, never rewritten
    resumed = Run(dir=run.dir, resume=True)
    resumed.log({"f": 6}, step=1)
    assert resumed.history()[1]["d"] == 4 and resumed.history()[1]["f"] == 6


# -- 4: resume and read_history of folders that do not exist -------------------------------
def test_resume_must_refuses_a_folder_without_a_run(tmp_path):
    typo = tmp_path / "rnu"
    with pytest.raises(FileNotFoundError, match=r"No run to resume in .*rnu: the folder does not"):
        Run(dir=typo, resume="must")
    assert not typo.exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no run .* drop resume='must'"):
        Run(dir=tmp_path / "empty", resume="must")
    Run(dir=tmp_path / "run").log({"x": 1})
    assert Run(dir=tmp_path / "run", resume="must").step == 1
    assert Run(dir=tmp_path / "new", resume="allow").step == 0  # documented: starts one
    with pytest.raises(ValueError, match="Invalid resume 'yes'"):
        Run(dir=tmp_path / "x", resume="yes")


def test_read_history_of_a_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"No run folder .*nope.*does not exist"):
        read_history(tmp_path / "nope")
    assert not (tmp_path / "nope").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="it is a file"):
        read_history(tmp_path / "file")
    assert read_history(tmp_path) == []  # a folder without a history: no rows


# -- 5: use_artifact with a committed version ----------------------------------------------
def test_use_artifact_takes_a_committed_version(tmp_path):
    store = artifacts.open_store(tmp_path / "store")
    draft = Artifact("clips", "dataset")
    draft.add(clip(), "c")
    version = store.commit(draft)
    other = artifacts.open_store(tmp_path / "other")
    with Run(dir=tmp_path / "run", store=other) as run:
        assert run.use_artifact(version) is version
        with pytest.raises(TypeError, match="a draft is not committed"):
            run.use_artifact(Artifact("clips", "dataset"))
        with pytest.raises(TypeError, match="give a reference like 'clips:latest'"):
            run.use_artifact(3)
    # recorded where the version lives, as a ref would be
    assert store.lineage("clips:v0")["used_by"] == [run.id]
    assert [r["action"] for r in run.lineage()] == ["used"]
    store.delete("clips:v0")
    with Run(dir=tmp_path / "run2", store=store) as run2, pytest.raises(ArtifactNotFoundError):
        run2.use_artifact(version)
