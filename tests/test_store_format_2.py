"""A store of manifest format 2, frozen in ``tests/fixtures/store-format-2/`` by the code of
2026-12-01 (``tests/fixtures/make_store_format_2.py``), must be read bit-exact forever.

Format 2 records the BLAKE3 digest of every file a commit writes (a blob or a pack member)
and a chunk table for every file of more than 1 MiB.  The store holds a recording of just
over 1 MiB (a loose blob with its chunk table) and a segment of it; a pack of 18 small files
with its index; inline value JSONs (an Audio and a Table of Audio clips and labels);
same-store references (one of them a segment of the loaded recording); an alias; lineage
records; and a deleted version's tombstone.  The test reads a copy (so that a store that
wrote would not alter the fixture) and checks that reading wrote nothing; a damaged byte in
another copy is refused naming BLAKE3 (or the chunk, for a window of the recording).
"""

from __future__ import annotations

import hashlib
import json
import os

import blake3
import numpy as np
import pytest
from frozen_stores import copy_frozen, read_only_copy, tree

import artifacts
from media import Audio, IntegrityError, Table
from media.segment import AudioSegment

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "store-format-2")

#: the blobs of the frozen store, each named by its sha256: the recording's WAV, its chunk
#: table, ``scratch:v1``'s notes and the notes of the deleted ``scratch:v0`` (left for gc)
WAV_SHA = "765e8fde403bde9e0c81c2e8e98822134eb0d599781042f75ec0b131b4012f96"
TABLE_SHA = "381173625633a7569dd3c26cf23aebea07c3f4c63a9d914a9cc41a091a4b1086"
NOTES_SHA = "2b0014e66f864580e34aef0c265bf70a68f64efdec2a2e3d9a894a4e4bdcaf3b"
DELETED_SHA = "a07219764af338a96455bf5ce10c5080e6ca79286196bfa9d60301adc19f9157"
PACK = "5f8f21610cb05383dc547c35292e11c61773f3b301d76a24c19d947f76ec9da9"
TOMBSTONE_SHA = "1252875073d4d0de5df27cf95e2573a8bdf7415d880d61537351465012bac63b"

#: sha256 of every file of the frozen store: a change here means the fixture was altered
FILES = {
    "artifacts/clips/versions/v0.json": (
        "a5c3162a3ba0e502857b5116417039f7006bd1fd5dfa93999b35df1e8dd1c02f"
    ),
    "artifacts/derived/versions/v0.json": (
        "e372e3ea8299e8d44c1301c17bedc693a68a2b9a4d18d724c8fda347610d6a8b"
    ),
    "artifacts/recordings/aliases/best.json": (
        "e7e7da6d26f9a7610fcce80629267e458b8b84e9f31c40bc4f5e4054bce8a91f"
    ),
    "artifacts/recordings/versions/v0.json": (
        "64004e402ac1538cfc7fa41e7f507f87d89188570549c8901ed82e9c06542607"
    ),
    "artifacts/scratch/versions/v0.deleted": TOMBSTONE_SHA,
    "artifacts/scratch/versions/v0.json": TOMBSTONE_SHA,
    "artifacts/scratch/versions/v1.json": (
        "e146dce968e55da9a44f968ca71abcdb6264a0ab0cc144e27ab99ccced3e5ee3"
    ),
    **{f"blobs/sha256/{d[:2]}/{d[2:]}": d for d in (WAV_SHA, TABLE_SHA, NOTES_SHA, DELETED_SHA)},
    "lineage/derived/v0/run-fixture-2.logged.json": (
        "3bca80878240748d2c6cfe452c90ddd860a45efbe62babec1f4f6b490c63d1f6"
    ),
    "lineage/recordings/v0/run-fixture-1.logged.json": (
        "6e40f392a5521771841cf370d4c50330ebf0c799cd25bd8aa18221b59c419715"
    ),
    "lineage/recordings/v0/run-fixture-2.used.json": (
        "63e384748cab536d6d5552b6c57e2c710f7263b1b50ee19e4cf275b0b1d921a0"
    ),
    f"packs/{PACK}": "bb1cbf13214b2e8e1d85ade98d2e95b1da69277de9927616e9bfc40ec4326b9a",
    f"packs/{PACK}.idx": "cd3f204e27a3e5f0b3f462134d3b1d694ddd67b16cedfecf42e07c690169c756",
    "store.json": "e3e5ceae8759a9640b08375ba2e0d7f62c8df77aac43b6dbe092ee34f7da089c",
}

