"""Windows: ``clip.numpy(start, stop, dtype=...)``.

Every window is compared with soundfile reading the same file whole (``soundfile.read(path,
dtype=...)[start:stop]``), for every format and dtype, from a local file, from bytes in
memory, from a folder (through JSON) and from a store on each backend.  Bytes read are
counted by :class:`CountingSource`, a real :class:`media.FolderSource` that adds up what it
returns.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import uuid

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st
from strategies import DTYPES, audio_arrays, sample_rates

import artifacts.version
from artifacts import Artifact, Run
from media import Audio, FolderSource, IntegrityError, Value
from media.files import hash_stream


class CountingSource(FolderSource):
    """A folder that counts the bytes and calls of its reads (ranged and whole)."""

    def __init__(self, root):
        super().__init__(root)
        self.range_bytes = self.range_calls = self.whole_bytes = 0

    def read_media_range(self, path, offset, length, sha256=None, size=None):
        data = super().read_media_range(path, offset, length, sha256, size)
        self.range_bytes += len(data)
        self.range_calls += 1
        return data

    def open_media(self, path, sha256=None, size=None):
        f = super().open_media(path, sha256, size)
        self.whole_bytes += os.path.getsize(self.local_path(path))
        return f


class WholeOnlySource:
    """A source with only ``open_media`` (no ranged reads), over a folder."""

    def __init__(self, root):
        self.folder = FolderSource(root)
        self.opened = 0

    def open_media(self, path, sha256=None, size=None):
        self.opened += 1
        return self.folder.open_media(path, sha256, size)


def clip_json(path, name: str) -> dict:
    """The audio-file JSON of the file ``path``, named ``name`` in its folder."""
    with open(path, "rb") as f:
        digest, size = hash_stream(f)
    info = sf.info(path)
    # as media.Audio names them: lossy and other formats decode to float32
    dtype = {
        "PCM_U8": "int16",
        "PCM_S8": "int16",
        "PCM_16": "int16",
        "PCM_24": "int32",
        "PCM_32": "int32",
        "DOUBLE": "float64",
    }.get(info.subtype, "float32")
    return {
        "_type": "audio-file",
        "path": name,
        "sha256": digest,
        "size": size,
        "sample_rate": info.samplerate,
        "frames": info.frames,
        "channels": info.channels,
        "dtype": dtype,
        "ndim": 1 if info.channels == 1 else 2,
        "caption": None,
    }


def expected(path_or_bytes, start, stop, dtype, ndim):
    """What soundfile reads: the whole file as ``dtype``, cut to ``[start, stop)``."""
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    samples, _ = sf.read(src, dtype=dtype, always_2d=True)
    samples = samples[start:stop]
    return samples[:, 0] if ndim == 1 else samples


def assert_same_samples(got, want, context=None):
    assert (got.dtype, got.shape) == (want.dtype, want.shape), context
    assert got.tobytes() == want.tobytes(), context


# -- every format and dtype --------------------------------------------------------------------
FORMATS = [
    ("WAV", "PCM_16", "wav"),
    ("WAV", "PCM_24", "wav"),
    ("WAV", "PCM_32", "wav"),
    ("WAV", "PCM_U8", "wav"),
    ("WAV", "FLOAT", "wav"),
    ("WAV", "DOUBLE", "wav"),
    ("FLAC", "PCM_16", "flac"),
    ("FLAC", "PCM_24", "flac"),
    ("OGG", "VORBIS", "ogg"),
    ("MP3", "MPEG_LAYER_III", "mp3"),
    ("AIFF", "PCM_16", "aiff"),
]


def write_file(path, fmt, subtype, channels=2, frames=24000, rate=16000, loud=False):
    """A file of a tone plus noise; ``loud`` float files go beyond [-1, 1]."""
    rng = np.random.default_rng(len(str(path)))
    t = np.arange(frames) / rate
    x = np.stack([np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], 1) * 0.6
    x += rng.normal(0, 0.05, x.shape)
    if loud:
        x *= 3000.0  # float files read as int16 are rounded, not scaled, by soundfile
    if fmt == "MP3":  # encoded by the real LAME, as MP3 files usually are
        wav = f"{path}.wav"
        sf.write(wav, x, rate, subtype="PCM_16")
        subprocess.run(["lame", "--quiet", "-b", "64", wav, str(path)], check=True)
        os.unlink(wav)
        return path
    sf.write(path, x.astype(np.float32) if loud else x, rate, format=fmt, subtype=subtype)
    return path


@pytest.mark.parametrize(("fmt", "subtype", "ext"), FORMATS)
@pytest.mark.parametrize("channels", [1, 2])
def test_windows_of_every_format_equal_soundfile_for_every_dtype(
    tmp_path, fmt, subtype, ext, channels
):
    path = write_file(tmp_path / f"clip.{ext}", fmt, subtype, channels)
    data = path.read_bytes()
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copyfile(path, folder / f"clip.{ext}")
    big = CountingSource(folder)
    clips = {
        "path": Audio(path),
        "bytes": Audio(io.BytesIO(data)),
        "folder": Value.init_from_json(clip_json(path, f"clip.{ext}"), big),
        "whole-only": Value.init_from_json(clip_json(path, f"clip.{ext}"), WholeOnlySource(folder)),
    }
    frames = sf.info(path).frames
    for start, stop in [(0, frames), (0, 1), (1234, 5678), (frames - 7, frames), (900, 900)]:
        for dtype in (None, *DTYPES):
            for how, clip in clips.items():
                got = clip.numpy(start, stop, dtype=dtype)
                want = expected(data, start, stop, dtype or clip.dtype, clip.ndim)
                assert_same_samples(got, want, (how, start, stop, dtype))


@pytest.mark.parametrize("subtype", ["FLOAT", "DOUBLE"])
def test_loud_float_files_read_as_integers_like_soundfile(tmp_path, subtype):
    """Float samples far outside [-1, 1] read as int16/int32: soundfile's rounding, kept."""
    path = write_file(tmp_path / "loud.wav", "WAV", subtype, 1, loud=True)
    data = path.read_bytes()
    clip = Audio(io.BytesIO(data))
    for dtype in ("int16", "int32", "float32", "float64"):
        assert_same_samples(clip.numpy(100, 4000, dtype=dtype), expected(data, 100, 4000, dtype, 1))


