"""Hostile names and paths: each is refused with a specific error, and nothing is written.

Entry names, artifact names, aliases, references, run keys and ``add_dir`` over symbolic
links, on a local folder and on ``memory://``.  Every refusal is checked three ways: the
error's type and message, the draft (unchanged) and the store (a byte snapshot, unchanged).
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from integrity_helpers import draft_adders, open_backend_store, snapshot, snapshot_dir

import artifacts
from artifacts import Artifact, ArtifactNotFoundError, EntryNotFoundError, Run
from media import Audio, Table

LONG = "x" * 256  # one byte over the 255-byte limit of a path component
LONG_UTF8 = "é" * 128  # 128 characters, 256 bytes in UTF-8

# name -> the part of the message that says what is wrong with it
BAD_ENTRY_NAMES = {
    "../x": "'..' component",
    "a/../../b": "'..' component",
    "..": "'..' component",
    ".": "'.' or '..' component",
    "/etc/passwd": "it is absolute",
    "C:/Windows/x": "drive letter",
    "c:x": "drive letter",
    "a\\b": "backslash",
    "..\\..\\x": "backslash",
    "a\x00b": "NUL character",
    LONG: "longer than 255 bytes",
    f"ok/{LONG_UTF8}": "longer than 255 bytes",
    "": "it is empty",
}
BACKENDS = ["local", "memory"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    """A store with one committed version ``clips:v0``, on a local folder and on memory://."""
    store = open_backend_store(request.param, tmp_path)
    draft = Artifact("clips", "dataset")
    draft.add(Audio(np.arange(8, dtype=np.int16), 8000), "clip")
    store.commit(draft, aliases=["best"])
    return store


@pytest.fixture
def payload(tmp_path):
    """A small local file to add."""
    p = tmp_path / "payload.txt"
    p.write_bytes(b"hello")
    return p


def _draft_state(draft: Artifact) -> tuple:
    return (dict(draft._entries), dict(draft._pending), set(draft._dirs))


# add_dir(folder, "") means "at the top of the artifact", so "" is no hostile name there
CASES = [
    (method, bad)
    for method in ("add_file", "new_file", "add", "add_dir", "add_reference")
    for bad in BAD_ENTRY_NAMES
    if (method, bad) != ("add_dir", "")
]


@pytest.mark.parametrize(("method", "bad"), CASES, ids=lambda s: repr(s)[:24])
def test_bad_entry_names_are_refused_and_nothing_changes(store, payload, tmp_path, method, bad):
    draft = store.artifact("clips:latest").new_draft()
    before_draft = _draft_state(draft)
    adders = draft_adders(draft, payload, tmp_path)
    before_store = snapshot(store)
    before_src = snapshot_dir(tmp_path)
    with pytest.raises(ValueError) as info:
        adders[method](bad)
    assert str(info.value).startswith(f"Invalid entry name {bad!r}"), str(info.value)
    assert BAD_ENTRY_NAMES[bad] in str(info.value)
    assert _draft_state(draft) == before_draft
    assert snapshot(store) == before_store
    assert snapshot_dir(tmp_path) == before_src
    # committing the untouched draft makes no new version
    assert store.commit(draft).version == "v0"
    assert snapshot(store) == before_store


def test_a_component_of_exactly_255_bytes_is_allowed(store, payload):
    draft = Artifact("clips", "dataset")
    name = "d/" + "é" * 127 + "x"  # 255 bytes
    assert draft.add_file(payload, name).path == name
    assert store.commit(draft).read_bytes(name) == b"hello"


@pytest.mark.parametrize("bad", ["a//b/", "./a", "a/./b"])
def test_redundant_separators_are_normalized_not_refused(payload, bad):
    draft = Artifact("clips", "dataset")
    assert draft.add_file(payload, bad).path in ("a/b", "a")


@pytest.mark.parametrize(
    "bad, says",
    [
        ("a//b", "in normal form"),
        ("x/", "a trailing '/'"),
        ("./x", "in normal form"),
        ("clip\n", "control character"),
        ("clip\tone", "control character"),
    ],
)
def test_value_names_that_get_could_not_find_again_are_refused(bad, says):
    # an entry name is normalized; a value's name is also how get() finds it, so a value
    # name must already be normal (and printable): "a//b" stored as "a/b" was lost to get
    draft = Artifact("clips", "dataset")
    with pytest.raises(ValueError, match=f"Invalid value name {re.escape(repr(bad))}: .*{says}"):
        draft.add(Audio(np.zeros(8, np.float32), 8000), bad)
    assert _draft_state(draft) == _draft_state(Artifact("clips", "dataset"))


def test_remove_with_a_hostile_name_is_refused(store):
    draft = store.artifact("clips:v0").new_draft()
    before = _draft_state(draft)
    with pytest.raises(ValueError, match=r"Invalid entry name '\.\./x': .*'\.\.' component"):
        draft.remove("../x")
    assert _draft_state(draft) == before


