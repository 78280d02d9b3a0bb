"""Figure 9: random 5 s windows of 1-hour recordings (WAV and FLAC, 16 kHz mono int16) read
from a store, every byte checked by the chunk digests recorded at commit, against
``soundfile.read(path, start=, stop=)`` of the same file on the local disk (which checks
nothing).

Per window: the wall time (the mean over all windows, after the first read of each file, which
also reads its chunk table) and the bytes the store's backend returned, counted by a subclass
of the store's own backend class.  The store is local, then on moto's S3 server over HTTP.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import numpy as np
import soundfile as sf

from ._util import RATE, Row, scratch
from .s3 import moto_server

WINDOW = 5 * RATE
KIB = 1024


def _count(store) -> dict[str, int]:
    """Make the store's backend a counting subclass of its own class; returns the counts."""
    counts = {"bytes": 0, "reads": 0}
    base = type(store.backend)

    class Counting(base):  # a real backend, counting what its ranged reads return
        def read_range(self, path, offset, size):
            data = super().read_range(path, offset, size)
            counts["bytes"] += len(data)
            counts["reads"] += 1
            return data

    store.backend.__class__ = Counting
    return counts


def _recording(seconds: int) -> np.ndarray:
    """Speech-like noise: loud enough that FLAC keeps about two thirds of the bytes."""
    rng = np.random.default_rng(8)
    return (rng.standard_normal(seconds * RATE) * 1500).astype(np.int16)


def _windows(n: int, frames: int) -> list[int]:
    return [int(s) for s in np.random.default_rng(80).integers(0, frames - WINDOW, n)]


def _ours(store, name: str, starts: list[int], x: np.ndarray) -> tuple[float, float, float]:
    """(seconds per window, bytes per window, ranged reads per window) of one stored clip."""
    clip = store.artifact(f"{name}:latest").get("r")
    first = np.ravel(clip.numpy(starts[0], starts[0] + WINDOW))
    assert np.array_equal(first, x[starts[0] : starts[0] + WINDOW])
    counts = _count(store)
    t = time.perf_counter()
    for s in starts:
        clip.numpy(s, s + WINDOW)
    per = (time.perf_counter() - t) / len(starts)
    return per, counts["bytes"] / len(starts), counts["reads"] / len(starts)


def _soundfile(path: str, starts: list[int]) -> float:
    t = time.perf_counter()
    for s in starts:
        sf.read(path, start=s, stop=s + WINDOW, dtype="int16", always_2d=True)
    return (time.perf_counter() - t) / len(starts)


def run(n: int, seconds: int = 3600) -> list[Row]:
    import artifacts
    from media import Audio

    x = _recording(seconds)
    starts = _windows(n, len(x))
    rows: list[Row] = []
    with scratch("windows-") as d:
        files = {"WAV": f"{d}/rec.wav", "FLAC": f"{d}/rec.flac"}
        sf.write(files["WAV"], x, RATE, subtype="PCM_16")
        sf.write(files["FLAC"], x, RATE, subtype="PCM_16")
        base = {fmt: _soundfile(path, starts) for fmt, path in files.items()}
        sizes = {fmt: Audio(path).size for fmt, path in files.items()}

        def commit(url: str, **options) -> None:
            store = artifacts.open_store(url, **options)
            for fmt, path in files.items():
                draft = artifacts.Artifact(f"rec-{fmt.lower()}", "dataset")
                draft.add(Audio(path), "r")
                store.commit(draft)

        def measure(url: str, where: str, starts: list[int], peer: Any = None) -> None:
            commit(url)
            for fmt in files:
                store = artifacts.open_store(url)  # nothing cached
                per, nbytes, reads = _ours(store, f"rec-{fmt.lower()}", starts, x)
                local = peer is None
                if local:
                    what, peer_time = "soundfile.read(start, stop), local file", base[fmt]
                else:  # the server's own cost: a plain ranged GET of the WAV window's bytes
                    what, peer_time = "plain s3fs ranged GET of the window", peer(starts)
                ratio = per / peer_time
                rows.append(
                    Row(
                        "9",
                        f"{len(starts)} random 5 s windows of a 1 h {fmt} "
                        f"({sizes[fmt] / 1e6:.0f} MB), {where} store, per window (ratio: "
                        "times slower)",
                        per,
                        baseline=what,
                        base_value=peer_time,
                        ratio=ratio,
                        target="<= 2x" if local else "",
                        ok=ratio <= 2 if local else None,
                        note="every byte checked against its chunk digest",
                    )
                )
                over = nbytes - WINDOW * 2
                rows.append(
                    Row(
                        "9",
                        f"  bytes read per {fmt} window, {where}: {reads:.1f} ranged reads; "
                        f"beyond the window's {WINDOW * 2:,} bytes: {over / KIB:.1f} KiB",
                        round(nbytes),
                        unit="B",
                        target="<= window + 64 KiB" if fmt == "WAV" else "",
                        ok=over <= 64 * KIB if fmt == "WAV" else None,
                    )
                )

        measure(f"{d}/store", "local", starts)
        with moto_server() as endpoint:
            import s3fs

            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            fs = s3fs.S3FileSystem(
                client_kwargs={"endpoint_url": endpoint}, skip_instance_cache=True
            )
            fs.mkdir(bucket)
            fs.put_file(files["WAV"], f"{bucket}/plain.wav")

            def plain(some: list[int]) -> float:
                t = time.perf_counter()
                for s in some:
                    fs.cat_file(f"{bucket}/plain.wav", start=44 + 2 * s, end=44 + 2 * (s + WINDOW))
                return (time.perf_counter() - t) / len(some)

            # moto copies a whole object to answer a ranged GET (about 0.1 s for 115 MB):
            # fewer windows there, against that same cost measured beside them
            measure(f"s3://{bucket}/store", "s3:// (moto)", starts[: max(20, n // 10)], plain)
    return rows
