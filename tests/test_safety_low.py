"""The "Low" cases of issue 12: wrong error types, misleading results, broken promises
without loss."""

from __future__ import annotations

import json

import pytest

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
