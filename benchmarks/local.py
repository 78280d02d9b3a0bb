"""Figures 1 and 2: add + commit N clips to a local store, and load them back."""

from __future__ import annotations

import hashlib
import os

import soundfile as sf

import artifacts
from media import Audio

from ._util import RATE, Row, best_of, clips, run_child, scratch


def raw_limit(arrays, folder: str) -> None:
    """The least any store can do: tobytes, sha256, one file written per clip."""
    for i, a in enumerate(arrays):
        data = a.tobytes()
        hashlib.sha256(data).hexdigest()
        with open(os.path.join(folder, f"{i}.raw"), "wb") as f:
            f.write(data)


def add_and_commit(arrays, store_url: str) -> artifacts.Artifact:
    """What a user writes: one Audio per array, draft.add, store.commit."""
    store = artifacts.open_store(store_url)
    draft = artifacts.Artifact("clips", "dataset")
    for i, a in enumerate(arrays):
        draft.add(Audio(a, RATE), f"clip{i}")
    return store.commit(draft)


def reload(store_url: str, n: int) -> list:
    """Open the version in a fresh store object, get every clip, read its samples."""
    art = artifacts.open_store(store_url).artifact("clips:latest")
    return [art.get(f"clip{i}").numpy() for i in range(n)]


def run(n: int, repeats: int) -> list[Row]:
    arrays = clips(n)
    rows = []
    with scratch() as tmp:
        counter = iter(range(10**6))

        def fresh(prefix: str) -> str:
            d = os.path.join(tmp, f"{prefix}{next(counter)}")
            os.makedirs(d)
            os.sync()  # untimed: every run starts with no dirty pages of the one before
            return d

        t_raw = best_of(lambda d: raw_limit(arrays, d), repeats, lambda: fresh("raw"))
        t_ours = best_of(lambda d: add_and_commit(arrays, d), repeats, lambda: fresh("store"))
        rows.append(
            Row(
                "1",
                f"add {n} 1-s clips + commit, local store",
                t_ours,
                baseline="raw limit",
                base_value=t_raw,
                ratio=t_ours / t_raw,
                target="<= 3.0x",
                ok=t_ours / t_raw <= 3.0,
            )
        )
        try:
            wb = run_child("benchmarks._wandb_loop", str(n), str(repeats), timeout=1800)
        except RuntimeError as exc:
            rows.append(Row("1", "wandb loop", None, note=f"not run: {str(exc)[-120:]}"))
        else:
            if wb.get("skipped"):
                rows.append(Row("1", "wandb loop", None, note=wb["skipped"]))
            else:
                speedup = wb["seconds"] / t_ours
                rows.append(
                    Row(
                        "1",
                        f"wandb {wb['version']} Artifact.add(wandb.Audio) x{n}, offline "
                        "(ratio: times faster)",
                        t_ours,
                        baseline="wandb",
                        base_value=wb["seconds"],
                        ratio=speedup,
                        target=">= 15x",
                        ok=speedup >= 15,
                    )
                )
                rows.append(
                    Row(
                        "1",
                        "ceiling: the raw limit vs wandb (what writing one file per clip allows)",
                        t_raw,
                        baseline="wandb",
                        base_value=wb["seconds"],
                        ratio=wb["seconds"] / t_raw,
                    )
                )
        store_url = fresh("reload")
        add_and_commit(arrays, store_url)
        wav_dir = fresh("wav")
        paths = []
        for i, a in enumerate(arrays):
            p = os.path.join(wav_dir, f"{i}.wav")
            sf.write(p, a, RATE, subtype="FLOAT")
            paths.append(p)
        t_sf = best_of(lambda: [sf.read(p, dtype="float32") for p in paths], repeats)
        t_load = best_of(lambda: reload(store_url, n), repeats)
        rows.append(
            Row(
                "2",
                f"open version, get + numpy() {n} clips",
                t_load,
                baseline="soundfile.read",
                base_value=t_sf,
                ratio=t_load / t_sf,
                target="<= 2.0x",
                ok=t_load / t_sf <= 2.0,
            )
        )
    return rows
