"""Verified windows: chunk digests recorded at commit, and ranged reads checked by them.

On every backend (local, ``memory://``, ``s3://`` on moto's server): random windows of a
stored recording equal the same frames of the whole clip; a damaged chunk is caught and named;
and the bytes a window costs are counted by a real backend subclass (the store's own backend
class with counting ``read_range``/``open``/``read``).
"""

from __future__ import annotations

import hashlib
import io

import blake3
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import artifacts
from artifacts import Artifact
from artifacts.odb.chunks import (
    CHUNK_SIZE,
    CHUNKED_MIN,
    chunk_digests,
    chunk_digests_of_stream,
    wants_chunks,
)
from artifacts.odb.layout import blob_path, pack_path
from media import Audio, IntegrityError

RATE = 16000


def recording(seconds: int, channels: int = 1) -> np.ndarray:
    """Distinct int16 samples (so a window read at the wrong place cannot pass)."""
    t = np.arange(RATE * seconds * channels, dtype=np.int64)
    return ((t * 7919) % 65536 - 32768).astype(np.int16).reshape(-1, channels)


def counting(store):
    """Turn ``store``'s backend into a subclass of its own class that counts what it reads:
    ``ranged`` lists ``(path, bytes)`` of ranged reads, ``whole`` the paths read whole."""
    base = type(store.backend)

    class Counting(base):
        def read_range(self, path, offset, size):
            data = super().read_range(path, offset, size)
            self.ranged.append((path, len(data)))
            return data

        def open(self, path):
            self.whole.append(path)
            return super().open(path)

        def read(self, path, limit=None):
            self.whole.append(path)
            return super().read(path, limit)

    backend = store.backend
    backend.__class__ = Counting
    backend.ranged, backend.whole = [], []
    return backend


def commit_recording(store, x, fmt="WAV", name="rec"):
    clip = Audio(x, RATE, format=fmt.lower())
    draft = Artifact(name, "dataset")
    draft.add(clip, "r")
    return store.commit(draft), clip


def test_chunk_digests_are_blake3_of_each_chunk():
    data = bytes(range(256)) * 500  # 128,000 bytes: 3 whole chunks and a short one
    table = chunk_digests(data)
    assert len(table) == 4 * 32
    for i in range(4):
        piece = data[i * CHUNK_SIZE : (i + 1) * CHUNK_SIZE]
        assert table[i * 32 : (i + 1) * 32] == blake3.blake3(piece).digest()
    assert chunk_digests(b"") == b""
    assert chunk_digests_of_stream(io.BufferedReader(io.BytesIO(data), 1000)) == table
    assert not wants_chunks(CHUNKED_MIN) and wants_chunks(CHUNKED_MIN + 1)


def test_a_large_file_gets_a_chunk_table_and_format_2(store):
    x = recording(40)  # 1.28 MB
    v, clip = commit_recording(store, x)
    assert v.manifest["format"] == 2
    (path,) = [p for p in v.manifest.entries if p.endswith(".wav")]
    e = v.manifest.entries[path]
    ch = e["chunks"]
    assert (ch["algorithm"], ch["size"]) == ("blake3", CHUNK_SIZE)
    table = store.backend.read(blob_path(ch["table"]))
    assert hashlib.sha256(table).hexdigest() == ch["table"]
    assert table == chunk_digests(clip.open().read())
    assert v.manifest.entry(path).chunks == ch
    assert e["blake3"] == blake3.blake3(clip.open().read()).hexdigest()
    # a small file gets no table, only its BLAKE3 digest (format 2 too)
    small = Artifact("small", "dataset")
    small.add(Audio(recording(1), RATE), "r")
    v1 = store.commit(small)
    assert v1.manifest["format"] == 2
    assert not any("chunks" in e for e in v1.manifest.entries.values())
    (wav,) = [e for p, e in v1.manifest.entries.items() if p.endswith(".wav")]
    assert "blake3" in wav


def test_random_windows_equal_the_whole_clip(store):
    x = recording(90, channels=2)  # 5.76 MB: a blob
    v, _ = commit_recording(store, x)
    backend = counting(store)
    clip = store.artifact("rec:latest").get("r")

    @settings(max_examples=25, deadline=None)
    @given(st.data())
    def check(data):
        start = data.draw(st.integers(0, len(x)))
        stop = data.draw(st.integers(start, min(len(x), start + 5 * RATE)))
        assert np.array_equal(clip.numpy(start, stop), x[start:stop])

    check()
    recording_blob = blob_path(v.manifest.entries[clip.source_file()[1]]["digest"])
    assert recording_blob not in backend.whole  # never read whole


