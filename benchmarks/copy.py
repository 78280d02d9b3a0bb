"""Figure 8: copy a local store's version of N clips to S3 (moto's server on 127.0.0.1)
with ``src.copy_to(dst)``, against uploading the same clip files with s3fs (``fs.put``); and
the repeated copy, which finds every version already there and sends nothing."""

from __future__ import annotations

import os
import uuid

from ._util import RATE, Row, best_of, clips, scratch
from .s3 import moto_server


def run(n: int, repeats: int) -> list[Row]:
    import s3fs

    import artifacts
    from media import Audio

    arrays = clips(n, seed=8)
    with scratch("copy-") as folder, moto_server() as endpoint:
        src = artifacts.open_store(os.path.join(folder, "laptop"), progress=False)
        draft = artifacts.Artifact("clips", "dataset")
        files = os.path.join(folder, "files")
        os.makedirs(files)
        for i, a in enumerate(arrays):
            clip = Audio(a, RATE)
            draft.add(clip, f"clip{i}")
            with open(os.path.join(files, f"{i}.wav"), "wb") as f:
                f.write(clip.in_memory_bytes())
        src.commit(draft)
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        fs.mkdir(bucket)
        local = sorted(os.path.join(files, f) for f in os.listdir(files))
        nbytes = sum(os.path.getsize(p) for p in local)

        def fresh() -> str:
            return uuid.uuid4().hex[:8]

        def put(prefix: str) -> None:
            fs.put(local, [f"{bucket}/{prefix}/{os.path.basename(p)}" for p in local])

        def copy(prefix: str) -> None:
            dst = artifacts.open_store(f"s3://{bucket}/{prefix}", progress=False)
            report = src.copy_to(dst)
            assert report.blobs == n, report

        t_put = best_of(put, repeats, fresh)
        t_copy = best_of(copy, repeats, fresh)
        again = fresh()
        copy(again)

        def repeat() -> None:
            dst = artifacts.open_store(f"s3://{bucket}/{again}", progress=False)
            fresh_src = artifacts.open_store(src.url, progress=False)  # nothing cached
            report = fresh_src.copy_to(dst)
            assert report.blobs == 0 and not report.versions, report

        t_again = best_of(repeat, repeats)
    return [
        Row(
            "8",
            f"copy_to: a local version of {n} clips ({nbytes / 1e6:.0f} MB) to s3:// (moto) "
            "(ratio: times faster)",
            t_copy,
            baseline="s3fs fs.put files",
            base_value=t_put,
            ratio=t_put / t_copy,
            target=">= 1x",
            ok=t_copy <= t_put,
            note="clips packed, packs sent concurrently; manifest last",
        ),
        Row(
            "8",
            "the same copy repeated: nothing sent, no version made",
            t_again,
            baseline="the first copy",
            base_value=t_copy,
            ratio=t_again / t_copy,
            note="reads the manifests of both sides and the aliases",
        ),
    ]
