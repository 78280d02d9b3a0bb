"""Teams (issue 15): deleting versions, copying between stores, cross-store commits copy.

Every test runs on a local folder, memory://, s3:// (moto's server) and az:// (Azurite);
stores are compared through a fresh fsspec view of their files, never the store's own."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import fsspec
import numpy as np
import pytest
from doc_examples import console_session, run_console_session
from integrity_helpers import resealed

import artifacts
from artifacts import Artifact, ArtifactError, ArtifactNotFoundError, open_store
from artifacts.backends import LocalBackend
from artifacts.store import Store
from artifacts.transfer import CopyError
from media import Audio

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def clip(seed: int, n: int = 400) -> Audio:
    rng = np.random.default_rng(seed)
    return Audio(rng.uniform(-1, 1, n).astype(np.float32), 8000)


def other_url(store, tmp_path, name: str) -> str:
    """A second store on the same kind of backend as ``store``."""
    if store.is_local():
        return str(tmp_path / name)
    return store.url.rsplit("/", 1)[0] + "/" + name


def remove_store(url: str) -> None:
    """Delete a whole store (its folder or prefix), as if its machine were gone."""
    if "://" not in url:
        shutil.rmtree(url)
        return
    fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    fs.rm(root, recursive=True)


def commit_clips(store, name: str, seeds, **kwargs):
    d = Artifact(name, type="dataset", **kwargs)
    for s in seeds:
        d.add(clip(s), f"c{s}")
    return store.commit(d)


class Counting:
    """Make ``store``'s backend count its calls: a real subclass of its own class (the
    calls still reach the real backend)."""

    VERBS = (
        "read open read_range write create exists size listdir walk_files delete "
        "read_many write_many put_file put_stream"
    ).split()

    def __init__(self, store):
        calls = self.calls = []
        base = type(store.backend)

        def wrap(verb):
            def method(self, *args, **kwargs):
                calls.append((verb, str(args[0]) if args else ""))
                return getattr(base, verb)(self, *args, **kwargs)

            return method

        store.backend.__class__ = type(
            f"Counting{base.__name__}", (base,), {v: wrap(v) for v in self.VERBS}
        )

    def writes(self) -> list[str]:
        # (the create-if-absent probe of a new Store object writes and deletes one file)
        return [
            (verb, path)
            for verb, path in self.calls
            if verb in ("write", "create", "write_many", "put_file", "put_stream")
            and not path.startswith("probe/")
        ]


# -- delete ---------------------------------------------------------------------------------


def test_delete_a_version_its_aliases_go_and_its_number_is_never_reused(store):
    commit_clips(store, "kws", [0])
    commit_clips(store, "kws", [1], description="second")
    store.set_alias("kws", "best", "v1")
    assert store.delete("kws:best", dry_run=True) == ["kws:v1"]
    assert store.versions("kws") == ["v0", "v1"]
    assert store.delete("kws:best") == ["kws:v1"]
    assert store.versions("kws") == ["v0"]
    assert store.aliases("kws") == {"latest": "v0"}
    with pytest.raises(ArtifactNotFoundError):
        store.artifact("kws:v1")
    fresh = open_store(store.url)
    with pytest.raises(ArtifactNotFoundError):
        fresh.artifact("kws:best")
    assert fresh.artifact("kws:latest").version == "v0"
    assert commit_clips(fresh, "kws", [2]).version == "v2"  # v1 stays used
    assert fresh.delete("kws") == ["kws:v0", "kws:v2"]
    assert fresh.names() == []
    assert commit_clips(open_store(store.url), "kws", [3]).version == "v3"


def test_delete_refused_while_another_version_refers_to_its_entries(store):
    v0 = commit_clips(store, "src", [0, 1])
    d = Artifact("derived", type="dataset")
    d.add(v0.get("c0"), "c0")
    store.commit(d)
    with pytest.raises(ArtifactError, match=r"derived:v0 refer to its entries"):
        store.delete("src:v0")
    assert store.versions("src") == ["v0"]  # nothing happened
    store.delete("derived")
    assert store.delete("src") == ["src:v0"]


def test_gc_reclaims_the_bytes_of_a_deleted_version(store):
    keep = commit_clips(store, "keep", [0])
    commit_clips(store, "gone", [1, 2])
    before = store.live_blobs() | store.live_packs()
    store.delete("gone")
    after = store.live_blobs() | store.live_packs()
    assert after < before
    report = store.gc(grace=0)
    assert report.deleted  # the deleted version's files
    assert open_store(store.url).artifact("keep:v0").verify() == []
    assert keep.get("c0").numpy().tobytes() == clip(0).numpy().tobytes()


def test_delete_unknown_refs_name_what_the_store_has(store):
    commit_clips(store, "kws", [0])
    with pytest.raises(ArtifactNotFoundError, match="v0..v0"):
        store.delete("kws:v7")
    with pytest.raises(ArtifactNotFoundError, match="no artifact named 'nope'"):
        store.delete("nope")
    with pytest.raises(ValueError):
        store.delete("../etc")


# -- copy -----------------------------------------------------------------------------------


def test_copy_to_brings_versions_metadata_aliases_lineage_and_verifies_without_src(store, tmp_path):
    src = open_store(tmp_path / "laptop")
    commit_clips(src, "kws", range(20), description="words", metadata={"sr": 8000})
    v1 = commit_clips(src, "kws", range(10, 30), metadata={"sr": 8000})
    src.set_alias("kws", "best", "v1")
    src.record_lineage("run-1", "logged", v1)
    commit_clips(src, "noise", [99])
    report = src.copy_to(store)
    assert report.versions == [
        ("kws:v0", "kws:v0"),
        ("kws:v1", "kws:v1"),
        ("noise:v0", "noise:v0"),
    ]
    assert report.blobs == 31  # 30 distinct clips + 1, each sent once
    assert report.bytes >= 31 * 1600
    remove_store(src.url)
    dst = open_store(store.url)
    assert dst.aliases("kws") == {"best": "v1", "latest": "v1"}
    assert dst.lineage("kws:v1")["logged_by"] == ["run-1"]
    v0 = dst.artifact("kws:v0")
    assert (v0.description, dict(v0.metadata)) == ("words", {"sr": 8000})
    for ref in ("kws:v0", "kws:v1", "noise:v0"):
        assert dst.artifact(ref).verify() == []
    assert dst.artifact("kws:best").get("c29").numpy().tobytes() == clip(29).numpy().tobytes()


def test_a_repeated_copy_sends_nothing_and_costs_a_few_requests_per_artifact(store, tmp_path):
    src = open_store(tmp_path / "laptop")
    for name in ("a", "b", "c"):
        commit_clips(src, name, range(30))
        commit_clips(src, name, range(30, 60))
        src.set_alias(name, "best", "v0")
    first = src.copy_to(store)
    assert len(first.versions) == 6
    again_src, again_dst = open_store(src.url), open_store(store.url)  # nothing cached
    src_calls, dst_calls = Counting(again_src), Counting(again_dst)
    report = again_src.copy_to(again_dst)
    assert (report.versions, report.blobs, report.bytes) == ([], 0, 0)
    assert len(report.skipped) == 6
    assert dst_calls.writes() == []
    total = len(src_calls.calls) + len(dst_calls.calls)
    # per artifact: a few listings and alias reads, and one manifest read per version on
    # each side (3 artifacts, 6 versions, 180 clips: not one request per blob)
    assert total <= 3 * 12, (src_calls.calls, dst_calls.calls)
    assert again_dst.versions("a") == ["v0", "v1"]


def test_copy_from_a_remote_store_reads_a_pack_once_not_member_by_member(store, tmp_path):
    commit_clips(store, "kws", range(40))  # one pack of 40 clips
    commit_clips(store, "kws", range(20, 60))  # 20 of them again, and a pack of 20 new ones
    src = open_store(store.url)
    calls = Counting(src)
    dst = open_store(tmp_path / "laptop")
    report = src.copy_to(dst)
    assert report.blobs == 60
    ranged = [path for verb, path in calls.calls if verb == "read_range"]
    assert len(ranged) == 2, ranged  # one per pack, not one per clip
    remove_store(store.url)
    for v in ("kws:v0", "kws:v1"):
        assert open_store(dst.url).artifact(v).verify() == []


def test_copy_sends_only_bytes_dst_lacks_and_never_overwrites_diverged_history(store, tmp_path):
    src = open_store(tmp_path / "laptop")
    commit_clips(src, "kws", range(10))
    own = commit_clips(store, "kws", range(5))  # dst's own kws:v0, different content
    report = src.copy_to(store, ["kws"])
    assert report.versions == [("kws:v0", "kws:v1")]
    assert report.blobs == 5  # clips 0..4 are in dst already
    dst = open_store(store.url)
    assert dst.artifact("kws:v0").manifest["digest"] == own.manifest["digest"]
    assert dst.artifact("kws:v1").verify() == []


def test_copy_refs_pick_versions(store, tmp_path):
    src = open_store(tmp_path / "laptop")
    commit_clips(src, "kws", [0])
    commit_clips(src, "kws", [1])
    src.set_alias("kws", "best", "v0")
    commit_clips(src, "other", [2])
    report = src.copy_to(store, ["kws:best"])
    assert report.versions == [("kws:v0", "kws:v0")]
    assert open_store(store.url).names() == ["kws"]
    with pytest.raises(ArtifactNotFoundError, match="nope"):
        src.copy_to(store, ["nope"])


def test_copy_errors_name_the_stores_and_the_version(store, tmp_path):
    src = open_store(tmp_path / "laptop", pack_min=None)
    v = commit_clips(src, "kws", [0])
    media = next(e for p, e in v.manifest.entries.items() if p.startswith("media/"))
    blob = tmp_path / "laptop" / "blobs" / "sha256" / media["digest"][:2] / media["digest"][2:]
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(CopyError) as info:
        src.copy_to(store)
    assert src.url in str(info.value) and store.url in str(info.value)
    assert "kws:v0" in str(info.value)
    assert open_store(store.url).names() == []  # no half version


def test_a_copy_from_a_store_missing_a_pack_says_so(store, tmp_path):
    src = open_store(tmp_path / "laptop")
    commit_clips(src, "kws", range(20))
    pack = next(p for p in os.listdir(tmp_path / "laptop" / "packs") if not p.endswith(".idx"))
    os.remove(tmp_path / "laptop" / "packs" / pack)
    with pytest.raises(CopyError, match=rf"kws:v0 of {re.escape(src.url)} to .*pack {pack[:16]}"):
        src.copy_to(store)
    assert open_store(store.url).names() == []


def test_copy_to_a_store_that_ignores_conditional_writes_needs_single_writer(tmp_path):
    class Unsafe(LocalBackend):
        honours_create_if_absent = False

    src = open_store(tmp_path / "laptop")
    commit_clips(src, "kws", [0])
    dst = Store(Unsafe(str(tmp_path / "dst")), str(tmp_path / "dst"))
    with pytest.raises(artifacts.UnsafeBackendError, match="single_writer"):
        src.copy_to(dst)
    assert not (tmp_path / "dst").exists()
    ok = Store(Unsafe(str(tmp_path / "dst")), str(tmp_path / "dst"), single_writer=True)
    assert src.copy_to(ok).versions == [("kws:v0", "kws:v0")]


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    import artifacts
    src = artifacts.open_store(sys.argv[1])
    dst = artifacts.open_store(sys.argv[2], pack_min=None)
    base = type(dst.backend)

    class Killed(base):
        def write_many(self, items, progress=None):
            for n, item in enumerate(items):
                if n == int(sys.argv[3]):
                    os.kill(os.getpid(), signal.SIGKILL)  # dies half-way, no clean-up
                base.write_many(self, [item], progress)

    dst.backend.__class__ = Killed
    src.copy_to(dst)
    """
)


