"""Commits that would write what the store cannot read back (issue 12, cases 4 and 6).

A manifest is checked as a reader checks it before anything is written; a version number
past what the format lists is refused before anything is written.  The store is byte for
byte unchanged after the refusal, and still reads, lists and collects.
"""

from __future__ import annotations

import json

import pytest
from conftest import store_url
from integrity_helpers import resealed, snapshot

import artifacts
from artifacts import Artifact
from schemas import SchemaError


def _draft(name="clips", text="hello"):
    draft = Artifact(name, "dataset")
    with draft.new_file("notes.txt") as f:
        f.write(text)
    return draft


@pytest.fixture(params=["local", "memory", "s3"])
def store(request, tmp_path):
    return artifacts.open_store(store_url(request.param, tmp_path, request))


def test_an_unreadable_manifest_is_refused_before_anything_is_written(store):
    store.commit(_draft())
    draft = store.artifact("clips:v0").new_draft()
    draft.type = ""  # what `artifacts put --update --type ""` did
    with draft.new_file("more.txt") as f:
        f.write("more")
    before = snapshot(store)
    with pytest.raises(SchemaError, match="not committed: nothing was written"):
        store.commit(draft)
    assert snapshot(store) == before
    assert store.versions("clips") == ["v0"]
    store.gc(dry_run=True)
    store.commit(_draft(text="next"))  # later commits still work
    assert store.versions("clips") == ["v0", "v1"]


def _plant_version(store, n: int) -> None:
    obj = json.loads(store.backend.read("artifacts/clips/versions/v0.json"))
    obj["version"] = f"v{n}"
    store.backend.write(f"artifacts/clips/versions/v{n}.json", resealed(obj))


def test_a_version_past_the_last_listable_number_is_refused(store):
    store.commit(_draft())
    _plant_version(store, 999_999_999)
    assert store.versions("clips")[-1] == "v999999999"
    before = snapshot(store)
    with pytest.raises(ValueError, match="past v999999999"):
        store.commit(_draft(text="next"))
    assert snapshot(store) == before