def test_int16_file_as_float32_and_float_file_as_int16(tmp_path):
    ints = np.array([-32768, -1, 0, 1, 32767, 12345], dtype=np.int16)
    pcm = Audio(ints, 8000)
    assert pcm.numpy(1, 5, dtype="float32").tolist() == [-1 / 32768, 0.0, 1 / 32768, 32767 / 32768]
    floats = Audio(np.array([0.4, 0.5, 1.5, -2.5, 40000.0], dtype=np.float32), 8000)
    data = floats.in_memory_bytes()
    assert_same_samples(floats.numpy(dtype="int16"), expected(data, 0, 5, "int16", 1))
    assert_same_samples(floats.numpy(1, 4, dtype="int32"), expected(data, 1, 4, "int32", 1))


# -- round trips -------------------------------------------------------------------------------
@st.composite
def windows(draw, max_frames=300):
    """A clip made from an array, a window of it and a dtype."""
    clip = Audio(draw(audio_arrays(max_frames)), draw(sample_rates()))
    start = draw(st.integers(0, clip.frames))
    stop = draw(st.integers(start, clip.frames))
    return clip, start, stop, draw(st.sampled_from((None, *DTYPES)))


def check_window(clip, loaded, start, stop, dtype):
    """``loaded``'s window is the original's, which is soundfile's reading of its file."""
    want = expected(clip.in_memory_bytes(), start, stop, dtype or clip.dtype, clip.ndim)
    assert_same_samples(clip.numpy(start, stop, dtype=dtype), want)
    assert_same_samples(loaded.numpy(start, stop, dtype=dtype), want)


@given(case=windows())
def test_windows_round_trip_through_json_a_run_and_a_store(case, store, tmp_path_factory):
    clip, start, stop, dtype = case
    run_dir = tmp_path_factory.mktemp("run")
    run = Run(dir=run_dir)
    clip.bind_to_run(run, "c", 0)
    obj = json.loads(json.dumps(clip.to_json(run)))
    check_window(clip, Value.init_from_json(obj, CountingSource(run_dir)), start, stop, dtype)

    run.log({"c": clip})
    check_window(clip, run.history()[-1]["c"], start, stop, dtype)

    draft = Artifact(f"w-{uuid.uuid4().hex[:10]}", "dataset")
    draft.add(clip, "c")
    check_window(clip, store.commit(draft).get("c"), start, stop, dtype)


def test_windows_of_a_big_entry_read_through_the_verified_path(store, monkeypatch):
    """Entries over the store's streaming limit are checked once, then read at the range."""
    monkeypatch.setattr(artifacts.version, "BIG", 1000)
    rng = np.random.default_rng(3)
    clip = Audio(rng.integers(-30000, 30000, (40000, 2)).astype(np.int16), 16000)
    draft = Artifact("big", "dataset")
    draft.add(clip, "c")
    loaded = store.commit(draft).get("c")
    for start, stop in [(0, 10), (12345, 23456), (39990, 40000)]:
        check_window(clip, loaded, start, stop, None)
        check_window(clip, loaded, start, stop, "float64")


