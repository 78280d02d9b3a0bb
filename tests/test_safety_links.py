"""Links, FIFOs and oversized records planted in a store (issue 12, cases 1, 7 and 10).

No operation reads, writes or deletes outside the store through a symbolic link at any
depth: a link where the layout expects a folder or a file is refused with
:class:`artifacts.IntegrityError` naming it, and the place it points to is unchanged.  A
FIFO where a record is expected is refused at once (no hang); a record larger than the
store ever writes is refused without being read whole.
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest
from integrity_helpers import snapshot_dir

import artifacts
from artifacts import Artifact, IntegrityError
from artifacts.manifest import blob_path


def _commit(store, name="clips", text="hello", n=1, aliases=()):
    draft = Artifact(name, "dataset")
    for i in range(n):
        with draft.new_file(f"f{i}.txt") as f:
            f.write(f"{text} {i}\n")
    return store.commit(draft, aliases=aliases)


@pytest.fixture
def outside(tmp_path):
    """A folder outside the store, with files a link would expose."""
    d = tmp_path / "outside"
    (d / "sha256" / "ab").mkdir(parents=True)
    (d / "precious.txt").write_text("do not touch")
    (d / "sha256" / "ab" / ("c" * 62)).write_text("x")
    return d


def _old(root) -> None:
    """Make every file under ``root`` look old (gc's grace)."""
    for dirpath, _, files in os.walk(root):
        for f in files:
            os.utime(os.path.join(dirpath, f), (1, 1), follow_symlinks=False)


def _replace_by_link(path, target) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)
    os.symlink(target, path)


@pytest.mark.parametrize("top", ["tmp", "probe", "blobs", "packs", "artifacts"])
def test_gc_refuses_a_link_at_a_top_level_folder(tmp_path, outside, top):
    store = artifacts.open_store(tmp_path / "store")
    _commit(store)
    _replace_by_link(tmp_path / "store" / top, outside)
    _old(outside)
    before = snapshot_dir(outside)
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.gc(grace=0)
    assert snapshot_dir(outside) == before


@pytest.mark.parametrize("depth", ["blobs/sha256", "blobs/sha256/FAN", "artifacts/clips"])
def test_gc_refuses_a_link_below_the_top(tmp_path, outside, depth):
    store = artifacts.open_store(tmp_path / "store", pack_min=None)
    art = _commit(store)
    digest = next(iter(art.manifest.entries.values()))["digest"]
    where = tmp_path / "store" / depth.replace("FAN", digest[:2])
    _replace_by_link(where, outside)
    _old(outside)
    before = snapshot_dir(outside)
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.gc(grace=0)
    assert snapshot_dir(outside) == before


def test_gc_refuses_a_linked_file(tmp_path, outside):
    store = artifacts.open_store(tmp_path / "store")
    _commit(store)
    os.makedirs(tmp_path / "store" / "tmp", exist_ok=True)
    os.symlink(outside / "precious.txt", tmp_path / "store" / "tmp" / "x")
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.gc(grace=0)
    assert (outside / "precious.txt").read_text() == "do not touch"


@pytest.mark.parametrize(
    "folder, pack_min", [("blobs", None), ("blobs/sha256", None), ("packs", 2)]
)
def test_commit_refuses_to_write_through_a_linked_folder(tmp_path, outside, folder, pack_min):
    store = artifacts.open_store(tmp_path / "store", pack_min=pack_min)
    _commit(store, n=3)
    _replace_by_link(tmp_path / "store" / folder, outside)
    before = snapshot_dir(outside)
    with pytest.raises(IntegrityError, match="symbolic link"):
        _commit(artifacts.open_store(tmp_path / "store", pack_min=pack_min), text="new", n=3)
    assert snapshot_dir(outside) == before


def test_alias_write_refuses_a_linked_aliases_folder(tmp_path, outside):
    store = artifacts.open_store(tmp_path / "store")
    _commit(store, aliases=["best"])
    _replace_by_link(tmp_path / "store/artifacts/clips/aliases", outside)
    before = snapshot_dir(outside)
    with pytest.raises(IntegrityError, match="symbolic link"):
        store.set_alias("clips", "prod", "v0")
    assert snapshot_dir(outside) == before


def test_a_version_folder_replaced_by_a_link_is_refused(tmp_path):
    store = artifacts.open_store(tmp_path / "store")
    _commit(store)
    other = artifacts.open_store(tmp_path / "other")
    _commit(other, text="planted")
    _replace_by_link(
        tmp_path / "store/artifacts/clips/versions", tmp_path / "other/artifacts/clips/versions"
    )
    fresh = artifacts.open_store(tmp_path / "store")
    with pytest.raises(IntegrityError, match="symbolic link"):
        fresh.artifact("clips:latest")
    with pytest.raises(IntegrityError, match="symbolic link"):
        _commit(fresh, text="more")


def test_a_blob_replaced_by_a_link_is_not_read(tmp_path, outside):
    store = artifacts.open_store(tmp_path / "store", pack_min=None)
    art = _commit(store)
    e = art.manifest.entries["f0.txt"]
    blob = tmp_path / "store" / blob_path(e["digest"])
    secret = outside / "secret"
    secret.write_bytes(b"hello 0\n")  # the right bytes: still refused
    _replace_by_link(blob, secret)
    fresh = artifacts.open_store(tmp_path / "store", pack_min=None)
    with pytest.raises(IntegrityError, match="symbolic link"):
        fresh.artifact("clips:v0").read_bytes("f0.txt")


def test_a_link_to_an_endless_device_is_refused(tmp_path):
    store = artifacts.open_store(tmp_path / "store")
    _commit(store, aliases=["best"])
    _replace_by_link(tmp_path / "store/artifacts/clips/aliases/best.json", "/dev/zero")
    with pytest.raises(IntegrityError, match="symbolic link"):
        artifacts.open_store(tmp_path / "store").artifact("clips:best")


def _alarm(seconds: int):
    def on_alarm(signum, frame):
        raise TimeoutError("the read hung")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    return old


@pytest.mark.parametrize("record", ["alias", "manifest", "marker"])
def test_a_fifo_where_a_record_is_expected_is_refused_without_hanging(tmp_path, record):
    store = artifacts.open_store(tmp_path / "store")
    _commit(store, aliases=["best"])
    path = {
        "alias": "artifacts/clips/aliases/best.json",
        "manifest": "artifacts/clips/versions/v0.json",
        "marker": "store.json",
    }[record]
    os.unlink(tmp_path / "store" / path)
    os.mkfifo(tmp_path / "store" / path)
    old = _alarm(5)
    try:
        with pytest.raises(IntegrityError, match="not a regular file"):
            artifacts.open_store(tmp_path / "store").artifact(
                "clips:best" if record == "alias" else "clips:v0"
            )
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("backend", ["local", "memory", "s3"])
def test_an_oversized_record_is_refused_without_reading_it_whole(backend, tmp_path, request):
    from conftest import store_url

    store = artifacts.open_store(store_url(backend, tmp_path, request))
    _commit(store, aliases=["best"])
    store.backend.write("artifacts/clips/aliases/best.json", b" " * (3 << 20))
    with pytest.raises(IntegrityError, match="larger than"):
        artifacts.open_store(store.url).artifact("clips:best")


def test_a_store_root_given_as_a_link_is_used_as_given(tmp_path):
    (tmp_path / "real").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "via-link")
    store = artifacts.open_store(tmp_path / "via-link")
    _commit(store)
    assert store.artifact("clips:v0").verify() == []
    assert store.gc(grace=0).deleted == []