# -- what the store holds (computed here as make_store_format_2.py computed it) -----------
RATE = 16000
FRAMES = 540_000
WAV = "media/audio/765e8fde403bde9e0c81.wav"
WAV_SIZE = 44 + 2 * FRAMES  # 1,080,044 bytes: 33 chunks of 32 KiB (the last shorter)
CHUNK = 32768
RAMP_WAV = "media/audio/af0264f870747000cf58.wav"
LABELS = ["yes", "no", "up", "down", "left"]


def recording_samples() -> np.ndarray:
    i = np.arange(FRAMES, dtype=np.int64)
    return (((i * 2654435761) >> 7) & 0xFFFF).astype(np.uint16).view(np.int16)


def clip_samples(k: int) -> np.ndarray:
    n = 400 + 40 * k
    return ((np.arange(n, dtype=np.int64) * (k + 3) % 200 - 100) * (k + 1) * 10).astype(np.int16)


RECORDING = recording_samples()
RAMP = (np.arange(100, dtype=np.float32) - 50) / 64
TEXT = {f"notes/{i}.txt": f"note {i}\n".encode() * (i + 1) for i in range(4)}
TEXT["readme.txt"] = b"twelve short clips and a ramp\n"


def _audio_json(path: str, sha: str, size: int, frames: int, rate: int, dtype: str, **kw) -> str:
    obj = {
        "_type": "audio-file",
        "caption": None,
        "channels": 1,
        "dtype": dtype,
        "duration": frames / rate,
        "frames": frames,
        "ndim": 1,
        "path": path,
        "sample_rate": rate,
        "sha256": sha,
        "size": size,
        **kw,
    }
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


MEETING_JSON = _audio_json(
    WAV, WAV_SHA, WAV_SIZE, FRAMES, RATE, "int16", caption="meeting"
).encode()
RAMP_JSON = _audio_json(
    RAMP_WAV,
    "af0264f870747000cf58f072ca76dd22fe22bcecc24ac66625a8cf9f5fcaec45",
    458,
    100,
    8000,
    "float32",
    caption="ramp",
).encode()


def _segment_json(start: int, stop: int) -> bytes:
    obj = json.loads(MEETING_JSON)
    frames = stop - start
    obj.update(_type="audio-segment", start=start, stop=stop, frames=frames, duration=frames / RATE)
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


#: every entry path of every live version; JSON and text entries with their bytes
EXPECTED_PATHS = {
    "recordings:v0": {WAV, "meeting.audio-file.json", "meeting-part.audio-segment.json"},
    "clips:v0": {"ramp.audio-file.json", "train.table.json", *TEXT},  # + 13 WAVs
    "derived:v0": {"same-ramp.audio-file.json", "late-part.audio-segment.json", WAV, RAMP_WAV},
    "scratch:v1": {"notes.txt"},
}
EXPECTED_BYTES = {
    "recordings:v0": {
        "meeting.audio-file.json": MEETING_JSON,
        "meeting-part.audio-segment.json": _segment_json(100_000, 260_000),
    },
    "clips:v0": {"ramp.audio-file.json": RAMP_JSON, **TEXT},
    "derived:v0": {
        "same-ramp.audio-file.json": RAMP_JSON,
        "late-part.audio-segment.json": _segment_json(400_000, 420_000),
    },
    "scratch:v1": {"notes.txt": b"second draft\n"},
}
DIGESTS = {
    "recordings:v0": "f03768c39fffa5862e288556ad96fab99119a8d1c621e4980e02c4b71114a98f",
    "derived:v0": "2570e13153dacb00fe068a0f21b67080a7bb9d0936c20b334ae197be2a7d3aa2",
    "scratch:v1": "919072c948f7b98ad3391cd3679b9f6456bb9c8a792c69696223895e901f8b65",
    "clips:v0": None,  # checked through the manifest file's sha256 above
}


@pytest.fixture
def frozen(tmp_path):
    """A copy of the frozen store; the test fails if reading it changed any file."""
    yield from read_only_copy(FIXTURE, FILES, tmp_path)


