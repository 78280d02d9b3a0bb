"""When part of a store operation fails after something was written, the error says what
was done, what was not, and how to finish: a commit whose aliases could not move, a copy
between stores that met a damaged source entry or an unreadable alias."""

from __future__ import annotations

import numpy as np
import pytest

import artifacts
from artifacts import AliasNotMovedError, Artifact, open_store
from media import Audio


def _draft(seed: int) -> Artifact:
    d = Artifact("clips", "dataset")
    d.add(Audio(np.full(200, seed, dtype=np.int16), 8000), "a")
    return d


# -- a commit whose aliases cannot move -------------------------------------------------------
def test_a_commit_whose_alias_folder_is_broken_says_the_version_was_made(tmp_path):
    root = tmp_path / "s"
    store = open_store(root)
    store.commit(_draft(0), aliases=["best"])
    aliases = root / "artifacts" / "clips" / "aliases"
    for f in aliases.iterdir():
        f.unlink()
    aliases.rmdir()
    aliases.write_bytes(b"not a folder")  # a real OS error when an alias is written there
    with pytest.raises(AliasNotMovedError) as caught:
        store.commit(_draft(1), aliases=["best", "prod"])
    err = caught.value
    message = str(err)
    assert message.startswith(f"clips:v1 was committed to {store.url} (latest moved to it), ")
    assert "but alias(es) best, prod did not move: FileExistsError: " in message
    assert "store.set_alias('clips', 'best', 'v1'); store.set_alias('clips', 'prod', 'v1')" in (
        message
    )
    assert isinstance(err, artifacts.ArtifactError)
    assert isinstance(err.__cause__, FileExistsError)
    assert err.version.qualified_name == "clips:v1" and err.aliases == ["best", "prod"]
    assert open_store(root).versions("clips") == ["v0", "v1"]
    # what the message says to do
    aliases.unlink()
    for alias in err.aliases:
        store.set_alias("clips", alias, "v1")
    assert open_store(root).aliases("clips") == {"best": "v1", "latest": "v1", "prod": "v1"}


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_an_alias_that_fails_after_another_moved_and_the_retry(tmp_path, backend):
    url = str(tmp_path / "s") if backend == "local" else f"memory://alias-{tmp_path.name}"
    store = open_store(url)
    store.commit(_draft(0))
    real_write = store.backend.write

    def write(path, data):
        if path.endswith("/aliases/prod.json"):
            raise PermissionError(13, "Permission denied", path)
        return real_write(path, data)

    store.backend.write = write
    with pytest.raises(AliasNotMovedError) as caught:
        store.commit(_draft(1), aliases=["best", "prod"])
    message = str(caught.value)
    assert "clips:v1 was committed to" in message
    assert "alias(es) prod did not move (moved: best): PermissionError: " in message
    assert caught.value.aliases == ["prod"]
    # the same draft again: no new version, and an error saying so while the cause lasts
    with pytest.raises(AliasNotMovedError, match="no new version was made: the draft equals"):
        store.commit(_draft(1), aliases=["prod"])
    store.backend.write = real_write
    assert store.commit(_draft(1), aliases=["prod"]).version == "v1"
    assert store.versions("clips") == ["v0", "v1"]
    assert store.aliases("clips") == {"best": "v1", "latest": "v1", "prod": "v1"}
