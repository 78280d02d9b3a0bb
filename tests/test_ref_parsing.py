"""A reference with nothing after its ':' (``f"clips:{tag}"`` with an empty tag) is refused
everywhere a reference is read, never taken for ``latest``: ``delete("clips:")`` used to
delete the newest version."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from artifacts import Artifact, open_store
from media import Audio


def _store(tmp_path):
    store = open_store(tmp_path / "s")
    for seed in (1, 2):
        d = Artifact("clips", "dataset")
        d.add(Audio(np.full(50, seed, dtype=np.int16), 8000), "a")
        store.commit(d, aliases=["best"])
    return store


def _listing(store):
    return sorted(store.backend.walk_files(""))


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.delete("clips:"),
        lambda s: s.delete("clips:", dry_run=True),
        lambda s: s.artifact("clips:"),
        lambda s: s.resolve("clips:"),
        lambda s: s.lineage("clips:"),
        lambda s: s.set_alias("clips", "prod", ""),
        lambda s: s.copy_to(open_store(s.backend.root + "-copy"), ["clips:"]),
    ],
    ids=["delete", "delete-dry", "artifact", "resolve", "lineage", "set_alias", "copy_to"],
)
def test_an_empty_version_is_refused_and_nothing_changes(tmp_path, call):
    store = _store(tmp_path)
    before = _listing(store)
    with pytest.raises(ValueError, match=r"'clips:'.*no version or alias after ':'.*'name:vN'"):
        call(store)
    assert _listing(store) == before
    assert open_store(tmp_path / "s").versions("clips") == ["v0", "v1"]
    assert not (tmp_path / "s-copy").exists()


def _cli(store, *args):
    return subprocess.run(
        [sys.executable, "-m", "artifacts", "--store", store.backend.root, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("delete", "clips:"),
        ("show", "clips:"),
        ("verify", "clips:"),
        ("alias", "set", "clips:", "x"),
    ],
)
def test_the_command_refuses_an_empty_version(tmp_path, args):
    store = _store(tmp_path)
    before = _listing(store)
    done = _cli(store, *args)
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    assert "Invalid artifact reference 'clips:': no version or alias after ':'" in done.stderr
    assert _listing(store) == before
    assert open_store(tmp_path / "s").aliases("clips") == {"best": "v1", "latest": "v1"}


def test_alias_remove_of_an_empty_alias_names_the_artifact(tmp_path):
    store = _store(tmp_path)
    done = _cli(store, "alias", "remove", "clips:")
    assert done.returncode == 1
    assert "name the alias to remove: clips:ALIAS or clips ALIAS" in done.stderr
    assert open_store(tmp_path / "s").aliases("clips") == {"best": "v1", "latest": "v1"}