# (not memory://: a memory filesystem lives in one process)
@pytest.mark.parametrize("store", ["local", "s3", "azure"], indirect=True)
def test_a_copy_killed_half_way_leaves_dst_valid_and_a_rerun_finishes(store, tmp_path):
    src = open_store(tmp_path / "laptop")
    commit_clips(src, "kws", range(40))
    env = {**os.environ, "PYTHONPATH": REPO}
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, src.url, store.url, "15"], env=env, capture_output=True
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    half = open_store(store.url)
    assert half.names() == []  # bytes first, manifest last: no half version
    rerun = open_store(store.url, pack_min=None)
    report = src.copy_to(rerun)
    assert report.versions == [("kws:v0", "kws:v0")]
    assert report.blobs == 40 - 15  # what the killed copy sent is not sent again
    remove_store(src.url)
    assert open_store(store.url).artifact("kws:v0").verify() == []


# -- cross-store commits --------------------------------------------------------------------


def test_committing_another_stores_version_copies_its_bytes(store, tmp_path):
    """``s3.commit(local.artifact("kws:latest").new_draft())`` used to make a manifest that
    pointed at the laptop's folder."""
    laptop = open_store(tmp_path / "laptop")
    commit_clips(laptop, "kws", range(5), description="words")
    draft = laptop.artifact("kws:latest").new_draft()
    draft.add(laptop.artifact("kws:v0").get("c0"), "again")
    v = store.commit(draft)
    assert all("ref" not in e for e in v.manifest.entries.values())
    remove_store(laptop.url)
    fresh = open_store(store.url).artifact("kws:v0")
    assert fresh.verify() == []
    assert fresh.get("again").numpy().tobytes() == clip(0).numpy().tobytes()
    assert not os.path.exists(tmp_path / "laptop")  # reading re-created nothing there