# -- reading only what a window needs ----------------------------------------------------------
def write_long_wav(path, seconds=3600, rate=16000):
    """An int16 mono WAV of ``seconds`` (1 hour: 115.2 MB), written in pieces."""
    block = rate * 60
    with sf.SoundFile(path, "w", rate, 1, "PCM_16", format="WAV") as f:
        for i in range(seconds // 60):
            f.write((np.arange(block, dtype=np.int64) * 7 + i).astype(np.int16))
    return path


def proc_read_bytes() -> int | None:
    """Bytes this process has read through read syscalls (Linux), else None."""
    try:
        with open("/proc/self/io") as f:
            return int(next(line for line in f if line.startswith("rchar:")).split()[1])
    except OSError:
        return None


@pytest.fixture(scope="module")
def hour_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hour")
    path = write_long_wav(folder / "hour.wav")
    return folder, clip_json(path, "hour.wav")


def test_a_window_of_an_hour_long_wav_reads_the_header_and_the_window_only(hour_folder):
    folder, obj = hour_folder
    assert obj["size"] == 115_200_044 and obj["frames"] == 57_600_000
    source = CountingSource(folder)
    clip = Value.init_from_json(obj, source)
    start = 30 * 60 * 16000 + 123  # 5 s from the middle
    before = proc_read_bytes()
    samples = clip.numpy(start, start + 80000)
    after = proc_read_bytes()
    window = 80000 * 2
    assert source.whole_bytes == 0
    assert source.range_bytes <= 4096 + window and source.range_calls == 2
    if before is not None:  # independent of the source's count: the process read < 1 MiB
        assert after - before < window + (1 << 20)
    raw = np.memmap(folder / "hour.wav", dtype="<i2", mode="r", offset=44)
    assert np.array_equal(samples, raw[start : start + 80000])
    assert samples.flags.writeable and samples.dtype == np.int16
    # as float32: the same bytes read, converted as soundfile does
    source.range_bytes = 0
    floats = clip.numpy(start, start + 80000, dtype="float32")
    assert source.range_bytes <= 4096 + window
    assert np.array_equal(floats, raw[start : start + 80000].astype(np.float32) / 32768)


def test_a_window_of_a_long_flac_reads_a_small_part_of_it(tmp_path):
    rate, seconds = 16000, 600
    t = np.arange(rate * seconds) / rate
    noise = np.random.default_rng(1).normal(0, 300, t.shape)  # about 1.2 bytes a frame
    x = (np.sin(2 * np.pi * 440 * t) * 8000 + noise).astype(np.int16)
    sf.write(tmp_path / "long.flac", x, rate, format="FLAC", subtype="PCM_16")
    source = CountingSource(tmp_path)
    clip = Value.init_from_json(clip_json(tmp_path / "long.flac", "long.flac"), source)
    size = os.path.getsize(tmp_path / "long.flac")
    start = 377 * rate + 5
    samples = clip.numpy(start, start + 5 * rate)
    assert np.array_equal(samples, x[start : start + 5 * rate])
    assert source.whole_bytes == 0
    # the window's share of the file plus a few read-aheads (header, seek probes)
    assert source.range_bytes < size * 5 / seconds + 4 * (64 << 10), (source.range_bytes, size)
    assert source.range_bytes < size / 20


def test_a_source_without_ranged_reads_checks_the_whole_file(tmp_path):
    clip = Audio(np.arange(-5000, 5000, dtype=np.int16).reshape(-1, 2), 8000)
    run = Run(dir=tmp_path)
    clip.bind_to_run(run, "c", 0)
    obj = clip.to_json(run)
    source = WholeOnlySource(tmp_path)
    loaded = Value.init_from_json(obj, source)
    assert np.array_equal(loaded.numpy(10, 20), clip.numpy(10, 20))
    assert source.opened == 1
    path = tmp_path / obj["path"]
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # a sample far from the window
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256"):
        Value.init_from_json(obj, WholeOnlySource(tmp_path)).numpy(10, 20)


# -- damaged files and lying JSON --------------------------------------------------------------
def test_a_damaged_blob_gives_no_window(tmp_path):
    store = artifacts.open_store(str(tmp_path / "store"))
    clip = Audio(np.arange(300000, dtype=np.int32) % 1000, 8000)
    draft = Artifact("d", "dataset")
    draft.add(clip, "c")
    loaded = store.commit(draft).get("c")
    blob = tmp_path / "store" / "blobs" / "sha256" / clip.sha256[:2] / clip.sha256[2:]
    data = bytearray(blob.read_bytes())
    data[44 + 4 * 250000] ^= 0xFF  # frame 250000
    blob.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="d:v0/media/audio"):
        loaded.numpy(249990, 250010)
    # a window far from the damage is checked by the chunks it covers (digests recorded
    # at commit, tests/test_chunks.py), so it reads, and is right
    assert np.array_equal(loaded.numpy(0, 10), clip.numpy(0, 10))
    with pytest.raises(IntegrityError):
        loaded.numpy()  # the whole clip is checked whole