def test_a_window_costs_at_most_64_kib_more_than_its_bytes(store):
    x = recording(120)  # 3.84 MB
    commit_recording(store, x)
    clip = store.artifact("rec:latest").get("r")
    clip.numpy(0, 10)  # the header and the chunk table, once per file
    backend = counting(store)
    rng = np.random.default_rng(1)
    for start in rng.integers(0, len(x) - 5 * RATE, 20):
        backend.ranged.clear()
        assert np.array_equal(clip.numpy(start, start + 5 * RATE), x[start : start + 5 * RATE])
        assert len(backend.ranged) == 1  # one ranged read
        assert backend.ranged[0][1] <= 5 * RATE * 2 + (64 << 10)
    assert backend.whole == []


def test_a_damaged_chunk_is_caught_and_named(store):
    x = recording(60)
    v, clip = commit_recording(store, x)
    (path,) = [p for p in v.manifest.entries if p.endswith(".wav")]
    digest = v.manifest.entries[path]["digest"]
    data = bytearray(store.backend.read(blob_path(digest)))
    at = 44 + 2 * 30 * RATE  # frame 30 s
    data[at] ^= 0xFF
    store.backend.write(blob_path(digest), bytes(data))
    loaded = artifacts.open_store(store.url).artifact("rec:v0").get("r")
    chunk = at // CHUNK_SIZE
    with pytest.raises(IntegrityError, match=rf"rec:v0/{path}: chunk {chunk} \(bytes"):
        loaded.numpy(30 * RATE - 10, 30 * RATE + 10)
    # a window away from the damage is checked by its own chunks, and is right
    assert np.array_equal(loaded.numpy(0, 5 * RATE), x[: 5 * RATE])
    with pytest.raises(IntegrityError):
        loaded.numpy()  # the whole clip is checked whole, as before


def test_a_truncated_blob_and_a_missing_table_are_caught(store):
    x = recording(60)
    v, _ = commit_recording(store, x)
    (path,) = [p for p in v.manifest.entries if p.endswith(".wav")]
    e = v.manifest.entries[path]
    data = store.backend.read(blob_path(e["digest"]))
    store.backend.write(blob_path(e["digest"]), data[: len(data) - 1000])
    fresh = artifacts.open_store(store.url)
    with pytest.raises(IntegrityError, match="chunk"):
        fresh.artifact("rec:v0").get("r").numpy(len(x) - 100, len(x))
    store.backend.write(blob_path(e["digest"]), data)
    store.backend.delete(blob_path(e["chunks"]["table"]))
    fresh = artifacts.open_store(store.url)
    with pytest.raises(IntegrityError, match="chunk table"):
        fresh.artifact("rec:v0").get("r").numpy(0, 10)


def test_a_pack_member_reads_only_its_chunks(tmp_path):
    store = artifacts.open_store(str(tmp_path / "s"), pack_min=2)
    xs = [recording(40 + i) for i in range(2)]  # ~1.3 MB each: packed
    draft = Artifact("two", "dataset")
    for i, x in enumerate(xs):
        draft.add(Audio(x, RATE), f"r{i}")
    v = store.commit(draft)
    assert all("pack" in e for p, e in v.manifest.entries.items() if p.endswith(".wav"))
    backend = counting(store)
    for i, x in enumerate(xs):
        clip = store.artifact("two:v0").get(f"r{i}")
        assert np.array_equal(clip.numpy(RATE, 6 * RATE), x[RATE : 6 * RATE])
    packs = {pack_path(e["pack"]) for e in v.manifest.entries.values() if "pack" in e}
    assert not packs & set(backend.whole)
    assert sum(n for p, n in backend.ranged if p in packs) <= 2 * (5 * RATE * 2 + (96 << 10))


@pytest.mark.parametrize("fmt", ["FLAC"])
def test_flac_windows_are_checked_by_chunks(store, fmt):
    x = recording(300)  # noise-like samples: FLAC cannot shrink them much
    v, _ = commit_recording(store, x, fmt)
    (path,) = [p for p in v.manifest.entries if p.endswith(".flac")]
    assert "chunks" in v.manifest.entries[path]
    backend = counting(store)
    clip = store.artifact("rec:latest").get("r")
    for start in (0, 123 * RATE + 17, len(x) - 5 * RATE):
        assert np.array_equal(clip.numpy(start, start + 5 * RATE), x[start : start + 5 * RATE])
    assert blob_path(v.manifest.entries[path]["digest"]) not in backend.whole