@pytest.mark.parametrize("bad", ["../x", "a/../b", "/etc/passwd"])
def test_get_with_a_hostile_name_finds_nothing(store, bad):
    art = store.artifact("clips:v0")
    before = snapshot(store)
    with pytest.raises(EntryNotFoundError, match=f"no value named {bad!r} in clips:v0"):
        art.get(bad)
    with pytest.raises(FileNotFoundError, match="is not an entry of clips:v0"):
        art.read_bytes(bad)
    assert snapshot(store) == before


BAD_ARTIFACT_NAMES = [
    "../x",
    "..",
    ".",
    "/abs",
    "a/b",
    "a\\b",
    "C:x",
    "a\x00",
    "x" * 129,
    "",
    "clips\n",
]


@pytest.mark.parametrize("bad", BAD_ARTIFACT_NAMES, ids=lambda s: repr(s)[:20])
def test_bad_artifact_names_are_refused_everywhere(store, bad):
    before = snapshot(store)
    message = f"Invalid artifact name {bad!r}: use 1-128 letters"
    with pytest.raises(ValueError) as info:
        Artifact(bad, "dataset")
    assert str(info.value).startswith(message)
    calls = [lambda: store.versions(bad), lambda: store.set_alias(bad, "best", "v0")]
    if ":" not in bad:  # "C:x:v0" reads as artifact "C", alias "x:v0" (refused as an alias)
        calls.append(lambda: store.artifact(f"{bad}:v0"))
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        assert str(info.value).startswith(message), str(info.value)
    with pytest.raises(ValueError, match="Invalid (artifact name|alias)"):
        store.artifact(f"{bad}:v0")
    assert snapshot(store) == before


@pytest.mark.parametrize("bad", ["../x", "a/b", "v3", "a\x00", "x" * 129, "C:x", "a\\b", "best\n"])
def test_bad_aliases_are_refused_and_nothing_written(store, bad):
    before = snapshot(store)
    with pytest.raises(ValueError) as info:
        store.set_alias("clips", bad, "v0")
    assert str(info.value).startswith(f"Invalid alias {bad!r}: use 1-128 letters")
    draft = Artifact("clips", "dataset")
    with pytest.raises(ValueError, match="Invalid alias"):
        store.commit(draft, aliases=[bad])
    if bad != "v3":  # a well-formed version label: looked up as a version, not found
        with pytest.raises(ValueError, match="Invalid alias"):
            store.artifact(f"clips:{bad}")
    else:
        with pytest.raises(ArtifactNotFoundError, match="no version or alias 'clips:v3'"):
            store.artifact(f"clips:{bad}")
    assert snapshot(store) == before


@pytest.mark.parametrize("bad", ["v01", "v-1", "v1x", "v9999999999"])
def test_malformed_versions_are_not_found_or_refused(store, bad):
    before = snapshot(store)
    with pytest.raises((ValueError, ArtifactNotFoundError)) as info:
        store.artifact(f"clips:{bad}")
    assert bad in str(info.value)
    assert snapshot(store) == before


def test_a_bad_run_id_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"Invalid artifact name '\.\./up'"):
        Run(tmp_path / "run", id="../up")


# -- add_dir over symbolic links ------------------------------------------------------------
@pytest.fixture
def tree(tmp_path):
    """``inside/`` with a file and a sub-folder, and ``outside/secret.txt`` beside it."""
    inside = tmp_path / "inside"
    (inside / "sub").mkdir(parents=True)
    (inside / "a.txt").write_bytes(b"a")
    (inside / "sub" / "b.txt").write_bytes(b"b")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    return inside, outside


def _add_dir_refused(store, inside, pattern):
    draft = store.artifact("clips:v0").new_draft()
    before_draft = _draft_state(draft)
    before_store = snapshot(store)
    with pytest.raises(ValueError, match=pattern):
        draft.add_dir(inside, "data")
    assert _draft_state(draft) == before_draft
    assert snapshot(store) == before_store


def test_add_dir_refuses_a_file_link_that_leads_outside(store, tree):
    inside, outside = tree
    os.symlink(outside / "secret.txt", inside / "sub" / "z-leak.txt")
    _add_dir_refused(
        store, inside, r"Invalid file in the folder 'sub/z-leak\.txt': it leads outside"
    )


def test_add_dir_refuses_a_relative_link_that_climbs_out(store, tree):
    inside, _ = tree
    os.symlink("../../outside/secret.txt", inside / "sub" / "climb.txt")
    _add_dir_refused(store, inside, r"'sub/climb\.txt': it leads outside")


def test_add_dir_refuses_a_folder_link_that_leads_outside(store, tree):
    inside, outside = tree
    os.symlink(outside, inside / "escape")
    _add_dir_refused(store, inside, r"Invalid link 'escape': it leads outside")