def test_a_header_that_contradicts_the_json_is_refused(tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    write_file(big / "c.wav", "WAV", "PCM_16", 1, frames=2_000_000)  # over one request
    obj = clip_json(big / "c.wav", "c.wav")
    for key, value, says in [
        ("sample_rate", 8000, "16000 Hz"),
        ("channels", 2, "1 channel"),
        ("frames", 2_000_001, "2000000 frames"),
    ]:
        lie = dict(obj, **{key: value}, ndim=2 if key == "channels" else 1)
        clip = Value.init_from_json(lie, CountingSource(big))
        with pytest.raises(IntegrityError, match=f"header says .*{says}"):
            clip.numpy(10, 20)
    # a file cut short: its header promises more bytes than follow
    data = (big / "c.wav").read_bytes()
    (big / "cut.wav").write_bytes(data[: len(data) // 2])
    cut = dict(clip_json(big / "cut.wav", "cut.wav"), frames=2_000_000)
    with pytest.raises(IntegrityError, match="data chunk says"):
        Value.init_from_json(cut, CountingSource(big)).numpy(10, 20)


def test_a_folder_file_of_another_size_is_refused(tmp_path):
    write_file(tmp_path / "c.wav", "WAV", "PCM_16", 1, frames=2_000_000)
    obj = clip_json(tmp_path / "c.wav", "c.wav")
    with open(tmp_path / "c.wav", "ab") as f:
        f.write(b"\0\0")
    with pytest.raises(IntegrityError, match="size is"):
        Value.init_from_json(obj, CountingSource(tmp_path)).numpy(10, 20)


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "stop"), [(-1, 5), (5, 4), (0, 101), (101, None), (None, -1), (200, 300)]
)
def test_windows_outside_the_clip_say_what_is_allowed(start, stop):
    clip = Audio(np.zeros(100, dtype=np.float32), 8000)
    with pytest.raises(ValueError, match=r"has 100 frames, so give 0 <= start <= stop <= 100"):
        clip.numpy(start, stop)


@pytest.mark.parametrize("dtype", ["int8", "float16", "uint8", "complex64", "foo", np.int8, 3])
def test_unknown_dtypes_list_the_allowed_ones(dtype):
    clip = Audio(np.zeros(100, dtype=np.float32), 8000)
    with pytest.raises(ValueError, match="'float32', 'float64', 'int16', 'int32'"):
        clip.numpy(dtype=dtype)


def test_numpy_dtypes_are_accepted_as_names():
    clip = Audio(np.arange(100, dtype=np.int16), 8000)
    for dtype in (np.float32, np.dtype("float32"), "float32"):
        assert clip.numpy(0, 10, dtype=dtype).dtype == np.float32


@pytest.mark.parametrize("bad", [1.5, "3", True])
def test_window_bounds_must_be_ints(bad):
    clip = Audio(np.zeros(100, dtype=np.float32), 8000)
    with pytest.raises(TypeError, match="frame index"):
        clip.numpy(bad, None)
    with pytest.raises(TypeError, match="frame index"):
        clip.numpy(0, bad)


@pytest.mark.parametrize(("offset", "length"), [(-1, 5), (0, -1), (1.0, 5), (None, 5)])
def test_ranged_reads_refuse_bad_ranges(tmp_path, offset, length):
    clip = Audio(np.zeros(100, dtype=np.float32), 8000)
    draft = Artifact("r", "dataset")
    draft.add(clip, "c")
    v0 = artifacts.open_store(str(tmp_path / "s")).commit(draft)
    entry = json.loads(v0.read_bytes("c.audio-file.json"))["path"]
    with pytest.raises(ValueError, match="Invalid"):
        v0.read_media_range(entry, offset, length)
    with pytest.raises(ValueError, match="Invalid"):
        FolderSource(tmp_path).read_media_range("x", offset, length)


@given(
    array=audio_arrays(max_frames=400).filter(lambda a: a.dtype == np.int16 and len(a) > 0),
    dtype=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_windows_of_flac_clips_made_from_arrays_equal_soundfile(array, dtype, data):
    """An int16 array kept as FLAC converts as soundfile converts its FLAC file."""
    clip = Audio(array, 16000, format="flac")
    start = data.draw(st.integers(0, clip.frames))
    stop = data.draw(st.integers(start, clip.frames))
    with clip.open() as f:
        flac = f.read()
    assert_same_samples(
        clip.numpy(start, stop, dtype=dtype), expected(flac, start, stop, dtype, clip.ndim)
    )
