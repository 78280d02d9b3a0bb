"""Corruption: blobs whose bytes changed after the commit (a flipped byte, a truncation,
extra bytes, a deleted file) are each named by ``verify``; reading them (``get``, ``numpy``,
``read_bytes``) and ``download`` raise :class:`artifacts.IntegrityError` and leave no
partial file.  On a local folder and on ``memory://``; blobs are changed by writing to the
backend directly, around the store.
"""

from __future__ import annotations

import json
import re

import blake3
import numpy as np
import pytest
from integrity_helpers import open_backend_store, resealed, snapshot_dir

import artifacts
from artifacts import Artifact, IntegrityError
from artifacts.manifest import blob_path, pack_path
from media import Audio

CLIP = np.linspace(-1, 1, 4000, dtype=np.float32)


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path):
    """A store holding ``clips:v0``: a clip, a text file and a second clip."""
    store = open_backend_store(request.param, tmp_path)
    draft = Artifact("clips", "dataset")
    draft.add(Audio(CLIP, 16000), "clip")
    draft.add(Audio(CLIP[::-1].copy(), 16000), "other")
    with draft.new_file("notes.txt") as f:
        f.write("some notes\n" * 100)
    store.commit(draft)
    return store


def _read_blob(store, digest: str) -> bytes:
    return store.backend.read(blob_path(digest))


def _write_blob(store, digest: str, data: bytes) -> None:
    store.backend.write(blob_path(digest), data)


