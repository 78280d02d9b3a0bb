"""When part of a store operation fails after something was written, the error says what
was done, what was not, and how to finish: a commit whose aliases could not move, a copy
between stores that met a damaged source entry or an unreadable alias."""

from __future__ import annotations

import os

import numpy as np
import pytest

import artifacts
from artifacts import AliasNotMovedError, Artifact, IntegrityError, open_store
from artifacts.transfer import CopyError, SourceDamagedError
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


# -- a copy between stores that meets a damaged source entry ---------------------------------
def _flip_one_byte_of(store, version, path: str) -> None:
    """Damage the stored bytes of ``path`` (in its pack, or its loose blob) in place."""
    e = version.manifest.entries[path]
    root = store.backend.root
    if "pack" in e:
        file, at = os.path.join(root, "packs", e["pack"]), e["offset"] + e["size"] // 2
    else:
        d = e["digest"]
        file, at = os.path.join(root, "blobs", "sha256", d[:2], d[2:]), e["size"] // 2
    with open(file, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 1]))


@pytest.mark.parametrize("pack_min", [2, None], ids=["packed", "loose"])
def test_a_copy_from_a_damaged_source_blames_the_source(tmp_path, pack_min):
    src = open_store(tmp_path / "src", pack_min=pack_min)
    good = Artifact("clips", "dataset")
    for i in range(3):
        good.add(Audio(np.full(300, i, dtype=np.int16), 8000), f"g{i}")
    src.commit(good, aliases=["best"])
    bad = Artifact("clips", "dataset")
    for i in range(3):
        bad.add(Audio(np.full(300, 10 + i, dtype=np.int16), 8000), f"b{i}")
    v1 = src.commit(bad, aliases=["best"])
    path = sorted(p for p in v1.manifest.entries if p.startswith("media/"))[-1]
    _flip_one_byte_of(src, v1, path)
    dst = open_store(tmp_path / "dst")
    with pytest.raises(SourceDamagedError) as caught:
        src.copy_to(dst)
    err = caught.value
    assert isinstance(err, IntegrityError) and isinstance(err, CopyError)
    message = str(err)
    assert message.startswith(f"cannot copy clips:v1 of {src.url} to {dst.url}: the SOURCE store")
    assert f"{src.url} clips:v1/{path}: stored bytes do not match" in message
    assert f"open_store({src.url!r}).artifact('clips:v1').verify()" in message
    assert "a retry fails the same way" in message
    assert "until a gc of that store removes them" in message
    assert "draft" not in message and "run the copy again" not in message
    # what it says was done: v0 whole, v1 and the alias not there, the rest for gc
    there = open_store(tmp_path / "dst")
    assert there.versions("clips") == ["v0"] and there.aliases("clips") == {"latest": "v0"}
    assert there.artifact("clips:v0").verify() == []
    assert (tmp_path / "dst" / "store.json").exists()  # so `artifacts gc` works there too

    def objects():
        return {rel for rel, _ in there.backend.walk_files("") if rel.startswith(("blob", "pack"))}

    left = objects()
    report = there.gc(grace=0)
    assert objects() == left - set(report.deleted)
    assert there.gc(grace=0, dry_run=True).deleted == []
    assert there.artifact("clips:v0").verify() == []
    # the source says the same when asked, and a retry fails the same way
    assert src.artifact("clips:v1").verify(raise_on_error=False)
    with pytest.raises(SourceDamagedError):
        src.copy_to(dst)


# -- a copy between stores that meets an alias file it cannot read ---------------------------
@pytest.mark.parametrize(
    "file, content, says",
    [
        (
            "best.json",
            '{"_type": "alias", "alias": "../../../evil", "artifact": "clips", '
            '"updated_at": "2026-12-01T00:00:00Z", "version": "v0"}',
            "it does not read as an alias (invalid 'alias' JSON at $.alias: '../../../evil'",
        ),
        ("best.json", '{"_type": "alias"', "it does not read as an alias (invalid 'alias' JSON"),
        ("v3.json", "{}", "it is no alias file (Invalid alias 'v3'"),
    ],
    ids=["schema", "not-json", "not-an-alias-name"],
)
def test_a_copy_refuses_an_alias_it_cannot_read_before_writing(tmp_path, file, content, says):
    src = open_store(tmp_path / "src")
    src.commit(_draft(0), aliases=["best"])
    src.commit(_draft(1))
    dst = open_store(tmp_path / "dst")
    src.copy_to(dst, ["clips:v0"])  # dst's best names v0
    before = sorted(dst.backend.walk_files(""))
    (tmp_path / "src" / "artifacts" / "clips" / "aliases" / file).write_text(content)
    with pytest.raises(CopyError) as caught:
        src.copy_to(dst)
    message = str(caught.value)
    assert message.startswith(f"cannot copy clips of {src.url} to {dst.url}: its alias file ")
    assert f"artifacts/clips/aliases/{file} cannot be copied, {says}" in message
    assert message.endswith("then copy again. Nothing was copied")
    assert sorted(dst.backend.walk_files("")) == before  # v1 not copied, best not moved
    # what the message says to do, then the copy goes through
    if file == "best.json":
        assert "set_alias('clips', 'best', 'vN') or remove it with remove_alias" in message
        src.set_alias("clips", "best", "v1")
    else:
        assert "delete it from the source store" in message
        os.remove(tmp_path / "src" / "artifacts" / "clips" / "aliases" / file)
    assert src.copy_to(dst).versions == [("clips:v1", "clips:v1")]
    expect = "v1" if file == "best.json" else "v0"
    assert open_store(tmp_path / "dst").aliases("clips") == {"best": expect, "latest": "v1"}
