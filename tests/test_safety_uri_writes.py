"""No read writes: a ``uri`` entry's URL and options, and a cross-store reference's store
URL, are outside the manifest's digest, and fsspec can be told to write while it reads
(a ``simplecache::`` layer copying the file into a folder an option names, ``mode="w"``
truncating a zip).  They are refused when added and when read from a stored manifest."""

from __future__ import annotations

import os
import tempfile
import zipfile

import pytest
from integrity_helpers import read_manifest, snapshot_dir, write_manifest

import artifacts
from artifacts import Artifact
from media.errors import IntegrityError

DATA = b"hello" * 100


@pytest.fixture
def referenced(tmp_path):
    """A store whose ``r:v0`` references a local file as ``ref.bin``, and that file."""
    src = tmp_path / "src"
    src.mkdir()
    f = src / "f.bin"
    f.write_bytes(DATA)
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("r", "dataset")
    draft.add_reference(f"file://{f}", name="ref.bin")
    store.commit(draft)
    return store, str(f)


def forge(store, uri, options=None):
    """Change ``ref.bin``'s uri and options as a forger would (the digest stays right)."""
    m = read_manifest(store, "r", "v0")
    e = m["entries"]["ref.bin"]
    e["uri"] = uri
    if options is not None:
        e["options"] = options
    write_manifest(store, "r", "v0", m)


def every_read(store, tmp_path):
    """Each way to read the entry, each expected to refuse it."""
    version = artifacts.open_store(store.url).artifact("r:v0")
    return {
        "read_bytes": lambda: version.read_bytes("ref.bin"),
        "verify": lambda: version.verify(),
        "download": lambda: version.download(str(tmp_path / "dl")),
    }


@pytest.mark.parametrize(
    "layer, extra",
    [
        ("simplecache", {}),
        ("filecache", {"same_names": True}),
        ("blockcache", {}),
    ],
)
def test_a_stored_caching_uri_is_refused_and_nothing_is_written(referenced, tmp_path, layer, extra):
    store, f = referenced
    victim = tmp_path / "victim" / "planted"
    forge(store, f"{layer}::file://{f}", {"cache_storage": str(victim), **extra})
    before = snapshot_dir(tmp_path)
    for op, read in every_read(store, tmp_path).items():
        with pytest.raises(IntegrityError) as info:
            read()
        msg = str(info.value)
        assert "r:v0/ref.bin" in msg and repr(layer) in msg, (op, msg)
        assert "local folder" in msg and "read never writes" in msg, (op, msg)
    assert not victim.exists() and not victim.parent.exists()
    assert snapshot_dir(tmp_path) == before


@pytest.mark.parametrize(
    "options, says",
    [
        # (a manifest's keys are sorted: "cache_storage" would be named first)
        (lambda v: {"protocol": "simplecache", "target_protocol": "file"}, "'protocol' is"),
        (lambda v: {"target_protocol": "simplecache"}, "'target_protocol' is refused"),
        (lambda v: {"file": {"cache_storage": v}}, "'file.cache_storage' is refused"),
        (lambda v: {"cache_type": "mmap"}, "'mmap' read cache writes"),
        (lambda v: {"cache_options": {"location": v}}, "'cache_options' is refused"),
    ],
)
def test_stored_options_that_would_write_are_refused(referenced, tmp_path, options, says):
    store, f = referenced
    victim = tmp_path / "victim"
    forge(store, f"file://{f}", options(str(victim)))
    before = snapshot_dir(tmp_path)
    for op, read in every_read(store, tmp_path).items():
        with pytest.raises(IntegrityError, match="r:v0/ref.bin") as info:
            read()
        assert says in str(info.value), (op, str(info.value))
    assert not victim.exists()
    assert snapshot_dir(tmp_path) == before


def test_a_stored_zip_mode_cannot_truncate_the_referenced_archive(referenced, tmp_path):
    store, _ = referenced
    z = tmp_path / "src" / "z.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("inner.bin", DATA)
    kept = z.read_bytes()
    # (unchecked, the options would build ZipFileSystem(mode="w"), which empties the archive)
    forge(store, f"zip://inner.bin::file://{z}", {"zip": {"mode": "w"}})
    for op, read in every_read(store, tmp_path).items():
        with pytest.raises(IntegrityError, match=r"'zip\.mode' is refused"):
            read()
        assert z.read_bytes() == kept, op


