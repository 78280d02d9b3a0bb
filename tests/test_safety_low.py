"""The "Low" cases of issue 12: wrong error types, misleading results, broken promises
without loss."""

from __future__ import annotations

import json
import os

import pytest
from integrity_helpers import resealed

import artifacts
from artifacts import Artifact
from artifacts.cli import main
from artifacts.manifest import canonical_json


def _deep(n: int = 5000) -> list:
    out: list = []
    cur = out
    for _ in range(n):
        cur.append([])
        cur = cur[0]
    return out


def test_deeply_nested_metadata_is_a_value_error_not_recursion_error():
    with pytest.raises(ValueError, match="nested too deeply"):
        Artifact("a", "dataset", metadata={"x": _deep()})


def test_latest_cannot_be_set_as_an_alias(store):
    store.commit(Artifact("a", "dataset"))
    with pytest.raises(ValueError, match="'latest'"):
        store.set_alias("a", "latest", "v0")


def test_a_planted_latest_alias_does_not_shadow_the_newest_version(store):
    for i in range(2):
        d = Artifact("a", "dataset", metadata={"i": i})
        store.commit(d)
    obj = {
        "_type": "alias",
        "artifact": "a",
        "alias": "latest",
        "version": "v0",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    }
    store.backend.write("artifacts/a/aliases/latest.json", canonical_json(obj))
    fresh = artifacts.open_store(store.url)
    assert fresh.aliases("a")["latest"] == "v1"
    assert fresh.artifact("a:latest").version == "v1"


def test_stored_names_are_printed_escaped(tmp_path, capsys):
    url = str(tmp_path / "s")
    store = artifacts.open_store(url)
    d = Artifact("a", "dataset", description="\x1b]0;owned\x07\x1b[2J desc")
    with d.new_file("\x1b[31mred\u202e.txt") as f:
        f.write("x")
    store.commit(d)
    assert main(["show", "a:v0", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b[31mred\\u202e.txt" in out
    assert main(["show", "a:v0", "--store", url, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["description"].startswith("\x1b]0;")


def test_verify_without_raising_reports_a_reference_to_a_missing_store(tmp_path):
    store = artifacts.open_store(tmp_path / "s")
    d = Artifact("a", "dataset")
    with d.new_file("n.txt") as f:
        f.write("x" * 5000)  # (a blob, not inline)
    store.commit(d)
    path = "artifacts/a/versions/v0.json"
    obj = json.loads(store.backend.read(path))
    obj["entries"]["n.txt"]["ref"] = {
        "artifact": "zz:v0",
        "path": "n.txt",
        "store": str(tmp_path / "gone"),
    }
    store.backend.write(path, resealed(obj))
    problems = artifacts.open_store(store.url).artifact("a:v0").verify(raise_on_error=False)
    assert len(problems) == 1 and problems[0].startswith("n.txt: no store at")


def test_a_flac_header_claiming_billions_of_frames_is_refused_before_allocating(tmp_path):
    import hashlib

    import numpy as np

    from artifacts import IntegrityError
    from media import Audio

    store = artifacts.open_store(tmp_path / "s")
    d = Artifact("f", "dataset")
    d.add(Audio(np.zeros(100, dtype=np.int16), 8000, format="flac"), "c")
    good = store.commit(d)
    j = json.loads(good.read_bytes("c.audio-file.json"))
    flac = bytearray(good.read_bytes(j["path"]))
    flac[21] |= 0x0F  # STREAMINFO's 36-bit total samples: all ones (2**36 - 1)
    flac[22:26] = b"\xff\xff\xff\xff"
    d = Artifact("g", "dataset")
    with d.new_file("x.audio-file.json", "wb") as f:
        sha = hashlib.sha256(bytes(flac)).hexdigest()
        f.write(json.dumps({"_type": "audio-file", "path": j["path"], "sha256": sha}).encode())
    with d.new_file(j["path"], "wb") as f:
        f.write(bytes(flac))
    bad = store.commit(d)
    with pytest.raises(IntegrityError, match="68719476735 frames, more than"):
        bad.get("x").numpy()


def test_a_table_cell_nested_thousands_deep_is_a_type_error():
    from media import Table

    with pytest.raises(TypeError, match=r"Invalid cell \[\[\[\["):
        Table(columns=["a"], data=[[_deep(3000)]])


def _three_files_and_a_users_folder(tmp_path):
    """A version of a.txt, m.txt and z.txt, and a folder of the user's that holds its own
    a.txt: where a failed download must leave things as they were."""
    store = artifacts.open_store(tmp_path / "s")
    d = Artifact("a", "dataset")
    for name in ("a.txt", "m.txt", "z.txt"):
        with d.new_file(name) as f:
            f.write(f"stored {name}")
    art = store.commit(d)
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "a.txt").write_text("the user's own a.txt")
    return art, dest


def test_a_download_that_fails_half_way_leaves_the_users_files(tmp_path):
    art, dest = _three_files_and_a_users_folder(tmp_path)
    (dest / "z.txt").mkdir()  # a folder where the artifact has a file
    (dest / "z.txt" / "keep").write_text("keep")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        art.download(dest)
    assert (dest / "a.txt").read_text() == "the user's own a.txt"
    assert not (dest / "m.txt").exists()
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt", "z.txt"]


def test_a_download_interrupted_while_moving_puts_the_users_files_back(tmp_path, monkeypatch):
    art, dest = _three_files_and_a_users_folder(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("z.txt"):
            raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        art.download(dest)
    monkeypatch.undo()
    assert (dest / "a.txt").read_text() == "the user's own a.txt"
    assert sorted(p.name for p in dest.iterdir()) == ["a.txt"]


@pytest.mark.parametrize("record", ["history.jsonl", "lineage.jsonl"])
def test_a_run_never_writes_through_a_link_planted_in_its_folder(tmp_path, record):
    from artifacts import Run

    outside = tmp_path / "outside.txt"
    outside.write_text("precious\n")
    run = Run(dir=tmp_path / "run", store=str(tmp_path / "s"))
    os.symlink(outside, tmp_path / "run" / record)
    with pytest.raises(ValueError, match="symbolic link"):
        if record == "history.jsonl":
            run.log({"loss": 1.0})
        else:
            run.log_artifact(Artifact("a", "dataset"))
    assert outside.read_text() == "precious\n"


def test_a_history_line_nested_too_deeply_does_not_stop_a_run(tmp_path):
    import warnings

    from artifacts import Run

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "history.jsonl").write_bytes(b'{"_step": 0}\n{"a":' + b"[" * 100_000 + b"\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = Run(dir=run_dir, store=str(tmp_path / "s"), resume=True)
        run.log({"loss": 1.0})
    assert run.step == 2


def test_a_clip_file_spoiled_after_opening_is_an_integrity_error(tmp_path):
    import numpy as np
    import soundfile as sf

    from artifacts import IntegrityError
    from media import Audio

    path = tmp_path / "c.wav"
    sf.write(path, np.zeros(100, dtype=np.float32), 8000, subtype="FLOAT")
    clip = Audio(str(path))
    path.write_bytes(b"not audio any more")
    with pytest.raises(IntegrityError, match="no longer readable audio"):
        clip.numpy()