def _damage(root: str, rel: str, offset: int) -> dict[str, str]:
    """Flip one byte of the store's file ``rel`` in place; the tree as it is now."""
    full = os.path.join(root, rel)
    os.chmod(full, 0o644)
    with open(full, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x01]))
    return tree(root)


def _stored_files(version) -> dict[str, dict]:
    """The entries whose bytes the store keeps (blobs and pack members, references too)."""
    return {p: dict(e) for p, e in version.manifest.entries.items() if "inline" not in e}


# -- names, versions, aliases, lineage, the tombstone ------------------------------------
def test_names_versions_aliases_and_the_tombstone(frozen):
    store = artifacts.open_store(frozen)
    assert store.names() == ["clips", "derived", "recordings", "scratch"]
    assert store.versions("recordings") == ["v0"]
    assert store.aliases("recordings") == {"best": "v0", "latest": "v0"}
    assert store.artifact("recordings:best").qualified_name == "recordings:v0"
    # scratch:v0 was deleted: listings skip it, reading it is refused, latest is v1
    assert store.versions("scratch") == ["v1"]
    assert store.artifact("scratch:latest").qualified_name == "scratch:v1"
    with pytest.raises(artifacts.ArtifactNotFoundError):
        store.artifact("scratch:v0")
    with open(os.path.join(frozen, "artifacts/scratch/versions/v0.json"), "rb") as f:
        assert json.loads(f.read()) == {
            "_type": "tombstone",
            "artifact": "scratch",
            "deleted_at": "2026-12-01T12:00:09.000000Z",
            "version": "v0",
        }


def test_lineage(frozen):
    store = artifacts.open_store(frozen)
    got = store.lineage("recordings:best")
    got = {k: sorted(v) if isinstance(v, list) else v for k, v in got.items()}
    assert got == {
        "artifact": "recordings:v0",
        "created_by": "run-fixture-1",
        "logged_by": ["run-fixture-1"],
        "used_by": ["run-fixture-2"],
    }
    assert store.lineage("derived:v0") == {
        "artifact": "derived:v0",
        "created_by": "run-fixture-2",
        "logged_by": ["run-fixture-2"],
        "used_by": [],
    }
    assert store.lineage("scratch:v1")["created_by"] is None


def test_gc_would_delete_only_the_deleted_versions_blob(frozen):
    """Every file a live version names, chunk tables included, is live; a dry run writes
    nothing (the fixture checks it)."""
    report = artifacts.open_store(frozen).gc(dry_run=True, grace=0)
    assert report.deleted == [f"blobs/sha256/{DELETED_SHA[:2]}/{DELETED_SHA[2:]}"]
    assert (report.live_blobs, report.live_packs) == (3, 1)


# -- every entry, bit-exact ---------------------------------------------------------------
@pytest.mark.parametrize("ref", sorted(EXPECTED_PATHS))
def test_every_entry_reads_bit_exact(frozen, ref):
    art = artifacts.open_store(frozen).artifact(ref)
    entries = art.manifest["entries"]
    wavs = {p for p in entries if p.startswith("media/audio/") and p not in EXPECTED_PATHS[ref]}
    assert len(wavs) == (13 if ref == "clips:v0" else 0)
    assert set(entries) == EXPECTED_PATHS[ref] | wavs
    if DIGESTS[ref] is not None:
        assert art.digest == DIGESTS[ref]
    for path, e in entries.items():
        data = art.read_bytes(path)
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (e["digest"], e["size"])
        if path in EXPECTED_BYTES[ref]:
            assert data == EXPECTED_BYTES[ref][path], path
    assert art.verify() == []


