"""Figure 6: bulk ingest through an Executor: a process pool, and a Dask cluster.

The workload: N WAV files on disk, given as ``functools.partial(Audio, path)``, so that
reading each header and hashing each file happen in the executor; the draft is filled in
this process and committed to a local store.  Pools are started and warmed up before the
clock starts.  On a real cluster the files must be on storage the workers and this process
share.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import os
import time
import warnings

import soundfile as sf

import artifacts
from media import Audio

from ._util import RATE, Row, best_of, clips, scratch


def _ingest(items, executor, store_url: str) -> None:
    draft = artifacts.Artifact("clips", "dataset")
    draft.add_many(items, executor)
    store = artifacts.open_store(store_url)
    v = store.commit(draft)
    assert len(v.value_names()) == len(items)


def run(n: int, repeats: int) -> list[Row]:
    rows = []
    with scratch() as tmp:
        items = []
        for i, a in enumerate(clips(n, seed=9)):
            p = os.path.join(tmp, f"in{i}.wav")
            sf.write(p, a, RATE, subtype="FLOAT")
            items.append((f"clip{i}", functools.partial(Audio, p)))
        counter = iter(range(10**6))

        def fresh() -> str:
            return os.path.join(tmp, f"store{next(counter)}")

        t_serial = best_of(lambda d: _ingest(items, None, d), repeats, fresh)
        rows.append(
            Row("6", f"add_many {n} WAV files, no executor, + commit", t_serial, note="serial")
        )
        workers = min(4, os.cpu_count() or 1)
        with concurrent.futures.ProcessPoolExecutor(workers) as pool:
            list(pool.map(abs, range(workers)))  # start the workers before timing
            t_pool = best_of(lambda d: _ingest(items, pool, d), repeats, fresh)
        rows.append(
            Row(
                "6",
                f"same, ProcessPoolExecutor({workers})",
                t_pool,
                baseline="serial",
                base_value=t_serial,
                ratio=t_pool / t_serial,
            )
        )
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            rows.append(Row("6", "dask", None, note=f"not run: {exc}"))
            return rows
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            with (
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                ) as cluster,
                Client(cluster) as client,
            ):
                start = time.perf_counter() - t0
                executor = client.get_executor()
                list(executor.map(abs, range(workers)))
                t_dask = best_of(lambda d: _ingest(items, executor, d), repeats, fresh)
        rows.append(
            Row(
                "6",
                f"same, dask LocalCluster({workers} workers).get_executor()",
                t_dask,
                baseline="serial",
                base_value=t_serial,
                ratio=t_dask / t_serial,
                note=f"cluster start {start:.1f} s, not timed",
            )
        )
    return rows
