"""The store test suite: every ``artifacts`` row of API.md, on every backend.

The ``store`` fixture gives a fresh store on a local folder, on ``memory://``, on
``s3://`` (moto's S3 server) and on ``az://`` (Azurite).  What the store wrote is checked by
an independent path: the :class:`Raw` helper reads and changes the backend through a new
fsspec filesystem, never through the store's own backend object.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import fsspec
import numpy as np
import pytest

import artifacts
import schemas
from artifacts import (
    Artifact,
    ArtifactNotFoundError,
    EntryNotFoundError,
    IntegrityError,
    ReadOnlyError,
    Run,
    open_store,
)
from artifacts.manifest import blob_path
from media import Audio, Table

# -- helpers that read the backend directly ------------------------------------------------


class Raw:
    """The files of a store, seen through a fresh fsspec filesystem (not the store's own)."""

    def __init__(self, url: str):
        if "://" not in url:
            self.fs = fsspec.filesystem("file", auto_mkdir=True)
            self.root = os.path.abspath(url)
        else:
            self.fs, self.root = fsspec.core.url_to_fs(url, skip_instance_cache=True)
        self.root = self.root.rstrip("/")

    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def files(self, prefix: str = "") -> dict[str, int]:
        """Relative path -> size of every file under ``prefix``."""
        self.fs.invalidate_cache()
        base = self._full(prefix).rstrip("/")
        if not self.fs.exists(base):
            return {}
        found = self.fs.find(base, detail=True)
        out = {}
        for name, info in found.items():
            assert name.startswith(self.root + "/"), (name, self.root)
            out[name[len(self.root) + 1 :]] = int(info["size"])
        return out

    def blobs(self) -> dict[str, int]:
        """Digest -> size of every blob."""
        out = {}
        for rel, size in self.files("blobs").items():
            parts = rel.split("/")
            assert parts[:2] == ["blobs", "sha256"], rel
            out[parts[2] + parts[3]] = size
        return out

    def read(self, rel: str) -> bytes:
        return self.fs.cat_file(self._full(rel))

    def write(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self._full(rel), data)

    def delete(self, rel: str) -> None:
        self.fs.rm_file(self._full(rel))

    def flip(self, digest: str) -> None:
        """Flip the first byte of a blob (same size, different bytes)."""
        self.flip_byte(blob_path(digest), 0)

    def flip_byte(self, rel: str, at: int) -> None:
        """Flip the byte at offset ``at`` of the file ``rel`` (same size, different bytes)."""
        data = bytearray(self.read(rel))
        data[at] ^= 0xFF
        self.write(rel, bytes(data))


@pytest.fixture
def raw(store):
    return Raw(store.url)


def clip(seed: int = 0, n: int = 64, dtype=np.float32, caption=None) -> Audio:
    """A small deterministic clip."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        data = rng.standard_normal(n).astype(dtype)
    else:
        data = rng.integers(-1000, 1000, n).astype(dtype)
    return Audio(data, 8000, caption=caption)


def read(path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def media_entries(artifact: Artifact) -> dict[str, artifacts.ManifestEntry]:
    return {p: e for p, e in artifact.entries.items() if p.startswith("media/")}


def other_url(store, tmp_path, name: str) -> str:
    """A second store on the same kind of backend as ``store``."""
    if store.is_local():
        return str(tmp_path / name)
    return store.url.rsplit("/", 1)[0] + "/" + name


# -- open_store ---------------------------------------------------------------------------


def test_open_store_none_uses_the_environment_variable(tmp_path, monkeypatch):
    where = tmp_path / "from-env"
    monkeypatch.setenv("MEDIA_ARTIFACTS_STORE", str(where))
    store = open_store()
    assert store.is_local()
    assert store.url == str(where)
    assert not where.exists()  # opening (reading) creates nothing; the first commit does
    store.commit(Artifact("clips", type="dataset"))
    assert json.loads((where / "store.json").read_bytes()) == {"_type": "store", "format": 1}


def test_open_store_none_default_is_a_per_user_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDIA_ARTIFACTS_STORE")
    monkeypatch.setattr(sys, "platform", "linux")  # the POSIX rule; others are documented
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    expected = str(tmp_path / "xdg" / "media-artifacts" / "store")
    assert artifacts.default_store_path() == expected
    assert open_store().url == expected
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert artifacts.default_store_path() == str(
        tmp_path / "home" / ".local" / "share" / "media-artifacts" / "store"
    )


def test_the_first_commit_writes_a_marker_and_reopens(store, raw):
    assert raw.files() == {}
    store.commit(Artifact("clips", type="dataset"))
    assert json.loads(raw.read("store.json")) == {"_type": "store", "format": 1}
    assert open_store(store.url).names() == ["clips"]


def test_open_store_refuses_a_foreign_store_json(store, raw):
    raw.write("store.json", b'{"_type": "something-else"}')
    with pytest.raises(ValueError, match="not a media-artifacts store marker"):
        open_store(store.url)


# -- drafts -------------------------------------------------------------------------------


def test_artifact_is_a_draft():
    draft = Artifact("clips", type="dataset", description="d", metadata={"k": [1, 2]})
    assert draft.is_draft
    assert (draft.name, draft.type, draft.description) == ("clips", "dataset", "d")
    assert draft.metadata == {"k": [1, 2]}
    assert draft.qualified_name == "clips:draft"
    assert len(draft) == 0
    with pytest.raises(ValueError, match="commit the draft first"):
        draft.get("x")
    with pytest.raises(ValueError, match="Invalid artifact name 'a/b'"):
        Artifact("a/b", type="dataset")
    with pytest.raises(TypeError, match="Invalid metadata: it must be JSON-serializable"):
        Artifact("a", type="dataset", metadata={"x": object()})


def test_add_writes_json_and_media_and_returns_the_entry(store, raw):
    c = clip(1, caption="hi")
    draft = Artifact("clips", type="dataset")
    entry = draft.add(c, "clip0")
    assert entry.path == "clip0.audio-file.json"
    media_path = f"media/audio/{c.sha256[:20]}.wav"
    assert sorted(draft.entries) == ["clip0.audio-file.json", media_path]
    assert draft.entries[media_path].digest == c.sha256
    assert draft.entries[media_path].size == c.size
    v0 = store.commit(draft)
    # a small value JSON travels inside the manifest; its media is a blob
    stored = json.loads(raw.read("artifacts/clips/versions/v0.json"))["entries"][entry.path]
    data = stored["inline"].encode("utf-8")
    assert len(data) == entry.size and hashlib.sha256(data).hexdigest() == entry.digest
    obj = json.loads(data)
    assert obj["_type"] == "audio-file"
    assert obj["path"] == media_path
    assert obj["caption"] == "hi"
    schemas.validate(obj)
    assert raw.blobs() == {c.sha256: c.size}
    assert v0.get("clip0").numpy().tobytes() == c.numpy().tobytes()


def test_add_same_name_twice_is_an_error_and_leaves_no_orphan(store):
    draft = Artifact("clips", type="dataset")
    draft.add(clip(1), "clip0")
    before = dict(draft.entries)
    other = clip(2)
    with pytest.raises(
        ValueError,
        match=r"'clip0.audio-file.json' is already in clips:draft.*"
        r"overwrite=True",
    ):
        draft.add(other, "clip0")
    assert draft.entries == before  # the second clip's media did not sneak in
    with pytest.raises(ValueError, match="already in clips:draft"):
        draft.add(other, "clip0.audio-file.json")
    assert draft.entries == before
    draft.add(other, "clip0", overwrite=True)
    v0 = store.commit(draft)
    assert v0.get("clip0") == other
    assert v0.get("clip0").numpy().tobytes() == other.numpy().tobytes()


def test_add_refuses_a_non_value():
    draft = Artifact("clips", type="dataset")
    with pytest.raises(TypeError, match=r"add\(\) takes a media value.*use add_file\(\)"):
        draft.add(b"bytes", "x")
    assert len(draft) == 0


def test_add_table_stores_each_media_cell_once(store, raw):
    a, b = clip(1), clip(2)
    table = Table(columns=["name", "audio"], data=[["a", a], ["b", b], ["a2", a]])
    draft = Artifact("tables", type="dataset")
    draft.add(table, "t")
    v0 = store.commit(draft)
    assert sorted(media_entries(v0)) == sorted(f"media/audio/{x.sha256[:20]}.wav" for x in (a, b))
    assert a.sha256 in raw.blobs() and b.sha256 in raw.blobs()
    got = v0.get("t")
    assert got.data[2][1].numpy().tobytes() == a.numpy().tobytes()


def test_add_file(store, raw, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_bytes(b"hello\n")
    draft = Artifact("files", type="misc")
    e = draft.add_file(f)
    assert (e.path, e.size) == ("notes.txt", 6)
    e2 = draft.add_file(str(f), name="sub/again.txt")
    assert e2.path == "sub/again.txt" and e2.digest == e.digest
    with pytest.raises(FileNotFoundError, match="no such file to add"):
        draft.add_file(tmp_path / "missing.txt")
    other = tmp_path / "other.txt"
    other.write_bytes(b"other")
    with pytest.raises(ValueError, match="'notes.txt' is already in files:draft"):
        draft.add_file(other, name="notes.txt")
    assert draft.add_file(f).path == "notes.txt"  # the same content again is harmless
    v0 = store.commit(draft)
    assert v0.read_bytes("sub/again.txt") == b"hello\n"
    assert raw.blobs() == {e.digest: 6}  # identical files are stored once


def test_add_dir(store, tmp_path):
    d = tmp_path / "dir"
    (d / "a" / "b").mkdir(parents=True)
    (d / "top.txt").write_bytes(b"top")
    (d / "a" / "b" / "deep.bin").write_bytes(b"\x00\x01")
    draft = Artifact("dirs", type="misc")
    got = draft.add_dir(d, name="data")
    assert [e.path for e in got] == ["data/a/b/deep.bin", "data/top.txt"]
    with pytest.raises(NotADirectoryError, match="no such folder to add"):
        draft.add_dir(tmp_path / "nope")
    v0 = store.commit(draft)
    assert v0.read_bytes("data/a/b/deep.bin") == b"\x00\x01"
    root = v0.download(tmp_path / "out")
    assert read(os.path.join(root, "data", "top.txt")) == b"top"


def test_add_dir_refuses_links_out_of_the_folder(tmp_path):
    d = tmp_path / "dir"
    d.mkdir()
    (tmp_path / "secret").write_bytes(b"s")
    (d / "ok.txt").write_bytes(b"ok")
    os.symlink(tmp_path / "secret", d / "link")
    draft = Artifact("dirs", type="misc")
    with pytest.raises(ValueError, match="leads outside"):
        draft.add_dir(d)
    assert len(draft) == 0


@pytest.fixture
def external(store, tmp_path):
    """A URL of a file outside the store, on the same kind of backend."""
    raw = Raw(store.url)
    if store.is_local():
        path = tmp_path / "external.bin"
        path.write_bytes(b"external bytes")
        return str(path), raw
    url = store.url.rsplit("/", 1)[0] + "/outside/external.bin"
    with fsspec.open(url, "wb") as f:
        f.write(b"external bytes")
    return url, raw


def _rewrite(url: str, data: bytes) -> None:
    fs, path = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    fs.pipe_file(path, data)


def test_add_reference_records_uri_and_digest_and_copies_no_bytes(store, external):
    url, raw = external
    blobs_before = raw.blobs()
    draft = Artifact("refs", type="misc")
    e = draft.add_reference(url)
    assert (e.path, e.uri, e.size) == ("external.bin", url, 14)
    import hashlib

    assert e.digest == hashlib.sha256(b"external bytes").hexdigest()
    v0 = store.commit(draft)
    assert raw.blobs() == blobs_before  # no bytes copied into the store
    assert v0.manifest.entries["external.bin"]["uri"] == url
    assert v0.read_bytes("external.bin") == b"external bytes"
    assert v0.verify() == []
    _rewrite(url, b"EXTERNAL BYTES")  # same size, different bytes
    with pytest.raises(IntegrityError, match="refs:v0/external.bin"):
        v0.read_bytes("external.bin")
    with pytest.raises(IntegrityError, match="1 bad entry"):
        v0.verify()


def test_add_reference_without_checksum_records_an_etag(store, external):
    url, _ = external
    draft = Artifact("refs", type="misc")
    e = draft.add_reference(url, name="ext", checksum=False)
    assert e.digest is None and e.etag
    v0 = store.commit(draft)
    assert v0.read_bytes("ext") == b"external bytes"
    with pytest.raises(FileNotFoundError, match="no such file to reference"):
        draft.add_reference(url + ".missing")


def test_new_file(store):
    draft = Artifact("files", type="misc")
    with draft.new_file("notes/readme.txt") as f:
        f.write("héllo")
    with draft.new_file("raw.bin", mode="wb") as f:
        f.write(b"\x00\xff")
    with pytest.raises(RuntimeError, match="boom"), draft.new_file("broken.txt") as f:
        f.write("half")
        raise RuntimeError("boom")
    assert sorted(draft.entries) == ["notes/readme.txt", "raw.bin"]
    with pytest.raises(ValueError, match="Unknown mode 'a'"), draft.new_file("x", mode="a"):
        pass
    with pytest.raises(ValueError, match="'raw.bin' is already in files:draft"):
        with draft.new_file("raw.bin", mode="wb"):
            pass
    v0 = store.commit(draft)
    assert v0.read_bytes("notes/readme.txt") == "héllo".encode()
    assert v0.read_bytes("raw.bin") == b"\x00\xff"


def test_remove(store):
    draft = Artifact("files", type="misc")
    draft.add(clip(1), "clip0")
    with draft.new_file("dir/a.txt") as f:
        f.write("a")
    with draft.new_file("dir/b.txt") as f:
        f.write("b")
    with draft.new_file("c.txt") as f:
        f.write("c")
    draft.remove("clip0")  # a value, by its name without suffix
    draft.remove("dir")  # a folder of entries
    draft.remove("c.txt")
    assert list(draft.entries) == []  # the clip's media went with it
    with pytest.raises(EntryNotFoundError, match="no entry named 'nope' in files:draft"):
        draft.remove("nope")
    assert issubclass(EntryNotFoundError, LookupError)
    v0 = store.commit(draft)
    with pytest.raises(ReadOnlyError, match="files:v0 is committed and read-only.*new_draft"):
        v0.remove("c.txt")


@pytest.mark.parametrize(
    "name, normal",
    [("./a//b/", "a/b"), ("a/./b", "a/b"), ("x", "x"), ("d/e/f.txt", "d/e/f.txt")],
)
def test_entry_names_are_normalized(name, normal):
    draft = Artifact("files", type="misc")
    with draft.new_file(name) as f:
        f.write("x")
    assert list(draft.entries) == [normal]


@pytest.mark.parametrize(
    "name, problem",
    [
        ("..", "'..' component"),
        ("../escape", "'..' component"),
        ("a/../../b", "'..' component"),
        ("/etc/passwd", "it is absolute"),
        ("a\x00b", "NUL character"),
        ("a\\b", "backslash"),
        ("C:/x", "drive letter"),
        ("", "it is empty"),
    ],
)
def test_entry_names_that_could_escape_are_refused(name, problem, tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(b"f")
    draft = Artifact("files", type="misc")
    with pytest.raises(ValueError, match=f"Invalid entry name .*{problem}"):
        with draft.new_file(name):
            pass
    with pytest.raises(ValueError, match=f"Invalid entry name .*{problem}"):
        draft.add_file(f, name=name)
    with pytest.raises(ValueError, match=f"Invalid entry name .*{problem}"):
        draft.add(clip(1), name)
    assert len(draft) == 0


# -- reading ------------------------------------------------------------------------------


def test_get_with_and_without_suffix_names_its_source(store):
    c = clip(3, dtype=np.int16, caption="c")
    draft = Artifact("clips", type="dataset")
    draft.add(c, "clip0")
    store.commit(draft)
    art = store.artifact("clips:latest")
    for name in ("clip0", "clip0.audio-file.json"):
        got = art.get(name)
        assert isinstance(got, Audio)
        assert got == c
        assert got.artifact_source.artifact.qualified_name == "clips:v0"
        assert got.artifact_source.artifact is art
        assert got.artifact_source.name == "clip0"
    with pytest.raises(
        EntryNotFoundError, match="no value named 'nope' in clips:v0; values: clip0"
    ):
        art.get("nope")


def test_get_is_lazy(store, raw):
    c = clip(4, caption="lazy")
    draft = Artifact("clips", type="dataset")
    draft.add(c, "clip0")
    store.commit(draft)
    raw.delete(blob_path(c.sha256))  # the samples are gone; the JSON is still there
    got = open_store(store.url).artifact("clips:v0").get("clip0")
    assert (got.sample_rate, got.channels, got.caption) == (8000, 1, "lazy")
    assert got.duration == pytest.approx(64 / 8000)
    with pytest.raises(IntegrityError, match=r"clips:v0/media/audio/.*blob .* is missing"):
        got.numpy()


def test_commit_numbers_versions_and_moves_latest_and_aliases(store, raw):
    draft = Artifact("clips", type="dataset")
    draft.add(clip(1), "a")
    v0 = store.commit(draft, aliases=["best", "first"])
    assert (v0.version, v0.qualified_name) == ("v0", "clips:v0")
    assert v0.aliases == ["best", "first", "latest"]
    assert not v0.is_draft
    draft2 = v0.new_draft()
    draft2.add(clip(2), "b")
    v1 = store.commit(draft2, aliases=["best"])
    assert v1.qualified_name == "clips:v1"
    assert store.versions("clips") == ["v0", "v1"]
    assert store.aliases("clips") == {"best": "v1", "first": "v0", "latest": "v1"}
    assert v0.aliases == ["first"]
    assert sorted(raw.files("artifacts/clips/versions")) == [
        "artifacts/clips/versions/v0.json",
        "artifacts/clips/versions/v1.json",
    ]
    alias = json.loads(raw.read("artifacts/clips/aliases/best.json"))
    schemas.validate(alias)
    assert (alias["artifact"], alias["alias"], alias["version"]) == ("clips", "best", "v1")


def test_commit_of_equal_content_returns_the_existing_version(store, raw):
    def make():
        d = Artifact("clips", type="dataset", metadata={"m": 1})
        d.add(clip(1), "a")
        return d

    v0 = store.commit(make())
    files = raw.files()
    again = store.commit(make(), aliases=["same"])
    assert again.qualified_name == "clips:v0"
    assert again.digest == v0.digest
    assert store.versions("clips") == ["v0"]
    assert store.aliases("clips") == {"latest": "v0", "same": "v0"}
    assert set(raw.files()) - set(files) == {"artifacts/clips/aliases/same.json"}
    assert store.commit(v0.new_draft()).qualified_name == "clips:v0"
    changed = make()
    changed.metadata = {"m": 2}
    assert store.commit(changed).qualified_name == "clips:v1"


def test_commit_refuses_committed_and_bad_input(store):
    d = Artifact("clips", type="dataset")
    v0 = store.commit(d)
    with pytest.raises(ReadOnlyError, match="clips:v0 is already committed"):
        store.commit(v0)
    with pytest.raises(TypeError, match=r"commit\(\) takes an Artifact draft"):
        store.commit("clips")
    with pytest.raises(ValueError, match="Invalid alias 'v3'.*not of the form vN"):
        store.commit(Artifact("clips", type="dataset"), aliases=["v3"])


def test_artifact_resolves_versions_latest_and_aliases(store):
    for i in range(4):
        d = Artifact("clips", type="dataset")
        d.add(clip(i), "a")
        store.commit(d, aliases=["best"] if i == 1 else ())
    assert store.artifact("clips:v3").version == "v3"
    assert store.artifact("clips:latest").version == "v3"
    assert store.artifact("clips").version == "v3"
    assert store.artifact("clips:best").version == "v1"
    assert store.artifact("clips:v2").get("a") == clip(2)


def test_unknown_artifact_is_a_lookup_error_with_a_helpful_message(store):
    assert issubclass(ArtifactNotFoundError, LookupError)
    with pytest.raises(ArtifactNotFoundError, match=r"no store at .*commit to create a store"):
        store.artifact("clips:latest")  # nothing committed yet: there is no store at all
    d = Artifact("clips", type="dataset")
    store.commit(d, aliases=["best"])
    with pytest.raises(LookupError, match=r"no artifact named 'other' .*artifacts: clips"):
        store.artifact("other:v0")
    with pytest.raises(
        ArtifactNotFoundError,
        match=r"no version or alias 'clips:v7'.*versions v0..v0 and aliases best, latest",
    ):
        store.artifact("clips:v7")
    with pytest.raises(ArtifactNotFoundError, match="no version or alias 'clips:worst'"):
        store.artifact("clips:worst")
    with pytest.raises(ValueError, match="Invalid artifact name"):
        store.artifact("../x:v0")


def test_versions_and_names(store):
    assert store.names() == []
    assert store.versions("clips") == []
    for name in ("b", "a", "c"):
        store.commit(Artifact(name, type="misc"))
    d = Artifact("a", type="misc")
    with d.new_file("x") as f:
        f.write("x")
    store.commit(d)
    assert store.names() == ["a", "b", "c"]
    assert store.versions("a") == ["v0", "v1"]
    assert open_store(store.url).names() == ["a", "b", "c"]


def test_committed_artifact_properties(store, raw):
    draft = Artifact("clips", type="dataset", description="some clips", metadata={"sr": 8000})
    draft.add(clip(1), "a")
    v0 = store.commit(draft, aliases=["best"])
    assert (v0.name, v0.type, v0.description) == ("clips", "dataset", "some clips")
    assert v0.metadata == {"sr": 8000}
    assert v0.qualified_name == "clips:v0"
    assert v0.aliases == ["best", "latest"]
    stored = json.loads(raw.read("artifacts/clips/versions/v0.json"))
    schemas.validate(stored)
    assert stored == v0.manifest.obj
    assert v0.digest == stored["digest"] == draft.digest
    assert v0.manifest.entries == stored["entries"]
    assert sorted(e.path for e in v0.manifest) == sorted(stored["entries"])
    reread = open_store(store.url).artifact("clips:best")
    assert (reread.digest, reread.metadata, reread.description) == (
        v0.digest,
        {"sr": 8000},
        "some clips",
    )


def test_download(store, tmp_path):
    draft = Artifact("clips", type="dataset")
    c = clip(1)
    draft.add(c, "a")
    with draft.new_file("sub/notes.txt") as f:
        f.write("notes")
    v0 = store.commit(draft)
    root = v0.download(tmp_path / "dl")
    assert root == str(tmp_path / "dl")
    got = {
        os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
        for d, _, fs in os.walk(root)
        for f in fs
    }
    assert got == set(v0.entries)
    assert read(os.path.join(root, "sub", "notes.txt")) == b"notes"
    media = next(iter(media_entries(v0)))
    assert read(os.path.join(root, media)) == c.in_memory_bytes()


def test_download_default_root(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store.commit(Artifact("clips", type="dataset"))
    root = store.artifact("clips:v0").download()
    assert root == str(tmp_path / "artifact-downloads" / "clips-v0")


def test_verify_and_new_draft(store):
    draft = Artifact("clips", type="dataset", metadata={"a": 1})
    draft.add(clip(1), "a")
    v0 = store.commit(draft)
    assert v0.verify() == []
    nd = v0.new_draft()
    assert nd.is_draft and nd.qualified_name == "clips:draft"
    assert nd.metadata == {"a": 1}
    assert sorted(nd.entries) == sorted(v0.entries)
    nd.add(clip(2), "b")
    v1 = store.commit(nd)
    assert v1.version == "v1"
    assert v1.get("a") == clip(1) and v1.get("b") == clip(2)
    assert v1.verify() == []


# -- integrity ------------------------------------------------------------------------------


def test_flipped_blob_raises_on_get_download_and_verify(store, raw, tmp_path):
    c = clip(5)
    draft = Artifact("clips", type="dataset")
    draft.add(c, "a")
    with draft.new_file("z-last.txt") as f:
        f.write("after the clip in sorted order")
    v0 = store.commit(draft)
    raw.flip(c.sha256)
    media = f"media/audio/{c.sha256[:20]}.wav"
    fresh = open_store(store.url).artifact("clips:v0")
    with pytest.raises(IntegrityError, match=f"clips:v0/{media}"):
        fresh.get("a").numpy()
    root = tmp_path / "dl"
    with pytest.raises(IntegrityError, match=f"clips:v0/{media}"):
        fresh.download(root)
    assert not root.exists()  # nothing left: no partial file, not even the folder it made
    with pytest.raises(IntegrityError, match=f"1 bad entry:\n  {media}"):
        v0.verify()
    assert v0.verify(raise_on_error=False)[0].startswith(media)


def test_truncated_and_missing_blobs(store, raw):
    with_text = Artifact("files", type="misc")
    with with_text.new_file("a.txt") as f:
        f.write("some text")
    with with_text.new_file("b.txt") as f:
        f.write("other text")
    v0 = store.commit(with_text)
    a, b = v0.entries["a.txt"], v0.entries["b.txt"]
    raw.write(blob_path(a.digest), b"some")
    raw.delete(blob_path(b.digest))
    with pytest.raises(IntegrityError, match="files:v0/a.txt: size is 4 bytes, expected 9"):
        v0.read_bytes("a.txt")
    with pytest.raises(IntegrityError, match="files:v0/b.txt: its blob .* is missing"):
        v0.read_bytes("b.txt")
    with pytest.raises(IntegrityError, match="2 bad entries"):
        v0.verify()


# -- no duplicated bytes --------------------------------------------------------------------


def test_value_from_another_artifact_becomes_a_reference(store, raw):
    c = clip(6, n=4000)
    a = Artifact("a", type="dataset")
    a.add(c, "clip")
    store.commit(a)
    blobs = raw.blobs()
    loaded = store.artifact("a:v0").get("clip")
    b = Artifact("b", type="dataset")
    b.add(loaded, "copied")
    b.add(loaded, "twice")
    vb = store.commit(b)
    new = set(raw.blobs()) - set(blobs)
    media = f"media/audio/{c.sha256[:20]}.wav"
    assert c.sha256 not in new
    assert sum(raw.blobs()[d] for d in new) < 1000  # only small JSON, no media bytes
    entry = vb.manifest.entries[media]
    assert entry["ref"] == {"artifact": "a:v0", "path": media}
    assert entry["digest"] == c.sha256
    got = vb.get("copied")
    assert got.numpy().tobytes() == c.numpy().tobytes()
    assert got.artifact_source.artifact.qualified_name == "b:v0"
    assert vb.verify() == []


def test_identical_files_are_stored_once_per_store(store, raw, tmp_path):
    c = clip(7)
    for name in ("x", "y"):
        d = Artifact(name, type="dataset")
        d.add(c, "one")
        d.add(Audio(c.numpy(), 8000), "two")
        store.commit(d)
    media_blobs = [d for d, size in raw.blobs().items() if size == c.size]
    assert media_blobs == [c.sha256]
    assert len(media_entries(store.artifact("x:v0"))) == 1


def test_a_value_of_another_store_is_copied_into_the_committing_store(store, raw, tmp_path):
    """Cross-store commits copy (issue 15): the version reads and verifies without the
    store the value came from, and damage there no longer reaches it."""
    c = clip(8, n=2000)
    a = Artifact("a", type="dataset")
    a.add(c, "clip")
    store.commit(a)
    other = open_store(other_url(store, tmp_path, "other"))
    other_raw = Raw(other.url)
    loaded = store.artifact("a:v0").get("clip")
    b = Artifact("b", type="dataset")
    b.add(loaded, "clip")
    vb = other.commit(b)
    media = f"media/audio/{c.sha256[:20]}.wav"
    assert "ref" not in vb.manifest.entries[media]
    assert c.sha256 in other_raw.blobs()
    raw.flip(c.sha256)  # the source's copy is damaged: the other store's is its own
    reopened = open_store(other.url).artifact("b:v0")
    assert reopened.get("clip").numpy().tobytes() == c.numpy().tobytes()
    assert reopened.verify() == []
    # and onwards: a third store gets its own copy as well
    c2 = Artifact("c", type="dataset")
    c2.add(reopened.get("clip"), "clip")
    third_store = open_store(other_url(store, tmp_path, "third"))
    third = third_store.commit(c2)
    assert "ref" not in third.manifest.entries[media]
    assert c.sha256 in Raw(third_store.url).blobs()


# -- gc -----------------------------------------------------------------------------------


def test_gc_dry_run_grace_and_sweep(store, raw):
    c = clip(9)
    d = Artifact("clips", type="dataset")
    d.add(c, "a")
    v0 = store.commit(d)
    orphan = "ab" * 32
    raw.write(blob_path(orphan), b"left behind by a crashed commit")
    young = store.gc()
    assert young.deleted == [] and young.kept_young == 1
    dry = store.gc(dry_run=True, grace=0)
    assert dry.dry_run and dry.deleted == [blob_path(orphan)]
    assert dry.freed_bytes == len(b"left behind by a crashed commit")
    assert orphan in raw.blobs()
    swept = store.gc(grace=0)
    assert swept.deleted == [blob_path(orphan)] and not swept.dry_run
    assert orphan not in raw.blobs()
    assert set(raw.blobs()) == set(store.live_blobs())
    assert swept.live_blobs == 1  # the clip; its JSON is inside the manifest
    assert v0.verify() == []
    assert store.gc(grace=0).deleted == []
    with pytest.raises(ValueError, match="Invalid grace -1"):
        store.gc(grace=-1)


def test_gc_references_keep_blobs_alive(store, raw):
    c = clip(10)
    a = Artifact("a", type="dataset")
    a.add(c, "clip")
    store.commit(a)
    b = Artifact("b", type="dataset")
    b.add(store.artifact("a:v0").get("clip"), "clip")
    store.commit(b)
    raw.delete("artifacts/a/versions/v0.json")  # a's version is gone; b still refers to it
    store.gc(grace=0)
    assert c.sha256 in raw.blobs()
    b0 = open_store(store.url).artifact("b:v0")
    assert b0.verify() == []  # a same-store reference reads the shared blob by its digest
    assert b0.get("clip").numpy().tobytes() == c.numpy().tobytes()


def test_gc_ignores_uri_references(store, external):
    url, raw = external
    d = Artifact("refs", type="misc")
    d.add_reference(url)
    store.commit(d)
    assert store.gc(grace=0).deleted == []
    assert store.artifact("refs:v0").read_bytes("external.bin") == b"external bytes"


# -- runs and lineage ---------------------------------------------------------------------


def test_run_lineage_is_readable_back(store, tmp_path):
    maker = Run(dir=tmp_path / "maker", store=store, id="maker-run")
    d = Artifact("clips", type="dataset")
    d.add(clip(1), "a")
    v0 = maker.log_artifact(d, aliases=["best"])
    assert v0.qualified_name == "clips:v0"
    assert v0.created_by == "maker-run"
    assert v0.aliases == ["best", "latest"]
    user = Run(dir=tmp_path / "user", store=store.url, id="user-run")
    got = user.use_artifact("clips:best")
    assert got.qualified_name == "clips:v0"
    assert got.get("a") == clip(1)
    lineage = open_store(store.url).lineage("clips:v0")
    assert lineage == {
        "artifact": "clips:v0",
        "created_by": "maker-run",
        "logged_by": ["maker-run"],
        "used_by": ["user-run"],
    }
    [logged] = maker.lineage()
    assert (logged["run"], logged["action"], logged["artifact"]) == (
        "maker-run",
        "logged",
        "clips:v0",
    )
    assert logged["digest"] == v0.digest
    [used] = user.lineage()
    assert (used["action"], used["artifact"]) == ("used", "clips:v0")
    schemas.validate(used)
    maker.finish()
    with pytest.raises(RuntimeError, match="run maker-run is finished"):
        maker.log_artifact(Artifact("clips", type="dataset"))


def test_run_uses_the_default_store(tmp_path):
    run = Run(dir=tmp_path / "run", id="r1")
    run.log_artifact(Artifact("x", type="misc"))
    assert open_store().lineage("x:v0")["logged_by"] == ["r1"]
    assert open_store().url == os.environ["MEDIA_ARTIFACTS_STORE"]


def test_overwrite_and_remove_of_a_value_leave_no_orphan_media(store, raw):
    a, b = clip(11), clip(12)
    draft = Artifact("clips", type="dataset")
    draft.add(a, "x")
    draft.add(a, "shared")
    draft.add(b, "y")
    draft.add(b, "y", overwrite=True)  # the same clip again keeps its media
    assert f"media/audio/{b.sha256[:20]}.wav" in draft.entries
    draft.add(clip(13), "y", overwrite=True)
    assert f"media/audio/{b.sha256[:20]}.wav" not in draft.entries
    draft.add(b, "x", overwrite=True)  # a's media is still used by "shared"
    assert f"media/audio/{a.sha256[:20]}.wav" in draft.entries
    draft.remove("shared")
    assert f"media/audio/{a.sha256[:20]}.wav" not in draft.entries
    v0 = store.commit(draft)
    assert a.sha256 not in raw.blobs()
    nd = v0.new_draft()  # the same holds for a draft of a committed version
    nd.remove("y")
    assert sorted(nd.entries) == [f"media/audio/{b.sha256[:20]}.wav", "x.audio-file.json"]
    assert store.commit(nd).get("x") == b
