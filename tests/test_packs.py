"""Packs: the many small files of one commit kept end to end in one object.

Every test runs on the local disk, memory:// and s3:// (moto's server), and looks at the
store's files through a fresh filesystem (``Raw``), not through the store.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from integrity_helpers import resealed
from test_store import Raw, clip

import artifacts
import schemas
from artifacts import Artifact, IntegrityError
from artifacts.manifest import blob_path, canonical_json, pack_id, pack_path
from media import Audio


@pytest.fixture
def raw(store):
    return Raw(store.url)


def packs_of(raw: Raw) -> dict[str, int]:
    """Pack id -> size of every pack (indexes left out)."""
    return {
        rel.split("/")[1]: size
        for rel, size in raw.files("packs").items()
        if not rel.endswith(".idx")
    }


def commit_clips(store, name: str, seeds, **kw) -> artifacts.Artifact:
    draft = Artifact(name, "dataset")
    for s in seeds:
        draft.add(clip(s, **kw), f"clip{s}")
    return store.commit(draft)


def test_many_small_files_go_into_one_pack_and_come_back_bit_exact(store, raw):
    clips = {s: clip(s, n=1000) for s in range(40)}
    draft = Artifact("clips", "dataset")
    for s, c in clips.items():
        draft.add(c, f"clip{s}")
    v0 = store.commit(draft)

    assert raw.blobs() == {}  # every clip is in the pack; every value JSON is inline
    (pid, size), *more = packs_of(raw).items()
    assert not more
    assert size == sum(c.size for c in clips.values())
    index = json.loads(raw.read(pack_path(pid) + ".idx"))
    schemas.validate(index, "pack-index")
    assert pack_id([tuple(m) for m in index["members"]]) == pid
    schemas.validate(json.loads(raw.read("artifacts/clips/versions/v0.json")), "manifest")

    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    for s, c in clips.items():
        got = fresh.get(f"clip{s}")
        assert np.array_equal(got.numpy(), c.numpy()) and got.sha256 == c.sha256
    assert fresh.verify() == []
    entry = v0.entries[f"media/audio/{clips[3].sha256[:20]}.wav"]
    assert entry.pack == pid and entry.to_json()["offset"] == entry.offset
    assert raw.read(pack_path(pid))[entry.offset : entry.offset + entry.size] == (
        clips[3].in_memory_bytes()
    )


def test_download_of_a_packed_artifact(store, tmp_path):
    commit_clips(store, "clips", range(20))
    art = store.artifact("clips:v0")
    root = art.download(tmp_path / "out")
    for s in range(20):
        c = clip(s)
        with open(f"{root}/media/audio/{c.sha256[:20]}.wav", "rb") as f:
            assert f.read() == c.in_memory_bytes()


def test_fewer_small_files_than_pack_min_stay_blobs(store, raw):
    commit_clips(store, "few", range(store.pack_min - 1))
    assert packs_of(raw) == {}
    assert len(raw.blobs()) == store.pack_min - 1


def test_pack_min_none_writes_every_file_as_a_blob(store, raw):
    loose = artifacts.open_store(store.url, pack_min=None)
    commit_clips(loose, "clips", range(30))
    assert packs_of(raw) == {} and len(raw.blobs()) == 30


@pytest.mark.parametrize("bad", [0, -1, 2.5, "16", True])
def test_invalid_pack_min_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="pack_min"):
        artifacts.open_store(str(tmp_path / "s"), pack_min=bad)


def test_big_packs_are_split_at_the_target_size(store, raw, monkeypatch):
    monkeypatch.setattr("artifacts.odb.packs.PACK_TARGET", 10_000)
    art = commit_clips(store, "clips", range(30), n=1000)  # 4058-byte files
    packs = packs_of(raw)
    assert len(packs) == 10 and set(packs.values()) == {3 * clip(0, n=1000).size}
    assert {e.pack for e in art.entries.values() if e.pack} == set(packs)
    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    assert all(fresh.get(f"clip{s}") == clip(s, n=1000) for s in range(30))


def test_files_over_the_member_limit_stay_blobs(store, raw, monkeypatch):
    monkeypatch.setattr("artifacts.commit.PACK_MEMBER_MAX", 300)
    draft = Artifact("mixed", "dataset")
    for s in range(40):
        draft.add(clip(s, n=16 if s % 2 else 200), f"c{s}")  # 122 or 858 bytes
    store.commit(draft)
    assert len(raw.blobs()) == 20  # the big ones
    (size,) = packs_of(raw).values()
    assert size == 20 * clip(1, n=16).size


# -- stored once per store ---------------------------------------------------------------
def test_identical_files_are_stored_once_across_artifacts(store, raw):
    a = commit_clips(store, "a", range(20))
    before = raw.files()
    b = commit_clips(store, "b", range(20))  # the same clips, from arrays, in another artifact
    after = raw.files()
    new = set(after) - set(before)
    assert new == {"artifacts/b/versions/v0.json"}
    for path, e in b.entries.items():
        assert (e.pack, e.offset) == (a.entries[path].pack, a.entries[path].offset)


def test_some_new_files_pack_only_the_new_ones(store, raw):
    commit_clips(store, "a", range(20))
    (first,) = packs_of(raw)
    art = commit_clips(store, "b", range(10, 40))  # 10 known, 20 new
    packs = packs_of(raw)
    (second,) = set(packs) - {first}
    assert packs[second] == 20 * clip(0).size
    where = {e.digest: e.pack for e in art.entries.values() if e.pack}
    assert where[clip(15).sha256] == first and where[clip(35).sha256] == second


def test_one_file_already_in_a_pack_is_not_written_again(store, raw):
    commit_clips(store, "a", range(20))
    before = raw.files()
    art = commit_clips(store, "one", [7])
    assert set(raw.files()) - set(before) == {"artifacts/one/versions/v0.json"}
    e = art.entries[f"media/audio/{clip(7).sha256[:20]}.wav"]
    assert e.pack is not None
    assert artifacts.open_store(store.url).artifact("one:v0").get("clip7") == clip(7)


def test_files_already_stored_as_blobs_are_not_packed_again(store, raw):
    commit_clips(store, "few", range(3))  # 3 blobs
    commit_clips(store, "many", range(20))
    blobs = raw.blobs()
    assert set(blobs) == {clip(s).sha256 for s in range(3)}
    (size,) = packs_of(raw).values()
    assert size == 17 * clip(0).size
    many = artifacts.open_store(store.url).artifact("many:v0")
    assert all(many.get(f"clip{s}") == clip(s) for s in range(20))


def test_a_new_version_changing_one_entry_writes_one_blob_and_one_manifest(store, raw):
    v0 = commit_clips(store, "clips", range(50))
    before = raw.files()
    draft = v0.new_draft()
    draft.add(clip(1000), "clip3", overwrite=True)
    v1 = store.commit(draft)
    new = set(raw.files()) - set(before)
    assert new == {blob_path(clip(1000).sha256), "artifacts/clips/versions/v1.json"}
    for s in (0, 49):  # carried entries keep their place in v0's pack
        path = f"media/audio/{clip(s).sha256[:20]}.wav"
        assert v1.entries[path] == v0.entries[path]
    fresh = artifacts.open_store(store.url).artifact("clips:v1")
    assert fresh.get("clip3") == clip(1000) and fresh.get("clip4") == clip(4)


def test_a_value_from_a_packed_artifact_is_added_elsewhere_as_a_reference(store, raw):
    commit_clips(store, "src", range(20))
    src = store.artifact("src:v0")
    before = raw.files()
    draft = Artifact("picked", "dataset")
    draft.add(src.get("clip5"), "best")
    picked = store.commit(draft)
    assert set(raw.files()) - set(before) == {"artifacts/picked/versions/v0.json"}
    path = f"media/audio/{clip(5).sha256[:20]}.wav"
    e = picked.entries[path]
    assert e.ref == {"artifact": "src:v0", "path": path} and e.pack is not None
    assert artifacts.open_store(store.url).artifact("picked:v0").get("best") == clip(5)


def test_a_reference_into_another_stores_pack(store, tmp_path):
    commit_clips(store, "src", range(20))
    other = artifacts.open_store(str(tmp_path / "other"))
    draft = Artifact("picked", "dataset")
    draft.add(store.artifact("src:v0").get("clip5"), "best")
    other.commit(draft)
    got = artifacts.open_store(other.url).artifact("picked:v0")
    assert got.get("best") == clip(5) and got.verify() == []
    assert not (tmp_path / "other" / "packs").exists()


def test_thousands_of_tiny_files_make_one_pack(store, raw):
    draft = Artifact("tiny", "dataset")
    for i in range(3000):  # more parts than one writev takes
        with draft.new_file(f"t/{i}.txt") as f:
            f.write(f"file {i}\n")
    store.commit(draft)
    assert raw.blobs() == {}
    (size,) = packs_of(raw).values()
    assert size == sum(len(f"file {i}\n") for i in range(3000))
    art = artifacts.open_store(store.url).artifact("tiny:v0")
    assert [art.read_bytes(f"t/{i}.txt") for i in (0, 1234, 2999)] == [
        b"file 0\n",
        b"file 1234\n",
        b"file 2999\n",
    ]
    assert art.verify() == []


def test_small_files_added_by_path_are_packed_and_checked(store, raw, tmp_path):
    files = []
    for s in range(20):
        p = tmp_path / f"f{s}.bin"
        p.write_bytes(bytes([s]) * (100 + s))
        files.append(p)
    draft = Artifact("files", "dataset")
    for p in files:
        draft.add_file(str(p), p.name)
    store.commit(draft)
    assert raw.blobs() == {} and len(packs_of(raw)) == 1
    art = artifacts.open_store(store.url).artifact("files:v0")
    assert all(art.read_bytes(p.name) == p.read_bytes() for p in files)


def test_a_file_changed_after_it_was_added_publishes_nothing(store, raw, tmp_path):
    draft = Artifact("files", "dataset")
    for s in range(20):
        p = tmp_path / f"f{s}.bin"
        p.write_bytes(bytes([s]) * 100)
        draft.add_file(str(p), p.name)
    (tmp_path / "f9.bin").write_bytes(b"x" * 100)  # same size, other bytes
    with pytest.raises(IntegrityError, match="changed after it was added"):
        store.commit(draft)
    assert packs_of(raw) == {} and store.versions("files") == []


# -- damage ----------------------------------------------------------------------------------
def test_a_flipped_byte_in_a_pack_fails_only_the_entry_it_is_in(store, raw):
    commit_clips(store, "clips", range(20))
    (pid,) = packs_of(raw)
    art = store.artifact("clips:v0")
    e = art.entries[f"media/audio/{clip(4).sha256[:20]}.wav"]
    raw.flip_byte(pack_path(pid), e.offset + 50)

    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    with pytest.raises(IntegrityError, match="do(es)? not match"):
        fresh.get("clip4").numpy()
    assert fresh.get("clip5") == clip(5)
    problems = fresh.verify(raise_on_error=False)
    assert len(problems) == 1 and e.path in problems[0]


def test_a_truncated_pack_fails_the_entries_past_its_end(store, raw):
    commit_clips(store, "clips", range(20))
    (pid,) = packs_of(raw)
    data = raw.read(pack_path(pid))
    raw.write(pack_path(pid), data[: len(data) - 10])
    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    problems = fresh.verify(raise_on_error=False)
    assert len(problems) == 1
    assert "bytes stored" in problems[0] or "do not match" in problems[0]


def test_a_missing_pack_is_named(store, raw):
    commit_clips(store, "clips", range(20))
    (pid,) = packs_of(raw)
    raw.delete(pack_path(pid))
    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    with pytest.raises(IntegrityError, match=f"its pack {pid[:16]}... is missing"):
        fresh.get("clip0").numpy()
    with pytest.raises(IntegrityError, match="20 bad entries"):
        fresh.verify()


def test_a_forged_index_is_never_trusted(store, raw):
    commit_clips(store, "a", range(20))
    (pid,) = packs_of(raw)
    index = json.loads(raw.read(pack_path(pid) + ".idx"))
    index["members"][0][1] += 1  # no longer the index its pack's name stands for
    forged = canonical_json(index)
    raw.write(pack_path(pid) + ".idx", forged)
    b = commit_clips(artifacts.open_store(store.url), "b", range(20))
    # packed again: the same members make the same pack, and its index is written anew
    assert {e.pack for e in b.entries.values() if e.pack} == {pid}
    assert raw.read(pack_path(pid) + ".idx") != forged
    fresh = artifacts.open_store(store.url).artifact("b:v0")
    assert all(fresh.get(f"clip{s}") == clip(s) for s in range(20))


def test_an_index_whose_pack_is_gone_is_not_used(store, raw):
    commit_clips(store, "a", range(20))
    (pid,) = packs_of(raw)
    members = [(clip(s).sha256, clip(s).size) for s in reversed(range(20))]
    index = {"_type": "pack-index", "format": 1, "members": members}
    raw.write(pack_path(pack_id(members)) + ".idx", canonical_json(index))  # no pack beside it
    b = commit_clips(artifacts.open_store(store.url), "b", range(20))
    assert {e.pack for e in b.entries.values() if e.pack} == {pid}


@pytest.mark.parametrize(
    "change",
    [
        {"pack": "../../store.json"},
        {"pack": "A" * 64},
        {"offset": -1},
        {"offset": "0"},
        {"offset": 2**60},
        {"pack": None},
    ],
)
def test_hostile_pack_fields_in_a_manifest_are_refused(store, raw, change):
    commit_clips(store, "clips", range(20))
    rel = "artifacts/clips/versions/v0.json"
    obj = json.loads(raw.read(rel))
    path = next(p for p, e in obj["entries"].items() if "pack" in e)
    obj["entries"][path].update(change)
    if change.get("pack", "") is None:
        del obj["entries"][path]["pack"]
    raw.write(rel, resealed(obj))
    with pytest.raises(schemas.SchemaError, match="pack"):
        artifacts.open_store(store.url).artifact("clips:v0")
    with pytest.raises(schemas.SchemaError):  # the schema says the same
        schemas.validate(obj, "manifest")


def test_pack_fields_next_to_uri_or_inline_are_refused():
    base = {"digest": "a" * 64, "size": 3, "pack": "b" * 64, "offset": 0}
    for extra in ({"uri": "s3://x/y", "etag": "e"}, {"inline": "abc"}):
        manifest = {
            "_type": "manifest",
            "format": 1,
            "name": "x",
            "version": "v0",
            "type": "t",
            "digest": "c" * 64,
            "metadata": {},
            "created_at": "now",
            "entries": {"f": {**base, **extra}},
        }
        with pytest.raises(schemas.SchemaError):
            schemas.validate(manifest, "manifest")


# -- gc ----------------------------------------------------------------------------------------
def test_gc_keeps_live_packs_and_deletes_orphans_index_first(store, raw):
    commit_clips(store, "clips", range(20))
    (live,) = packs_of(raw)
    members = [(clip(s).sha256, clip(s).size) for s in range(100, 120)]
    orphan = pack_id(members)  # left behind by a commit that crashed before its manifest
    raw.write(pack_path(orphan), b"".join(clip(s).in_memory_bytes() for s in range(100, 120)))
    raw.write(
        pack_path(orphan) + ".idx",
        canonical_json({"_type": "pack-index", "format": 1, "members": members}),
    )
    assert store.gc(grace=3600).deleted == []  # young: could be a commit in flight
    order = []
    real_delete = store.backend.delete
    store.backend.delete = lambda rel: (order.append(rel), real_delete(rel))[1]
    report = store.gc(grace=0)
    order = [r for r in order if not r.startswith("leases/")]  # (gc's own marker goes last)
    assert order == [pack_path(orphan) + ".idx", pack_path(orphan)]
    assert report.live_packs == 1 and sorted(report.deleted) == sorted(order)
    assert set(packs_of(raw)) == {live}
    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    assert fresh.verify() == []


def test_gc_then_commit_never_refers_to_a_deleted_pack(store, raw):
    commit_clips(store, "clips", range(20))
    (pid,) = packs_of(raw)
    # the only version's manifest goes (as if never committed): its pack is an orphan
    raw.delete("artifacts/clips/versions/v0.json")
    store.gc(grace=0)
    assert packs_of(raw) == {}
    again = commit_clips(store, "clips", range(20))  # the same Store object, same clips
    assert set(packs_of(raw)) == {pid}
    assert artifacts.open_store(store.url).artifact(again.qualified_name).verify() == []


def test_audio_round_trips_through_a_pack_in_a_new_process(tmp_path):
    import subprocess
    import sys

    url = str(tmp_path / "store")
    store = artifacts.open_store(url)
    clips = [Audio(np.arange(s, s + 500, dtype=np.int16), 8000) for s in range(20)]
    draft = Artifact("ints", "dataset")
    for i, c in enumerate(clips):
        draft.add(c, f"c{i}")
    store.commit(draft)
    code = (
        "import artifacts, sys, numpy as np\n"
        f"a = artifacts.open_store({url!r}).artifact('ints:v0')\n"
        "for i in range(20):\n"
        "    x = a.get(f'c{i}').numpy()\n"
        "    assert x.dtype == np.int16 and x.tolist() == list(range(i, i + 500)), i\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


# -- found in review ---------------------------------------------------------------------------
def test_re_adding_an_unchanged_file_to_a_new_draft_of_a_packed_artifact_is_a_no_op(
    store, tmp_path
):
    folder = tmp_path / "src"
    folder.mkdir()
    for i in range(20):
        (folder / f"f{i}.bin").write_bytes(bytes([i]) * 100)
    draft = Artifact("data", "dataset")
    draft.add_dir(str(folder))
    v0 = store.commit(draft)
    (folder / "new.bin").write_bytes(b"new")
    again = v0.new_draft()
    again.add_dir(str(folder))  # the 20 packed files again, unchanged, and one more
    assert store.commit(again).qualified_name == "data:v1"


def test_a_truncated_pack_is_not_reused_and_the_next_pack_mends_it(store, raw):
    commit_clips(store, "a", range(20))
    (pid,) = packs_of(raw)
    whole = raw.read(pack_path(pid))
    raw.write(pack_path(pid), whole[:50])  # torn, its index intact
    commit_clips(artifacts.open_store(store.url), "b", range(20))
    assert raw.read(pack_path(pid)) == whole  # the same members made the same pack again
    for name in ("a:v0", "b:v0"):
        assert artifacts.open_store(store.url).artifact(name).verify() == []


def test_a_pack_cut_in_half_gives_integrity_errors_not_os_errors(store, raw):
    commit_clips(store, "clips", range(20))
    (pid,) = packs_of(raw)
    data = raw.read(pack_path(pid))
    raw.write(pack_path(pid), data[: len(data) // 2])  # on S3 the far ranges get a 416
    fresh = artifacts.open_store(store.url).artifact("clips:v0")
    problems = fresh.verify(raise_on_error=False)
    assert 9 <= len(problems) <= 11
    with pytest.raises(IntegrityError):
        fresh.get("clip19").numpy()


@pytest.mark.parametrize(
    "first",
    [
        ["0" * 64, 1.0],  # 1.0 is not a size: it would make an offset of 1.0
        ["0" * 63 + "0\n", 1],  # nor is a digest with a newline
    ],
)
def test_an_index_that_is_not_exactly_what_a_writer_writes_is_ignored(store, raw, first):
    c = clip(3)
    forged = [first, [c.sha256, c.size]]
    pid = pack_id([tuple(m) for m in forged])
    raw.write(pack_path(pid), b"x" + c.in_memory_bytes())
    raw.write(
        pack_path(pid) + ".idx",
        json.dumps({"_type": "pack-index", "format": 1, "members": forged}).encode(),
    )
    art = commit_clips(store, "a", range(20))
    assert pid not in {e.pack for e in art.entries.values() if e.pack}
    assert artifacts.open_store(store.url).artifact("a:v0").verify() == []


def test_a_store_whose_url_has_glob_characters_commits_packs_twice(tmp_path):
    store = artifacts.open_store(f"memory://globby[1]x*?{tmp_path.name}")
    commit_clips(store, "a", range(20))
    b = commit_clips(artifacts.open_store(store.url), "b", range(10, 40))  # reads the index
    # clips 10-19 are found in a's pack (its index is read), 20-39 make a new one
    assert len({e.pack for e in b.entries.values() if e.pack}) == 2
    assert artifacts.open_store(store.url).artifact(b.qualified_name).verify() == []


def test_reusing_an_old_pack_makes_it_and_its_index_young_again(tmp_path):
    import os

    store = artifacts.open_store(str(tmp_path / "s"))
    commit_clips(store, "a", range(20))
    (pid,) = packs_of(Raw(store.url))
    for rel in (pack_path(pid), pack_path(pid) + ".idx"):
        os.utime(tmp_path / "s" / rel, (1, 1))  # as if left long ago
    commit_clips(store, "b", range(20))
    assert store.gc(grace=3600).deleted == []
    for rel in (pack_path(pid), pack_path(pid) + ".idx"):
        assert os.path.getmtime(tmp_path / "s" / rel) > 1


def test_gc_of_a_store_at_the_root_of_memory_keeps_live_files():
    import fsspec

    fs = fsspec.filesystem("memory")
    saved = dict(fs.store), list(fs.pseudo_dirs)
    fs.store.clear()
    try:
        store = artifacts.open_store("memory://")
        commit_clips(store, "few", range(3))  # blobs
        commit_clips(store, "many", range(10, 40))  # a pack
        assert store.gc(grace=0).deleted == []
        for name in ("few:v0", "many:v0"):
            assert artifacts.open_store("memory://").artifact(name).verify() == []
    finally:
        fs.store.clear()
        fs.store.update(saved[0])
        fs.pseudo_dirs[:] = saved[1]


def test_a_new_draft_committed_to_another_store_copies_its_parents_bytes(store, tmp_path):
    v0 = commit_clips(store, "a", range(20))
    other = artifacts.open_store(str(tmp_path / "other"))
    draft = v0.new_draft()
    draft.add(clip(99), "clip99")
    v = other.commit(draft)
    e = v.entries[f"media/audio/{clip(5).sha256[:20]}.wav"]
    assert e.ref is None and e.digest == clip(5).sha256  # its own copy (issue 15)
    assert v.manifest["entries"][e.path].get("pack") is not None  # packed with the others
    got = artifacts.open_store(other.url).artifact("a:v0")
    assert got.verify() == [] and got.get("clip5") == clip(5) and got.get("clip99") == clip(99)


def test_a_torn_blob_is_mended_by_a_commit_of_the_same_file_by_path(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"))
    data = bytes(range(256)) * 4
    (tmp_path / "f.bin").write_bytes(data)
    import hashlib

    torn = tmp_path / "s" / blob_path(hashlib.sha256(data).hexdigest())
    torn.parent.mkdir(parents=True)
    torn.write_bytes(data[:10])  # left by a crash
    draft = Artifact("f", "dataset")
    draft.add_file(str(tmp_path / "f.bin"), "f.bin")
    store.commit(draft)
    assert torn.read_bytes() == data
    assert artifacts.open_store(store.url).artifact("f:v0").read_bytes("f.bin") == data
