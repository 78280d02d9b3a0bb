"""Figure 7: one shuffled training epoch over 2,000 clips of 1-10 s (16 kHz int16, about 350 MB)
through ``version.dataset(...)`` from a local store, every byte checked against its digest
(BLAKE3, recorded at commit),
against the same epoch from peers holding the same clips:

* Hugging Face ``datasets``: ``load_from_disk``, ``shuffle(seed)``, ``iter(batch_size=64)``
  over an ``Audio(decode=False)`` column, each clip's WAV bytes decoded with soundfile (its
  own decoder needs torchcodec), and once more with NumPy (``np.frombuffer`` after the
  header), the decoder our view uses;
* WebDataset tar shards (the ``webdataset`` package, 20 shards, a 1,000-sample shuffle
  buffer), decoded with soundfile;
* plain WAV files in a folder, read in a shuffled order with ``soundfile.read``.

Every reader hands the training loop int16 arrays of every clip; the sum of all frames is
checked against the clips written.  All data are read once before timing (warm page cache
for every reader alike); each time is the best of N.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
from typing import Any

import blake3
import numpy as np
import soundfile as sf

import artifacts
from media import Audio, Table, _wav

from ._util import RATE, Row, scratch

BATCH = 64


def make_clips(n: int, seed: int = 7) -> list[np.ndarray]:
    """``n`` int16 clips of 1-10 s (uniform), quiet noise."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(RATE, 10 * RATE + 1, n)
    return [rng.integers(-2000, 2000, int(k), dtype=np.int16) for k in lengths]


def wav(x: np.ndarray) -> bytes:
    return _wav.encode(x, RATE)


# -- the readers: each returns the number of frames it handed over ------------------------------
def ours(store_url: str, prefetch: int, workers: int) -> int:
    ds = artifacts.open_store(store_url).artifact("speech:latest").dataset("train")
    plan = ds.batches(BATCH, seed=0, epoch=0)
    frames = 0
    if prefetch:
        batches = ds.iter_batches(plan, prefetch=prefetch, workers=workers)
    else:
        batches = ([ds[i] for i in b] for b in plan)
    for rows in batches:
        for r in rows:
            frames += len(r["audio"].numpy())
    return frames


def hf(path: str, decode: str) -> int:
    import datasets

    ds = datasets.load_from_disk(path).shuffle(seed=0)
    frames = 0
    for batch in ds.iter(batch_size=BATCH):
        for a in batch["audio"]:
            if decode == "soundfile":
                x, _ = sf.read(io.BytesIO(a["bytes"]), dtype="int16")
            else:
                x = _wav.decode(a["bytes"])[0]
            frames += len(x)
    return frames


def wds(pattern: list[str]) -> int:
    import webdataset

    ds = webdataset.WebDataset(pattern, shardshuffle=len(pattern), empty_check=False)
    frames = 0
    for sample in ds.shuffle(1000):
        x, _ = sf.read(io.BytesIO(sample["wav"]), dtype="int16")
        frames += len(x)
    return frames


def files(paths: list[str]) -> int:
    order = np.random.default_rng(0).permutation(len(paths))
    frames = 0
    for i in order:
        x, _ = sf.read(paths[i], dtype="int16")
        frames += len(x)
    return frames


# -- set-up (not timed) ---------------------------------------------------------------------------
def write_all(tmp: str, clips: list[np.ndarray]) -> dict[str, object]:
    import datasets
    import webdataset

    data = [wav(x) for x in clips]
    store_url = os.path.join(tmp, "store")
    store = artifacts.open_store(store_url)
    table = Table(columns=["audio", "label"])
    for i, x in enumerate(clips):
        table.add_data(Audio(x, RATE), i % 10)
    draft = artifacts.Artifact("speech", "dataset")
    draft.add(table, "train")
    store.commit(draft)

    folder = os.path.join(tmp, "wav")
    os.makedirs(folder)
    paths = []
    for i, b in enumerate(data):
        paths.append(os.path.join(folder, f"{i:05d}.wav"))
        with open(paths[-1], "wb") as f:
            f.write(b)

    hf_dir = os.path.join(tmp, "hf")
    hf_ds = datasets.Dataset.from_dict(
        {"audio": [{"bytes": b, "path": f"{i:05d}.wav"} for i, b in enumerate(data)]}
    ).cast_column("audio", datasets.Audio(decode=False))
    hf_ds = hf_ds.add_column("label", [i % 10 for i in range(len(data))])
    hf_ds.save_to_disk(hf_dir)

    shards = os.path.join(tmp, "wds")
    os.makedirs(shards)
    per = max(1, len(data) // 20)
    with webdataset.ShardWriter(os.path.join(shards, "%05d.tar"), maxcount=per, verbose=0) as w:
        for i, b in enumerate(data):
            w.write({"__key__": f"{i:05d}", "wav": b, "cls": i % 10})
    tars = sorted(os.path.join(shards, f) for f in os.listdir(shards))
    return {"store": store_url, "paths": paths, "hf": hf_dir, "tars": tars}


def timed(fn, repeats: int) -> tuple[float, float]:
    """Wall and CPU seconds (of this process, all threads) of the fastest of ``repeats`` runs."""
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - w, time.process_time() - c))
    return best