def test_format_2_fields_are_present_and_right(frozen):
    """Every manifest is format 2; every file the store keeps has its BLAKE3 digest (a
    pack member, a blob, a reference to either), inline JSONs have none; the recording has
    its chunk table, which holds the BLAKE3 digests of its 32 KiB chunks."""
    store = artifacts.open_store(frozen)
    for ref in EXPECTED_PATHS:
        version = store.artifact(ref)
        assert version.manifest["format"] == 2, ref
        for path, e in version.manifest["entries"].items():
            if "inline" in e:
                assert "blake3" not in e, (ref, path)
                continue
            data = version.read_bytes(path)
            assert e["blake3"] == blake3.blake3(data).hexdigest(), (ref, path)
    clips = store.artifact("clips:v0").manifest["entries"]
    members = {p: e for p, e in clips.items() if "pack" in e}
    assert len(members) == 18 and {e["pack"] for e in members.values()} == {PACK}
    # the pack's index lists its members in order, and names the pack
    with open(os.path.join(frozen, "packs", f"{PACK}.idx"), "rb") as f:
        index = json.loads(f.read())
    in_order = sorted(members.values(), key=lambda e: e["offset"])
    assert index["members"] == [[e["digest"], e["size"]] for e in in_order]
    lines = "".join(f"{e['digest']} {e['size']}\n" for e in in_order)
    assert hashlib.sha256(lines.encode()).hexdigest() == PACK
    # the recording: a loose blob with a chunk table; the references keep both digests
    rec = store.artifact("recordings:v0").manifest["entries"][WAV]
    assert "pack" not in rec and rec["size"] == WAV_SIZE
    assert rec["chunks"] == {"algorithm": "blake3", "size": CHUNK, "table": TABLE_SHA}
    ref = store.artifact("derived:v0").manifest["entries"][WAV]
    assert ref["ref"] == {"artifact": "recordings:v0", "path": WAV}
    assert (ref["blake3"], ref["chunks"]) == (rec["blake3"], rec["chunks"])
    with open(os.path.join(frozen, f"blobs/sha256/{WAV_SHA[:2]}/{WAV_SHA[2:]}"), "rb") as f:
        wav = f.read()
    with open(os.path.join(frozen, f"blobs/sha256/{TABLE_SHA[:2]}/{TABLE_SHA[2:]}"), "rb") as f:
        table = f.read()
    pieces = [wav[i : i + CHUNK] for i in range(0, len(wav), CHUNK)]
    assert len(pieces) == 33 and len(pieces[-1]) == WAV_SIZE - 32 * CHUNK
    assert table == b"".join(blake3.blake3(p).digest() for p in pieces)


# -- values, samples, windows, the segment, the dataset view ------------------------------
def test_values_load_bit_exact(frozen):
    store = artifacts.open_store(frozen)
    meeting = store.artifact("recordings:best").get("meeting")
    assert isinstance(meeting, Audio) and not isinstance(meeting, AudioSegment)
    assert (meeting.sample_rate, meeting.frames, meeting.channels) == (RATE, FRAMES, 1)
    assert meeting.caption == "meeting"
    samples = meeting.numpy()
    assert samples.dtype == np.int16 and samples.tobytes() == RECORDING.tobytes()
    clips = store.artifact("clips:v0")
    ramp = clips.get("ramp")
    assert (ramp.sample_rate, ramp.caption) == (8000, "ramp")
    assert ramp.numpy().dtype == np.float32 and ramp.numpy().tobytes() == RAMP.tobytes()
    table = clips.get("train")
    assert isinstance(table, Table) and table.columns == ["audio", "label"]
    assert [row[1] for row in table.data] == [LABELS[k % 5] for k in range(12)]
    for k, (clip, _) in enumerate(table.data):
        assert clip.numpy().tobytes() == clip_samples(k).tobytes()
    same = store.artifact("derived:v0").get("same-ramp")
    assert same.numpy().tobytes() == RAMP.tobytes()


#: windows of the recording: the first frames, across the first chunk boundary (frame
#: 16,362 starts at byte 32,768), a long middle stretch, the last (shorter) chunk, the end
WINDOWS = [(0, 10), (16_360, 16_366), (100_000, 180_000), (524_000, 524_400), (539_999, FRAMES)]


@pytest.mark.parametrize(("start", "stop"), WINDOWS)
def test_windows_read_through_the_chunk_table(frozen, start, stop):
    clip = artifacts.open_store(frozen).artifact("recordings:v0").get("meeting")
    window = clip.numpy(start, stop)
    assert window.dtype == np.int16 and window.tobytes() == RECORDING[start:stop].tobytes()