def flip(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


# id -> (change the blob's bytes, the problem verify reports)
DAMAGE = {
    "flipped byte": (
        flip,
        r"stored bytes do not match (sha256|BLAKE3) [0-9a-f]{64}",
    ),
    "truncated": (lambda d: d[: len(d) // 3], r"\d+ bytes stored, its manifest says \d+"),
    "extra bytes": (lambda d: d + b"\x00", r"longer than its recorded \d+ bytes"),
    "emptied": (lambda d: b"", r"0 bytes stored, its manifest says \d+"),
}


def _damage(store, path: str, how: str) -> None:
    art = store.artifact("clips:v0")
    digest = art.manifest.entries[path]["digest"]
    change, _ = DAMAGE[how]
    _write_blob(store, digest, change(_read_blob(store, digest)))


def _media_path(store, name: str = "clip") -> str:
    return store.artifact("clips:v0").get(name).source_file()[1]


def _damage_wav_and_notes(store, how: str):
    """Damage (``how``) the clip's WAV and notes.txt; the WAV's path and clips:v0 read again
    through a fresh store (so that nothing read before the damage is reused)."""
    wav = _media_path(store)
    _damage(store, wav, how)
    _damage(store, "notes.txt", how)
    return wav, artifacts.open_store(store.url).artifact("clips:v0")


@pytest.mark.parametrize("how", list(DAMAGE))
def test_verify_names_each_damaged_blob(store, how):
    wav, art = _damage_wav_and_notes(store, how)
    problems = art.verify(raise_on_error=False)
    assert [p.split(":", 1)[0] for p in problems] == [wav, "notes.txt"]
    for p in problems:
        assert re.search(DAMAGE[how][1], p), p
    with pytest.raises(IntegrityError) as info:
        art.verify()
    message = str(info.value)
    assert message.startswith("clips:v0: 2 bad entries:\n")
    assert f"clips:v0/{wav}" in message and "clips:v0/notes.txt" in message
    assert "other.audio-file.json" not in message  # the good entries are not named


def test_verify_names_a_missing_blob(store):
    wav = _media_path(store)
    digest = store.artifact("clips:v0").manifest.entries[wav]["digest"]
    store.backend.delete(blob_path(digest))
    art = artifacts.open_store(store.url).artifact("clips:v0")
    (problem,) = art.verify(raise_on_error=False)
    assert re.fullmatch(
        rf"{re.escape(wav)}: clips:v0/{re.escape(wav)}: its blob {digest[:16]}\.\.\. is missing",
        problem,
    )


@pytest.mark.parametrize("how", list(DAMAGE))
def test_reading_a_damaged_blob_raises_integrity_error(store, how):
    wav, art = _damage_wav_and_notes(store, how)
    clip = art.get("clip")  # metadata comes from the JSON, which is intact
    assert clip.sample_rate == 16000 and clip.frames == len(CLIP)
    with pytest.raises(IntegrityError, match=f"clips:v0/{re.escape(wav)}: "):
        clip.numpy()
    with pytest.raises(IntegrityError, match="clips:v0/notes.txt: "):
        art.read_bytes("notes.txt")
    # the undamaged clip still reads
    assert art.get("other").numpy().tobytes() == CLIP[::-1].tobytes()


def test_large_blobs_are_checked_by_streaming_too(store, monkeypatch):
    monkeypatch.setattr("artifacts.version.BIG", 10)  # every blob counts as large
    wav = _media_path(store)
    _damage(store, wav, "flipped byte")
    art = artifacts.open_store(store.url).artifact("clips:v0")
    with pytest.raises(IntegrityError, match=f"clips:v0/{re.escape(wav)}: stored bytes do not"):
        art.get("clip").numpy()
    assert art.get("other").numpy().tobytes() == CLIP[::-1].tobytes()


@pytest.mark.parametrize("how", list(DAMAGE))
def test_download_of_a_damaged_version_leaves_nothing(store, tmp_path, how):
    _damage(store, "notes.txt", how)
    root = tmp_path / "download"
    root.mkdir()
    (root / "notes.txt").write_text("mine, from before\n")  # never replaced by a failure
    before = snapshot_dir(root)
    art = artifacts.open_store(store.url).artifact("clips:v0")
    with pytest.raises(IntegrityError, match="clips:v0/notes.txt: "):
        art.download(root)
    assert snapshot_dir(root) == before  # no new file, no staging folder left


def test_a_reference_to_a_damaged_blob_is_named_in_the_referring_version(store):
    src = store.artifact("clips:v0")
    draft = Artifact("derived", "dataset")
    draft.add(src.get("clip"), "clip")  # stored as a reference to clips:v0's file
    derived = store.commit(draft)
    wav = _media_path(store)
    assert derived.manifest.entries[wav]["ref"] == {"artifact": "clips:v0", "path": wav}
    _damage(store, wav, "truncated")
    fresh = artifacts.open_store(store.url).artifact("derived:v0")
    (problem,) = fresh.verify(raise_on_error=False)
    assert problem.startswith(f"{wav}: derived:v0/{wav}: ")
    with pytest.raises(IntegrityError, match=f"derived:v0/{re.escape(wav)}: "):
        fresh.get("clip").numpy()


def test_repairing_the_blob_makes_the_version_whole_again(store):
    wav = _media_path(store)
    digest = store.artifact("clips:v0").manifest.entries[wav]["digest"]
    good = _read_blob(store, digest)
    _write_blob(store, digest, flip(good))
    assert artifacts.open_store(store.url).artifact("clips:v0").verify(raise_on_error=False)
    _write_blob(store, digest, good)
    assert artifacts.open_store(store.url).artifact("clips:v0").verify() == []


def _forge_blake3(store, ref: str, path: str, data: bytes) -> None:
    """Store ``data`` as entry ``path`` of ``ref``: in place of its bytes (its blob or its
    pack member, same size), with the entry's ``blake3`` set to match and the manifest
    sealed again, as a careful forger would; its digest is left as it is (blake3 is not part
    of it, so it stays right)."""
    name, version = ref.split(":")
    where = f"artifacts/{name}/versions/{version}.json"
    obj = json.loads(store.backend.read(where))
    e = obj["entries"][path]
    assert len(data) == e["size"]
    if "pack" in e:
        pack = pack_path(e["pack"])
        whole = store.backend.read(pack)
        start = e["offset"]
        store.backend.write(pack, whole[:start] + data + whole[start + len(data) :])
    else:
        store.backend.write(blob_path(e["digest"]), data)
    e["blake3"] = blake3.blake3(data).hexdigest()
    store.backend.write(where, resealed(obj))


@pytest.mark.parametrize("packed", [True, False], ids=["pack member", "blob"])
def test_verify_checks_sha256_though_blake3_was_forged(tmp_path, packed):
    store = artifacts.open_store(str(tmp_path / "s"), pack_min=2 if packed else 10**6)
    draft = Artifact("clips", "dataset")
    draft.add(Audio(CLIP, 16000), "clip")
    draft.add(Audio(CLIP[::-1].copy(), 16000), "other")
    store.commit(draft)
    wav = _media_path(store)
    entry = store.artifact("clips:v0").manifest.entries[wav]
    assert ("pack" in entry) == packed and "blake3" in entry
    good = store.artifact("clips:v0").read_bytes(wav)
    _forge_blake3(store, "clips:v0", wav, flip(good))
    art = artifacts.open_store(store.url).artifact("clips:v0")
    assert art.read_bytes(wav) == flip(good)  # reads check BLAKE3 only: they pass
    (problem,) = art.verify(raise_on_error=False)
    assert problem.startswith(f"{wav}: clips:v0/{wav}: the stored bytes match the BLAKE3 digest")
    assert f"not the sha256 {entry['digest']} (their content address)" in problem
    with pytest.raises(IntegrityError, match="1 bad entry"):
        art.verify()


LONG = (np.arange(16000 * 40) * 7919 % 65536 - 32768).astype(np.int16)


def _recording_store(store):
    """``long:v0``: a 40 s recording (1.28 MB: a loose blob with a chunk table)."""
    draft = Artifact("long", "dataset")
    draft.add(Audio(LONG, 16000), "rec")
    v = store.commit(draft)
    (wav,) = [p for p in v.manifest.entries if p.endswith(".wav")]
    return wav, v.manifest.entries[wav]


TABLE_DAMAGE = {
    "flipped byte": (flip, r"\(its chunk table\): sha256 of the stored bytes does not match"),
    "truncated": (lambda d: d[:100], r"\(its chunk table\): size is 100 bytes, expected \d+"),
    "deleted": (None, r"\(its chunk table\): its blob [0-9a-f]{16}\.\.\. is missing"),
}


@pytest.mark.parametrize("how", list(TABLE_DAMAGE))
def test_verify_names_a_damaged_chunk_table(store, how):
    wav, entry = _recording_store(store)
    table = blob_path(entry["chunks"]["table"])
    change, said = TABLE_DAMAGE[how]
    if change is None:
        store.backend.delete(table)
    else:
        store.backend.write(table, change(store.backend.read(table)))
    art = artifacts.open_store(store.url).artifact("long:v0")
    with pytest.raises(IntegrityError):  # what verify must report: windows fail
        art.get("rec").numpy(16000, 32000)
    (problem,) = art.verify(raise_on_error=False)
    assert problem.startswith(f"{wav}: long:v0/{wav} (its chunk table)")
    assert re.search(said, problem), problem
    assert problem.endswith("commit the same file again to mend its table")
    with pytest.raises(IntegrityError, match=r"long:v0: 1 bad entry:\n"):
        art.verify()
    # the documented mend: committing the same recording again writes the table whole
    again = Artifact("again", "dataset")
    again.add(Audio(LONG, 16000), "rec")
    store.commit(again)
    assert artifacts.open_store(store.url).artifact("long:v0").verify() == []