def test_tables_survive_new_drafts_and_gc_and_go_with_references(store, tmp_path):
    x = recording(40)
    v, _ = commit_recording(store, x)
    (path,) = [p for p in v.manifest.entries if p.endswith(".wav")]
    ch = v.manifest.entries[path]["chunks"]
    draft = v.new_draft()
    draft.metadata["next"] = True
    v1 = store.commit(draft)
    assert v1.manifest.entries[path]["chunks"] == ch
    other = Artifact("other", "dataset")
    other.add(v1.get("r"), "same")  # a same-store reference keeps the table
    v2 = store.commit(other)
    assert v2.manifest.entries[path]["chunks"] == ch
    assert store.gc(grace=0).deleted == []
    assert store.backend.exists(blob_path(ch["table"]))
    assert np.array_equal(store.artifact("other:v0").get("same").numpy(5, 500), x[5:500])
    # into another store, the bytes are copied, and the copy gets its own (equal) table
    elsewhere = artifacts.open_store(str(tmp_path / "elsewhere"))
    copy = Artifact("copy", "dataset")
    copy.add(v.get("r"), "r")
    v3 = elsewhere.commit(copy)
    assert v3.manifest.entries[path]["chunks"] == ch
    assert elsewhere.backend.exists(blob_path(ch["table"]))
    assert np.array_equal(elsewhere.artifact("copy:v0").get("r").numpy(7, 70), x[7:70])


def test_a_reloaded_segment_reads_only_its_window_from_a_store(store):
    x = recording(120)
    v, clip = commit_recording(store, x)
    segs = Artifact("segs", "dataset")
    stored = v.get("r")
    for i in range(5):
        segs.add(stored.segment(i * 20 * RATE, i * 20 * RATE + 5 * RATE), f"s{i}")
    store.commit(segs)
    backend = counting(store)
    loaded = store.artifact("segs:v0")
    for i in range(5):
        got = loaded.get(f"s{i}").numpy()
        assert np.array_equal(got, x[i * 20 * RATE : i * 20 * RATE + 5 * RATE])
    (path,) = [p for p in v.manifest.entries if p.endswith(".wav")]
    assert blob_path(v.manifest.entries[path]["digest"]) not in backend.whole
    window = 5 * RATE * 2
    # per segment: its window's chunks, plus the header chunk once and the table once
    assert sum(n for _, n in backend.ranged) <= 5 * (window + (64 << 10)) + CHUNK_SIZE


def test_a_format_1_manifest_with_chunks_is_refused():
    from artifacts.manifest import check_manifest, entries_digest

    e = {
        "digest": "0" * 64,
        "size": 5,
        "chunks": {"algorithm": "blake3", "size": CHUNK_SIZE, "table": "1" * 64},
    }
    obj = {
        "_type": "manifest",
        "format": 1,
        "name": "a",
        "version": "v0",
        "type": "t",
        "metadata": {},
        "created_at": "2026-01-01T00:00:00.000000Z",
        "entries": {"f": e},
        "digest": entries_digest({"f": e}),
    }
    import schemas

    with pytest.raises(schemas.SchemaError, match="format 2"):
        check_manifest(obj)
    obj["format"] = 2
    check_manifest(obj)
    e["chunks"]["size"] = 1024
    with pytest.raises(schemas.SchemaError):
        check_manifest(obj)


def test_the_store_format_example_runs(tmp_path):
    """docs/store-format.md's example of chunk digests runs as written."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "store-format.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)
    (block,) = [b for b in blocks if "chunks" in b]
    script = tmp_path / "example.py"
    script.write_text(block + "\nprint('OK')\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-W", "error", str(script)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "OK"


def test_copy_to_another_store_takes_the_chunk_tables_along(store, tmp_path):
    x = recording(40)
    v, _ = commit_recording(store, x)
    (path,) = [p for p in v.manifest.entries if p.endswith(".wav")]
    ch = v.manifest.entries[path]["chunks"]
    dst = artifacts.open_store(str(tmp_path / "dst"))
    store.copy_to(dst)
    copied = dst.artifact("rec:latest")
    assert copied.manifest.entries[path]["chunks"] == ch
    assert dst.backend.exists(blob_path(ch["table"]))
    backend = counting(dst)
    assert np.array_equal(copied.get("r").numpy(RATE, 2 * RATE), x[RATE : 2 * RATE])
    assert blob_path(copied.manifest.entries[path]["digest"]) not in backend.whole
    assert dst.gc(grace=0).deleted == []