def on_s3(clips: list[np.ndarray], repeats: int) -> dict[tuple[Any, str], float]:
    """An epoch over ``clips`` from stores on moto's S3 server (clips packed, the default, and
    one object per clip), with and without read-ahead."""
    import uuid

    import s3fs

    from .s3 import moto_server

    out = {}
    with moto_server() as endpoint:
        fs = s3fs.S3FileSystem(client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True)
        for pack_min in (16, None):
            bucket = f"epoch-{uuid.uuid4().hex[:8]}"
            fs.mkdir(bucket)
            url = f"s3://{bucket}/store"
            table = Table(columns=["audio", "label"])
            for i, x in enumerate(clips):
                table.add_data(Audio(x, RATE), i % 10)
            draft = artifacts.Artifact("speech", "dataset")
            draft.add(table, "train")
            artifacts.open_store(url, pack_min=pack_min).commit(draft)
            out[pack_min, "ahead"] = timed(lambda u=url: ours(u, 2, 8), repeats)[0]
            out[pack_min, "plain"] = timed(lambda u=url: ours(u, 0, 1), repeats)[0]
    return out


def run(n: int, repeats: int) -> list[Row]:
    import datasets

    datasets.disable_progress_bars()
    clips = make_clips(n)
    want = sum(len(x) for x in clips)
    mb = sum(x.nbytes for x in clips) / 1e6
    rows: list[Row] = []
    with scratch("epoch-") as tmp:
        where = write_all(tmp, clips)
        readers = {
            "ours": lambda: ours(where["store"], 2, 4),  # type: ignore[arg-type]
            "ours, no read-ahead": lambda: ours(where["store"], 0, 1),  # type: ignore[arg-type]
            "hf": lambda: hf(where["hf"], "soundfile"),  # type: ignore[arg-type]
            "hf-np": lambda: hf(where["hf"], "numpy"),  # type: ignore[arg-type]
            "wds": lambda: wds(where["tars"]),  # type: ignore[arg-type]
            "files": lambda: files(where["paths"]),  # type: ignore[arg-type]
        }
        times, cpu = {}, {}
        for name, fn in readers.items():
            got = fn()  # warm the page cache; check every frame arrives
            if got != want:
                raise AssertionError(f"{name} handed over {got} frames, not {want}")
            times[name], cpu[name] = timed(fn, repeats)
        data = [wav(x) for x in clips]
        t_hash = timed(lambda: [hashlib.sha256(b).digest() for b in data], repeats)[0]
        t_b3 = timed(lambda: [blake3.blake3(b).digest() for b in data], repeats)[0]
    s3_n = max(50, n // 20)
    s3 = on_s3(clips[:s3_n], max(1, repeats - 1))

    def rate(t: float) -> float:
        return round(n / t)

    base = times["hf"]
    label = f"{n} clips of 1-10 s, {mb:.0f} MB"
    rows.append(
        Row(
            "7",
            f"one shuffled epoch through dataset(), local store ({label}; every byte "
            f"checked; {rate(times['ours'])} clips/s; CPU {cpu['ours']:.2f} s; ratio: times "
            "faster)",
            times["ours"],
            baseline="HF datasets",
            base_value=base,
            ratio=base / times["ours"],
            target=">= 2x",
            ok=base / times["ours"] >= 2,
        )
    )
    notes = {
        "ours, no read-ahead": "the same, rows read one by one as ds[i] in the loop",
        "hf": "HF datasets load_from_disk + shuffle + iter(64), soundfile decode",
        "hf-np": "HF datasets, decoded with np.frombuffer (our decoder)",
        "wds": "WebDataset, 20 tar shards, shuffle(1000), soundfile decode",
        "files": "plain WAV files, shuffled, soundfile.read",
    }
    for key, what in notes.items():
        rows.append(
            Row(
                "7",
                f"{what} ({rate(times[key])} clips/s; CPU {cpu[key]:.2f} s)",
                times[key],
                baseline="ours",
                base_value=times["ours"],
                ratio=times[key] / times["ours"],
            )
        )
    for what, t in (("sha256 (format 1)", t_hash), ("BLAKE3 (format 2: what ours checks)", t_b3)):
        rows.append(
            Row(
                "7",
                f"floor of checking: {what} of the {mb:.0f} MB of WAV bytes, one thread",
                t,
                baseline="ours",
                base_value=times["ours"],
                ratio=t / times["ours"],
            )
        )
    for pack_min, layout in ((16, "clips in packs, the default"), (None, "one object per clip")):
        rows.append(
            Row(
                "7",
                f"epoch of {s3_n} clips from s3:// (moto; {layout}), iter_batches reading 2 "
                "batches ahead with 8 threads (ratio: times faster)",
                s3[pack_min, "ahead"],
                baseline="ds[i] one by one",
                base_value=s3[pack_min, "plain"],
                ratio=s3[pack_min, "plain"] / s3[pack_min, "ahead"],
            )
        )
    return rows