def test_segments_read_their_range(frozen):
    store = artifacts.open_store(frozen)
    part = store.artifact("recordings:v0").get("meeting-part")
    assert isinstance(part, AudioSegment)
    assert (part.start, part.stop, part.frames, part.sample_rate) == (
        100_000,
        260_000,
        160_000,
        RATE,
    )
    assert part.numpy().tobytes() == RECORDING[100_000:260_000].tobytes()
    assert part.numpy(5, 40_005).tobytes() == RECORDING[100_005:140_005].tobytes()
    assert part.recording.frames == FRAMES
    # a segment of the loaded recording, stored in another artifact by reference
    late = store.artifact("derived:v0").get("late-part")
    assert isinstance(late, AudioSegment) and (late.start, late.stop) == (400_000, 420_000)
    assert late.numpy().tobytes() == RECORDING[400_000:420_000].tobytes()


def test_the_table_as_a_dataset(frozen):
    ds = artifacts.open_store(frozen).artifact("clips:v0").dataset("train")
    assert len(ds) == 12
    assert np.allclose(ds.durations(), [(400 + 40 * k) / RATE for k in range(12)])
    for k in range(12):
        row = ds[k]
        assert row["label"] == LABELS[k % 5]
        assert row["audio"].numpy().tobytes() == clip_samples(k).tobytes()
    plan = ds.batches(5, seed=3)
    rows = [r for batch in ds.iter_batches(plan) for r in batch]
    assert sorted(r["audio"].frames for r in rows) == [400 + 40 * k for k in range(12)]


def test_download_writes_the_same_bytes(frozen, tmp_path):
    out = artifacts.open_store(frozen).artifact("clips:v0").download(tmp_path / "out")
    for path, want in TEXT.items():
        with open(os.path.join(out, path), "rb") as f:
            assert f.read() == want


# -- damage in a copy ---------------------------------------------------------------------
def test_a_damaged_pack_byte_is_refused_naming_blake3(tmp_path):
    """One flipped byte of the ramp's WAV inside the pack: every read of it (the entry, the
    value, a reference to it in another artifact, verify) fails naming BLAKE3; the other
    members still read; and reading wrote nothing (the damage was not mended)."""
    root = copy_frozen(FIXTURE, FILES, tmp_path)
    store = artifacts.open_store(root)
    offset = store.artifact("clips:v0").manifest["entries"][RAMP_WAV]["offset"]
    damaged = _damage(root, f"packs/{PACK}", offset + 200)  # in its samples
    store = artifacts.open_store(root)
    clips = store.artifact("clips:v0")
    with pytest.raises(IntegrityError, match=f"{RAMP_WAV}: stored bytes do not match BLAKE3"):
        clips.read_bytes(RAMP_WAV)
    with pytest.raises(IntegrityError, match="BLAKE3"):
        clips.get("ramp").numpy()
    with pytest.raises(IntegrityError, match="BLAKE3"):
        store.artifact("derived:v0").get("same-ramp").numpy()
    problems = clips.verify(raise_on_error=False)
    assert len(problems) == 1 and problems[0].startswith(RAMP_WAV) and "BLAKE3" in problems[0]
    assert clips.dataset("train")[3]["audio"].numpy().tobytes() == clip_samples(3).tobytes()
    assert clips.read_bytes("readme.txt") == TEXT["readme.txt"]
    assert tree(root) == damaged


def test_a_damaged_chunk_fails_only_the_windows_that_cover_it(tmp_path):
    """One flipped byte in chunk 20 of the recording: windows elsewhere read (only their
    chunks are checked), a window over it fails naming the chunk, the whole file fails
    naming BLAKE3."""
    root = copy_frozen(FIXTURE, FILES, tmp_path)
    damaged = _damage(root, f"blobs/sha256/{WAV_SHA[:2]}/{WAV_SHA[2:]}", 20 * CHUNK + 100)
    store = artifacts.open_store(root)
    meeting = store.artifact("recordings:v0").get("meeting")
    assert meeting.numpy(0, 1000).tobytes() == RECORDING[:1000].tobytes()
    part = store.artifact("recordings:v0").get("meeting-part")  # chunks 6 to 15
    assert part.numpy().tobytes() == RECORDING[100_000:260_000].tobytes()
    with pytest.raises(IntegrityError, match=r"chunk 20 \(bytes 655360\.\.688128\)"):
        meeting.numpy(327_700, 327_800)
    with pytest.raises(IntegrityError, match="BLAKE3"):
        store.artifact("recordings:v0").read_bytes(WAV)
    assert tree(root) == damaged
