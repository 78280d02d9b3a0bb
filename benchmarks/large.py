"""Figure 4: an Audio from a large WAV file is hashed and committed in bounded memory;
so is a draft of more clips (made from arrays) than it keeps in memory.

A child process writes the file (a WAV header, then zeros in 8 MiB chunks), then makes
``Audio(path)``, reads its metadata, adds it to a draft and commits it, and reports the
growth of its peak RSS (``VmHWM``, reset first where Linux allows; else
``resource.getrusage``) over its RSS before, and how many bytes it read
(``/proc/self/io``).  The file and the store are deleted afterwards.

A second child adds as many megabytes of one-second clips, made from arrays one at a time,
to one draft and commits it: past ``Artifact.spill_at`` the draft moves their bytes to its
spool (in the scratch folder), so its peak RSS grows by about ``spill_at``, not by the
size of the data.
"""

from __future__ import annotations

import json
import os
import struct
import sys
import time

from ._util import Row, peak_rss_mb, run_child, scratch

CHUNK = 8 << 20


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    return peak_rss_mb()


def _read_bytes() -> int:
    try:
        with open("/proc/self/io") as f:
            return int(next(ln for ln in f if ln.startswith("rchar")).split()[1])
    except (OSError, StopIteration):
        return -1


def write_wav(path: str, data_bytes: int, rate: int = 16000) -> None:
    """A mono float32 WAV of ``data_bytes`` bytes of silence, written in chunks."""
    fmt = struct.pack("<HHIIHHH", 3, 1, rate, rate * 4, 4, 32, 0)
    fact = b"fact" + struct.pack("<II", 4, data_bytes // 4)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + fact
    body += b"data" + struct.pack("<I", data_bytes)
    zeros = bytes(CHUNK)
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body) + data_bytes) + body)
        left = data_bytes
        while left:
            n = min(left, CHUNK)
            f.write(zeros[:n])
            left -= n


def child(mb: int, folder: str) -> dict:
    import artifacts
    from media import Audio

    path = os.path.join(folder, "big.wav")
    write_wav(path, mb << 20)
    store = artifacts.open_store(os.path.join(folder, "store"))
    try:  # reset the peak to the current size (Linux >= 4.0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    rss0 = _rss_mb()
    r0 = _read_bytes()
    t = time.perf_counter()
    clip = Audio(path)
    meta = (clip.sample_rate, clip.channels, clip.duration)
    t_meta = time.perf_counter() - t
    meta_read = _read_bytes() - r0
    draft = artifacts.Artifact("big", "dataset")
    t = time.perf_counter()
    draft.add(clip, "big")
    v0 = store.commit(draft)
    t_commit = time.perf_counter() - t
    grown = _peak_mb() - rss0
    r1 = _read_bytes()
    loaded = artifacts.open_store(store.url).artifact("big:v0").get("big")
    assert (loaded.sample_rate, loaded.channels, loaded.duration) == meta
    reload_read = _read_bytes() - r1
    return {
        "size_mb": os.path.getsize(path) / 2**20,
        "meta_s": t_meta,
        "meta_read": meta_read,
        "commit_s": t_commit,
        "rss_growth_mb": grown,
        "reload_meta_read": reload_read,
        "version": v0.version,
    }


def draft_child(mb: int, folder: str) -> dict:
    import numpy as np

    import artifacts
    from media import Audio

    os.environ["MEDIA_ARTIFACTS_SPOOL"] = folder
    store = artifacts.open_store(os.path.join(folder, "store"))
    base = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    n = (mb << 20) // (base.nbytes + 80)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    rss0 = _rss_mb()
    t = time.perf_counter()
    draft = artifacts.Artifact("many", "dataset")
    for i in range(n):
        a = base.copy()
        a[0] = i  # every clip different: nothing is stored once for two
        draft.add(Audio(a, 16000), f"clip{i}")
    art = store.commit(draft)
    took = time.perf_counter() - t
    grown = _peak_mb() - rss0
    last = artifacts.open_store(store.url).artifact("many:latest").get(f"clip{n - 1}").numpy()
    assert last[0] == n - 1 and last[1:].tobytes() == base[1:].tobytes()
    return {
        "clips": n,
        "data_mb": sum(e.size for e in art.entries.values()) / 2**20,
        "spill_at_mb": artifacts.Artifact.spill_at / 2**20,
        "s": took,
        "rss_growth_mb": grown,
    }


def run(mb: int) -> list[Row]:
    with scratch() as tmp:
        r = run_child("benchmarks.large", "--child", str(mb), tmp, timeout=1800)
    with scratch() as tmp:
        d = run_child("benchmarks.large", "--draft", str(mb), tmp, timeout=1800)
    size = f"{r['size_mb'] / 1024:.2f} GB" if r["size_mb"] >= 1024 else f"{r['size_mb']:.0f} MB"
    return [
        Row(
            "4",
            f"Audio(path) of a {size} WAV: metadata",
            r["meta_s"],
            target="no sample reads",
            ok=0 <= r["meta_read"] < 1 << 20,
            note=f"read {r['meta_read'] / 1024:.0f} KiB; reload read "
            f"{r['reload_meta_read'] / 1024:.0f} KiB",
        ),
        Row(
            "4",
            f"hash + commit the {size} file (peak RSS growth)",
            r["rss_growth_mb"],
            unit="MB",
            target="< 100 MB",
            ok=r["rss_growth_mb"] < 100,
            note=f"took {r['commit_s']:.1f} s",
        ),
        Row(
            "4",
            f"add {d['clips']} 1-s clips from arrays ({d['data_mb']:.0f} MB) + commit "
            f"(peak RSS growth; spill_at {d['spill_at_mb']:.0f} MB)",
            d["rss_growth_mb"],
            unit="MB",
            target="< spill_at + 128 MB",
            ok=d["rss_growth_mb"] < d["spill_at_mb"] + 128,
            note=f"took {d['s']:.1f} s",
        ),
    ]


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    print(json.dumps(child(int(sys.argv[2]), sys.argv[3])))
if __name__ == "__main__" and sys.argv[1:2] == ["--draft"]:
    print(json.dumps(draft_child(int(sys.argv[2]), sys.argv[3])))