def test_add_dir_refuses_a_folder_link_inside_too(store, tree):
    # links to folders are never followed: they could loop, and they would duplicate entries
    inside, _ = tree
    os.symlink(inside / "sub", inside / "again")
    _add_dir_refused(store, inside, r"Invalid folder .*again.*: add_dir does not follow links")


def test_add_dir_refuses_a_dangling_link(store, tree):
    inside, _ = tree
    os.symlink(inside / "missing.txt", inside / "dangling.txt")
    _add_dir_refused(store, inside, r"Invalid file .*dangling\.txt.*: not a regular file")


def test_add_dir_accepts_a_file_link_inside_the_folder(store, tree):
    inside, _ = tree
    os.symlink(inside / "sub" / "b.txt", inside / "link-to-b.txt")
    draft = Artifact("linked", "dataset")
    paths = [e.path for e in draft.add_dir(inside, "data")]
    assert paths == ["data/a.txt", "data/link-to-b.txt", "data/sub/b.txt"]
    art = store.commit(draft)
    assert art.read_bytes("data/link-to-b.txt") == b"b"
    art.verify()


# -- run keys -------------------------------------------------------------------------------
BAD_KEYS = {k: v for k, v in BAD_ENTRY_NAMES.items() if k not in ("", ".", "..")}
BAD_KEYS.update({"": "it is empty", "..": "'..' component"})


@pytest.fixture
def run(tmp_path):
    """A run folder with one row already logged."""
    r = Run(tmp_path / "run", store=str(tmp_path / "run-store"))
    r.log({"loss": 1.0})
    return r


@pytest.mark.parametrize("bad", list(BAD_KEYS), ids=lambda s: repr(s)[:24])
def test_run_log_refuses_keys_that_escape_and_writes_nothing(run, tmp_path, bad):
    before = snapshot_dir(tmp_path)
    clip = Audio(np.ones(16, np.float32), 16000)
    with pytest.raises(ValueError) as info:
        run.log({"fine": clip, bad: clip})
    assert str(info.value).startswith(f"Invalid run key {bad!r}"), str(info.value)
    assert BAD_KEYS[bad] in str(info.value)
    assert snapshot_dir(tmp_path) == before
    assert not clip.is_bound()
    assert run.step == 1


@pytest.mark.parametrize("bad", list(BAD_KEYS), ids=lambda s: repr(s)[:24])
def test_bind_to_run_refuses_keys_that_escape_and_writes_nothing(run, tmp_path, bad):
    before = snapshot_dir(tmp_path)
    clip = Audio(np.ones(16, np.float32), 16000)
    table = Table(["clip"], [[Audio(np.ones(8, np.int16), 8000)]])
    for value in (clip, table):
        with pytest.raises(ValueError) as info:
            value.bind_to_run(run, bad, 0)
        assert str(info.value).startswith(f"Invalid run key {bad!r}"), str(info.value)
    assert snapshot_dir(tmp_path) == before
    assert not clip.is_bound()


def test_a_key_whose_media_file_name_would_be_too_long_writes_nothing(run, tmp_path):
    key = "k" * 240  # valid alone; "<key>_<step>_<id>.wav" is over 255 bytes
    before = snapshot_dir(tmp_path)
    clip = Audio(np.ones(16, np.float32), 16000)
    message = r"Invalid run key 'k{240}': its media file names .* longer than 255 bytes"
    with pytest.raises(ValueError, match=message):
        run.log({"fine": Audio(np.zeros(4, np.int16), 8000), key: clip})
    assert snapshot_dir(tmp_path) == before
    assert run.step == 1


def test_keys_with_sub_folders_stay_inside_the_run(run):
    clip = Audio(np.ones(16, np.float32), 16000)
    run.log({"eval/clips": clip})
    rel = clip.bound_path(run.dir)
    assert rel.startswith("media/audio/eval/clips_1_")
    full = os.path.realpath(os.path.join(run.dir, rel))
    assert full.startswith(os.path.realpath(run.dir) + os.sep)


def test_bind_to_run_refuses_a_run_folder_link_that_leads_outside(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "media").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, run_dir / "media" / "audio")  # planted by someone else

    class Folder:
        dir = str(run_dir)

    before = snapshot_dir(outside)
    clip = Audio(np.ones(4, np.float32), 16000)
    message = r"Invalid run key 'media/audio/k_0_[0-9a-f]{20}\.wav': it leads outside"
    with pytest.raises(ValueError, match=message):
        clip.bind_to_run(Folder(), "k", 0)
    assert snapshot_dir(outside) == before


def test_default_store_is_not_touched_by_refusals(tmp_path):
    store = artifacts.open_store()
    before = snapshot(store)
    with pytest.raises(ValueError, match="Invalid entry name"):
        Artifact("x", "dataset").add_file(__file__, "../escape.py")
    assert snapshot(store) == before