def test_a_forged_caching_store_url_of_a_cross_store_reference_is_refused(tmp_path, monkeypatch):
    other = artifacts.open_store(str(tmp_path / "other"))
    draft = Artifact("a", "dataset")
    with draft.new_file("notes.txt") as fh:
        fh.write("hello")
    other.commit(draft)
    store = artifacts.open_store(str(tmp_path / "store"))
    store.commit(other.artifact("a:v0").new_draft())
    m = read_manifest(store, "a", "v0")
    m["entries"]["notes.txt"]["ref"] = {
        "artifact": "a:v0",
        "path": "notes.txt",
        "store": f"simplecache::file://{other.url}",
    }
    write_manifest(store, "a", "v0", m)
    # simplecache's default cache folder is a new temporary folder: watch that place
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    before = snapshot_dir(tmp_path)
    with pytest.raises(IntegrityError, match=r"a:v0/notes\.txt: refusing its reference") as info:
        artifacts.open_store(store.url).artifact("a:v0").read_bytes("notes.txt")
    assert "'simplecache'" in str(info.value)
    assert os.listdir(tmp) == []
    assert snapshot_dir(tmp_path) == before


@pytest.mark.parametrize(
    "uri, options, says",
    [
        ("simplecache::file://{f}", {}, "'simplecache' (SimpleCacheFileSystem) copies"),
        ("filecache::file://{f}", {"cache_storage": "{victim}"}, "'filecache'"),
        ("blockcache::file://{f}", {}, "'blockcache'"),
        ("file://{f}", {"protocol": "simplecache"}, "'protocol' is refused"),
        ("file://{f}", {"target_protocol": "file"}, "'target_protocol' is refused"),
        ("dir://f.bin::file://{d}", {"dir": {"mode": "w"}}, "'dir.mode' is refused"),
        ("reference://x", {}, "'reference' (ReferenceFileSystem)"),
    ],
)
def test_add_reference_refuses_urls_and_options_that_would_write(
    tmp_path, uri, options, says, monkeypatch
):
    f = tmp_path / "src" / "f.bin"
    f.parent.mkdir()
    f.write_bytes(DATA)
    victim = tmp_path / "victim"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    fill = {"f": str(f), "d": str(f.parent), "victim": str(victim)}
    options = {k: (v.format(**fill) if isinstance(v, str) else v) for k, v in options.items()}
    draft = Artifact("r", "dataset")
    with pytest.raises(ValueError, match="a read never writes") as info:
        draft.add_reference(uri.format(**fill), name="ref.bin", **options)
    assert says in str(info.value)
    assert "Reference the file by its own URL" in str(info.value)
    assert len(draft) == 0 and draft.entries == {}
    assert not victim.exists() and os.listdir(tmp) == []


def test_a_read_only_chain_with_nested_options_reads_back(tmp_path):
    """Per-layer options (``dir={...}``) are recorded nested; fsspec changes the nested
    dict it is given, which a committed manifest's is not (before: ReadOnlyError)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.bin").write_bytes(DATA)
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("r", "dataset")
    uri = f"dir://f.bin::file://{src}"
    draft.add_reference(uri, name="ref.bin", dir={"asynchronous": False})
    version = store.commit(draft)
    assert version.manifest.entries["ref.bin"]["options"] == {"dir": {"asynchronous": False}}
    again = artifacts.open_store(store.url).artifact("r:v0")
    assert again.read_bytes("ref.bin") == DATA
    again.verify()
    assert again.read_bytes("ref.bin") == DATA  # the stored options are unchanged
    assert again.manifest.entries["ref.bin"]["options"] == {"dir": {"asynchronous": False}}


def test_a_member_of_a_zip_archive_reads_back_as_a_reference(tmp_path):
    """``zip://member::file://archive.zip``: the zip filesystem closes the archive when it
    is collected, which it was as soon as the file was opened (before: "seek of closed
    file" on every read)."""
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("m.bin", DATA)
    before = snapshot_dir(tmp_path)
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("z", "dataset")
    draft.add_reference(f"zip://m.bin::file://{archive}", name="m.bin")
    version = artifacts.open_store(store.url).artifact(store.commit(draft).qualified_name)
    assert version.read_bytes("m.bin") == DATA
    with version.open_entry("m.bin") as f:
        assert f.read() == DATA
    assert version.verify() == []
    out = version.download(str(tmp_path / "out"))
    assert (tmp_path / "out" / "m.bin").read_bytes() == DATA and out == str(tmp_path / "out")
    # nothing written beside the archive: only the store and the download folder are new
    after = snapshot_dir(tmp_path)
    assert {k: v for k, v in after.items() if not k.startswith(("store", "out"))} == before
