"""Entry names have limits beyond their components: at most 4096 bytes of UTF-8 and 256
components, and valid Unicode.  A draft refuses a name past them, naming it, with nothing
changed; a stored manifest holding one is refused on read (before: ``x/`` * 1000 + ``y``
was committed, verified, then ``download`` raised ``RecursionError``; a lone surrogate
raised a bare ``UnicodeEncodeError``)."""

from __future__ import annotations

import json

import pytest
from integrity_helpers import (
    draft_adders,
    manifest_path,
    read_manifest,
    snapshot,
    snapshot_dir,
    write_manifest,
)

import artifacts
from artifacts import Artifact
from artifacts.manifest import SEAL_KEY
from artifacts.names import ENTRY_NAME_MAX_BYTES, ENTRY_NAME_MAX_DEPTH
from media import SchemaError

DEEP = "x/" * ENTRY_NAME_MAX_DEPTH + "y"  # one component too many
LONG = ("a" * 200 + "/") * 21 + "b"  # 4222 bytes, 22 components of at most 200
LONG_UTF8 = ("é" * 100 + "/") * 21 + "b"  # 2122 characters, 4222 bytes in UTF-8
SURROGATE = "a/\ud800b"

# name -> what the message says
TOO_MUCH = {
    DEEP: f"it has {ENTRY_NAME_MAX_DEPTH + 1} components ('a/b' has 2), more than the 256",
    LONG: "it is 4222 bytes long in UTF-8, more than the 4096 allowed; use a shorter name",
    LONG_UTF8: "it is 4222 bytes long in UTF-8, more than the 4096 allowed",
    SURROGATE: "it is not valid Unicode text: a name must be encodable as UTF-8",
}
# exactly at the limits: accepted
AT_LIMITS = ["x/" * (ENTRY_NAME_MAX_DEPTH - 1) + "y", ("a" * 254 + "/") * 16 + "a" * 16]


@pytest.fixture
def store(tmp_path):
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("n", "dataset")
    with draft.new_file("ok.txt") as f:
        f.write("ok")
    store.commit(draft)
    return store


def adders(draft, tmp_path):
    payload = tmp_path / "payload.txt"
    payload.write_bytes(b"hello")
    return draft_adders(draft, payload, tmp_path)


@pytest.mark.parametrize("name", list(TOO_MUCH), ids=["deep", "long", "long-utf8", "surrogate"])
def test_a_draft_refuses_names_past_the_limits_and_nothing_changes(store, tmp_path, name):
    draft = store.artifact("n:v0").new_draft()
    add = adders(draft, tmp_path)
    before_store, before_src = snapshot(store), snapshot_dir(tmp_path)
    for method, fn in add.items():
        with pytest.raises(ValueError) as info:
            fn(name)
        msg = str(info.value)
        assert msg.startswith("Invalid entry name "), (method, msg)
        assert TOO_MUCH[name] in msg, (method, msg)
        assert len(msg) < 400, (method, msg)  # the name is shown shortened
        assert sorted(draft.entries) == ["ok.txt"], method
    assert snapshot(store) == before_store and snapshot_dir(tmp_path) == before_src
    assert store.commit(draft).version == "v0"  # nothing changed: no new version


def test_the_surrogate_message_names_the_name(store):
    draft = store.artifact("n:v0").new_draft()
    with pytest.raises(ValueError, match=r"^Invalid entry name 'a/\\ud800b': it is not valid"):
        draft.add_file(__file__, SURROGATE)


def test_names_at_the_limits_commit_verify_read_and_download(store, tmp_path):
    src = tmp_path / "f.bin"
    src.write_bytes(b"x" * 10)
    draft = store.artifact("n:v0").new_draft()
    for name in AT_LIMITS:
        assert len(name.encode()) <= ENTRY_NAME_MAX_BYTES
        draft.add_file(str(src), name)
    version = store.commit(draft)
    version.verify()
    again = artifacts.open_store(store.url).artifact(version.qualified_name)
    assert sorted(again.manifest.entries) == sorted(["ok.txt", *AT_LIMITS])
    for name in AT_LIMITS:
        assert again.read_bytes(name) == b"x" * 10
    # the deepest name downloads (before, 1000 components ran os.makedirs out of stack);
    # a 4096-byte name fits no folder on Linux (PATH_MAX counts the folder too)
    deep = store.artifact("n:v0").new_draft()
    deep.add_file(str(src), AT_LIMITS[0])
    out = tmp_path / "dl"
    store.commit(deep).download(str(out))
    assert (out / AT_LIMITS[0]).read_bytes() == b"x" * 10


@pytest.mark.parametrize("name", [DEEP, LONG, LONG_UTF8], ids=["deep", "long", "long-utf8"])
def test_a_stored_manifest_with_such_a_name_is_refused_naming_it(store, name):
    m = read_manifest(store, "n", "v0")
    m["entries"][name] = m["entries"]["ok.txt"]
    write_manifest(store, "n", "v0", m)  # a careful forger: the digest is right
    fresh = artifacts.open_store(store.url)
    with pytest.raises(SchemaError) as info:
        fresh.artifact("n:v0")
    msg = str(info.value)
    assert "v0.json: invalid 'manifest' JSON at $.entries[" in msg
    assert TOO_MUCH[name] in msg


def test_a_stored_manifest_with_a_lone_surrogate_is_refused_naming_it(store):
    m = read_manifest(store, "n", "v0")
    m["entries"][SURROGATE] = m["entries"]["ok.txt"]
    m.pop(SEAL_KEY, None)  # (no seal can be made of such a name: a forger cuts it off)
    with open(manifest_path(store, "n", "v0"), "wb") as f:
        f.write(json.dumps(m).encode())  # (JSON's \ud800 escape: no UTF-8 can hold it)
    with pytest.raises(SchemaError) as info:
        artifacts.open_store(store.url).artifact("n:v0")
    assert "'a/\\ud800b': it is not valid Unicode text" in str(info.value)