def test_within_one_store_values_stay_references_to_the_same_blob(store):
    v0 = commit_clips(store, "kws", [0])
    d = Artifact("derived", type="dataset")
    d.add(v0.get("c0"), "c0")
    v = store.commit(d)
    media = [e for p, e in v.manifest.entries.items() if p.startswith("media/")]
    assert media[0]["ref"]["artifact"] == "kws:v0" and "store" not in media[0]["ref"]


# -- the command line -----------------------------------------------------------------------
SCRIPT = str(Path(sys.executable).with_name("artifacts"))
DOCS = Path(REPO) / "docs" / "cli.md"


@pytest.mark.s3
def test_the_documented_team_session_runs_as_shown(s3_server, tmp_path):
    import s3fs

    bucket = f"team-{uuid.uuid4().hex[:8]}"  # (test_remotes' session has "team-bucket")
    s3fs.S3FileSystem(endpoint_url=s3_server, skip_instance_cache=True).mkdir(bucket)
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    steps = console_session(DOCS, "A team's session")
    assert len(steps) >= 8
    subst = {"http://127.0.0.1:9000": s3_server, "team-bucket": bucket}
    run_console_session(steps, tmp_path, env, subst)


def test_cli_delete_and_copy_errors_are_one_line(tmp_path):
    laptop = open_store(tmp_path / "laptop")
    commit_clips(laptop, "kws", [0])

    def run(*args):
        return subprocess.run([SCRIPT, *args], capture_output=True, text=True, cwd=tmp_path)

    done = run("delete", "kws:v3", "--store", "laptop")
    assert done.returncode == 1 and done.stderr.startswith("artifacts: error: no version")
    done = run("copy", "nope", "--store", "laptop", "--to", "team")
    assert done.returncode == 1 and "no artifact named 'nope'" in done.stderr
    assert not (tmp_path / "team").exists()
    done = run("copy", "--store", "laptop")
    assert done.returncode == 2 and "--to" in done.stderr


