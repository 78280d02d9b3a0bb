"""Figure 5: commit N clips to S3 (moto's server on 127.0.0.1) with concurrent transfers,
against the same files uploaded one at a time.

moto's server runs in its own process (``python -m moto.server``), started and stopped here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager

from ._util import RATE, Row, best_of, clips

_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server():
    """moto's S3 server on a free port; sets the AWS_* variables while it runs."""
    import s3fs

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in [*_AWS, "AWS_ENDPOINT_URL"]}
    os.environ.update(_AWS, AWS_ENDPOINT_URL=endpoint)
    # fsspec keeps one S3 filesystem per set of arguments, with the endpoint it was made
    # with: a figure after another's server must not reach the stopped one
    s3fs.S3FileSystem.clear_instance_cache()
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto's server did not start") from None
                time.sleep(0.05)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(10)
        s3fs.S3FileSystem.clear_instance_cache()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run(n: int, repeats: int) -> list[Row]:
    import s3fs

    import artifacts
    from media import Audio

    arrays = clips(n, seed=5)
    with moto_server() as endpoint:
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        fs.mkdir(bucket)
        payloads = [Audio(a, RATE).in_memory_bytes() for a in arrays]

        def one_at_a_time(prefix: str) -> None:
            for i, data in enumerate(payloads):
                fs.pipe_file(f"{bucket}/{prefix}/{i}.wav", data)

        def commit(prefix: str, **options) -> None:
            store = artifacts.open_store(f"s3://{bucket}/{prefix}", **options)
            draft = artifacts.Artifact("clips", "dataset")
            for i, a in enumerate(arrays):
                draft.add(Audio(a, RATE), f"clip{i}")
            store.commit(draft)

        def fresh() -> str:
            return uuid.uuid4().hex[:8]

        def all_at_once(prefix: str) -> None:
            fs.pipe(
                {f"{bucket}/{prefix}/{i}.wav": d for i, d in enumerate(payloads)}, batch_size=32
            )

        t_seq = best_of(one_at_a_time, repeats, fresh)
        t_ours = best_of(commit, repeats, fresh)
        t_loose = best_of(lambda p: commit(p, pack_min=None), repeats, fresh)
        t_pipe = best_of(all_at_once, repeats, fresh)
        probe = fresh()
        commit(probe)

        def read_back(prefix: str) -> None:
            version = artifacts.open_store(f"s3://{bucket}/{prefix}").artifact("clips:latest")
            for i in range(n):
                version.get(f"clip{i}").numpy()

        t_read = best_of(lambda: read_back(probe), repeats)
        written = [k.split(f"/{probe}/", 1)[1] for k in fs.find(f"{bucket}/{probe}")]
    packs = [w for w in written if w.startswith("packs/") and not w.endswith(".idx")]
    speedup = t_seq / t_ours
    return [
        Row(
            "5",
            f"commit {n} clips to s3:// (moto) (ratio: times faster)",
            t_ours,
            baseline="1-at-a-time PUTs",
            base_value=t_seq,
            ratio=speedup,
            target=">= 5x",
            ok=speedup >= 5,
            note=f"{len(written)} objects: {len(packs)} packs of clips uploaded concurrently, "
            "their indexes, the manifest, the store marker; the clips' JSONs are inside the "
            "manifest",
        ),
        Row(
            "5",
            f"read the {n} clips back: fresh store object, get + numpy() in a loop",
            t_read,
            baseline="their commit",
            base_value=t_ours,
            ratio=t_read / t_ours,
            target="<= 1.5x",
            ok=t_read / t_ours <= 1.5,
            note="pack members read ahead in coalesced ranged GETs, several at a time",
        ),
        Row(
            "5",
            "same with pack_min=None: one object per clip, 32 PUTs in flight",
            t_loose,
            baseline="1-at-a-time PUTs",
            base_value=t_seq,
            ratio=t_seq / t_loose,
        ),
        Row(
            "5",
            f"ceiling of one object per clip: the {n} clip files alone in one concurrent "
            "fs.pipe (32 in flight)",
            t_pipe,
            baseline="1-at-a-time PUTs",
            base_value=t_seq,
            ratio=t_seq / t_pipe,
            note="what this server allows",
        ),
    ]
