"""Following a cross-store reference creates nothing at the location a manifest names
(issue 12, case 8): the reader gets an error naming the missing store."""

from __future__ import annotations

import json
import uuid

import fsspec
import pytest
from conftest import store_url
from integrity_helpers import resealed

import artifacts
from artifacts import Artifact, ArtifactNotFoundError


@pytest.mark.parametrize("backend", ["local", "memory", "s3"])
def test_reading_a_reference_creates_nothing_where_it_points(backend, tmp_path, request):
    def url(tag):
        if backend == "s3":
            return f"{request.getfixturevalue('s3_bucket')}/{tag}"
        return store_url(backend, tmp_path / tag, request)

    source = artifacts.open_store(url("a"))
    draft = Artifact("clips", "dataset")
    with draft.new_file("notes.txt") as f:
        f.write("hello")
    source.commit(draft)
    store = artifacts.open_store(url("b"))
    art = store.commit(source.artifact("clips:v0").new_draft())
    assert "ref" not in art.manifest.entries["notes.txt"]  # copied (issue 15)
    # a forged manifest makes the entry another location's (the digest does not cover it)
    where = {
        "local": str(tmp_path / "nowhere" / "deep"),
        "memory": f"memory://nowhere-{uuid.uuid4().hex}",
        "s3": f"{source.url.rsplit('/', 1)[0]}/nowhere",
    }[backend]
    path = "artifacts/clips/versions/v0.json"
    obj = json.loads(store.backend.read(path))
    ref = {"artifact": "clips:v0", "path": "notes.txt", "store": where}
    obj["entries"]["notes.txt"]["ref"] = ref
    store.backend.write(path, resealed(obj))
    fresh = artifacts.open_store(store.url)
    with pytest.raises(ArtifactNotFoundError, match="nothing was created there"):
        fresh.artifact("clips:v0").read_bytes("notes.txt")
    fs, root = fsspec.core.url_to_fs(where)
    assert not fs.exists(root)
    if backend == "local":
        assert not (tmp_path / "nowhere").exists()