# -- references that do point elsewhere ------------------------------------------------------


def test_a_reference_records_the_options_every_reader_needs_never_credentials(
    store, s3_bucket, s3_server, monkeypatch
):
    fs = fsspec.filesystem("s3", endpoint_url=s3_server, skip_instance_cache=True)
    fs.pipe_file(f"{s3_bucket}/raw/take.wav".removeprefix("s3://"), b"RIFF take")
    d = Artifact("refs", type="dataset")
    d.add_reference(
        f"{s3_bucket}/raw/take.wav",
        endpoint_url=s3_server,
        key=os.environ["AWS_ACCESS_KEY_ID"],
        secret=os.environ["AWS_SECRET_ACCESS_KEY"],
    )
    v = store.commit(d)
    assert dict(v.manifest.entries["take.wav"]["options"]) == {"endpoint_url": s3_server}
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # a teammate's reader: only the manifest says it
    fresh = open_store(store.url).artifact("refs:v0")
    assert fresh.read_bytes("take.wav") == b"RIFF take"
    assert fresh.verify() == []


def test_an_unreachable_reference_names_the_location_it_needs(store, s3_bucket, monkeypatch):
    d = Artifact("refs", type="dataset")
    fsspec.filesystem("s3", skip_instance_cache=True).pipe_file(
        f"{s3_bucket}/raw/take.wav".removeprefix("s3://"), b"RIFF take"
    )
    d.add_reference(f"{s3_bucket}/raw/take.wav")
    store.commit(d)
    # the server moved: the manifest's options name an endpoint where nothing listens
    path = "artifacts/refs/versions/v0.json"
    obj = json.loads(store.backend.read(path))
    obj["entries"]["take.wav"]["options"] = {"endpoint_url": "http://127.0.0.1:9"}
    store.backend.write(path, resealed(obj))
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    fresh = open_store(store.url).artifact("refs:v0")
    with pytest.raises(artifacts.config.StoreUnreachableError) as info:
        fresh.read_bytes("take.wav")
    assert f"{s3_bucket}/raw/take.wav" in str(info.value)
    assert "endpoint_url" in str(info.value)
