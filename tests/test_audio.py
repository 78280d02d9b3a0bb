"""``Audio``: every bad input with its error type and message, path inputs kept as they are,
FLAC for arrays, metadata without samples, the list helpers and the JSON forms."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import fsspec
import numpy as np
import pytest
import soundfile as sf

import artifacts
import schemas
from artifacts import Artifact, Run
from media import Audio, FolderSource, Value, _wav

AUDIO_FILE_KEYS = {"_type", "path", "sha256", "size", "sample_rate", "duration", "channels"}


@pytest.fixture
def no_decoding(monkeypatch):
    """Any attempt to decode samples fails the test (headers may still be read)."""

    def boom(*args, **kwargs):
        raise AssertionError("samples were decoded")

    monkeypatch.setattr(sf, "read", boom)
    monkeypatch.setattr(sf.SoundFile, "read", boom)
    monkeypatch.setattr("media._wav.decode", boom)


# -- bad arrays ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype", ["uint8", "int8", "uint16", "int64", "float16", "complex64", "bool", "object"]
)
def test_wrong_dtype_is_a_type_error_listing_the_allowed_ones(dtype):
    with pytest.raises(TypeError) as err:
        Audio(np.zeros(4, dtype=dtype), 8000)
    message = str(err.value)
    assert message.startswith(f"Invalid dtype {np.dtype(dtype).name!r}: ")
    assert "float32, float64, int16 or int32" in message
    assert "astype" in message


@pytest.mark.parametrize("shape", [(2, 100), (3, 10), (100, 65), (1000, 200)])
def test_channels_first_arrays_are_refused_with_a_hint_to_transpose(shape):
    with pytest.raises(ValueError) as err:
        Audio(np.zeros(shape, np.float32), 8000)
    message = str(err.value)
    assert message.startswith(f"Invalid array shape {shape}: this looks channels-first")
    assert "transpose" in message and "array.T" in message


@pytest.mark.parametrize("shape", [(1, 2), (5, 6), (3, 8), (1, 8)])
def test_a_few_frames_of_a_few_channels_are_frames_by_channels(shape):
    # e.g. the last frame of a stereo clip, clip.numpy(n - 1, n): not refused as
    # channels-first, which would send the user to array.T and a wrong clip
    clip = Audio(np.ones(shape, np.int16), 8000)
    assert (clip.frames, clip.channels) == shape
    rec = Audio(np.arange(32000, dtype=np.int16).reshape(16000, 2), 16000)
    last = Audio(rec.numpy(15999, 16000), 16000)
    assert last.channels == 2 and np.array_equal(last.numpy(), [[31998, 31999]])


def test_64_channels_and_square_arrays_are_frames_by_channels():
    assert Audio(np.zeros((64, 64), np.int16), 8).channels == 64
    assert Audio(np.zeros((2, 2), np.int16), 8).channels == 2
    assert Audio(np.zeros((0, 8), np.int16), 8).channels == 8


@pytest.mark.parametrize(
    "shape, message",
    [
        ((), r"Invalid array shape \(\): give a 1-D array \(mono\) or a 2-D array"),
        ((2, 2, 2), r"Invalid array shape \(2, 2, 2\): give a 1-D array"),
        ((10, 0), r"Invalid array shape \(10, 0\): a clip needs at least 1 channel"),
    ],
)
def test_bad_shapes(shape, message):
    with pytest.raises(ValueError, match=message):
        Audio(np.zeros(shape, np.int16), 8)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_nan_and_infinite_samples_are_refused(bad, dtype):
    array = np.zeros((10, 2), dtype)
    array[7, 1] = bad
    with pytest.raises(ValueError, match=r"^Invalid samples: the array contains NaN or infinite"):
        Audio(array, 8000)


# -- bad sample rates ---------------------------------------------------------------------
def test_missing_sample_rate_for_an_array():
    with pytest.raises(ValueError, match=r"^sample_rate is required when Audio is made from an"):
        Audio(np.zeros(4, np.int16))


@pytest.mark.parametrize("rate", [0, -1, -16000, 2**31, 0.0, -8000.0])
def test_non_positive_or_too_large_sample_rate(rate):
    with pytest.raises(ValueError, match=rf"^Invalid sample_rate {rate!r}: it must be a positive"):
        Audio(np.zeros(4, np.int16), rate)


@pytest.mark.parametrize("rate", [16000.5, 0.1, float("nan"), float("inf")])
def test_non_integer_sample_rate(rate):
    with pytest.raises(ValueError, match=r"it must be a whole number of samples per second"):
        Audio(np.zeros(4, np.int16), rate)


@pytest.mark.parametrize("rate", [True, False, "16000", b"1", [16000], 16000j])
def test_sample_rate_of_the_wrong_type(rate):
    with pytest.raises(TypeError, match=r"expected a positive int \(samples per second\)"):
        Audio(np.zeros(4, np.int16), rate)


@pytest.mark.parametrize("rate", [16000.0, np.int64(16000), np.int32(16000), np.float64(16000)])
def test_whole_number_sample_rates_of_other_types_become_int(rate):
    clip = Audio(np.zeros(4, np.int16), rate)
    assert clip.sample_rate == 16000 and type(clip.sample_rate) is int


# -- other bad arguments ------------------------------------------------------------------
@pytest.mark.parametrize("data", [[1, 2, 3], 5, None, b"RIFF"])
def test_data_of_the_wrong_type(data):
    with pytest.raises(TypeError, match=r"^Invalid data_or_path of type .*: give a NumPy array"):
        Audio(data, 8000)


def test_caption_must_be_text():
    with pytest.raises(TypeError, match=r"^Invalid caption 5: expected a str or None"):
        Audio(np.zeros(4, np.int16), 8, caption=5)  # type: ignore[arg-type]


def test_caption_must_be_encodable_text():
    with pytest.raises(ValueError, match=r"^Invalid caption 'a\\ud800': it has a lone surrogate"):
        Audio(np.zeros(4, np.int16), 8, caption="a\ud800")


def test_unknown_format():
    with pytest.raises(ValueError, match=r"^Unknown format 'mp3': Audio writes arrays as one of"):
        Audio(np.zeros(4, np.int16), 8, format="mp3")  # type: ignore[arg-type]


def test_text_mode_file_object_is_refused(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello")
    with open(path) as f, pytest.raises(TypeError, match=r"opened in binary mode \('rb'\)"):
        Audio(f)


# -- paths --------------------------------------------------------------------------------
@pytest.mark.parametrize("as_path", [str, Path])
def test_missing_file_is_file_not_found_naming_it(tmp_path, as_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(FileNotFoundError) as err:
        Audio(as_path(missing))
    assert str(missing) in str(err.value)
    assert err.value.filename == str(missing)


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24", "FLOAT"])
def test_a_cut_wav_is_refused_before_it_can_be_stored(tmp_path, subtype):
    # soundfile reads the frames a cut WAV has, but a stored copy's header would lie to
    # every checked read: the clip would commit and never read back
    path = tmp_path / "take.wav"
    sf.write(path, np.linspace(-0.5, 0.5, 10000), 16000, subtype=subtype)
    whole = path.read_bytes()
    path.write_bytes(whole[:-4000])
    with pytest.raises(ValueError, match=r"is cut short: the WAV data chunk says \d+ bytes") as err:
        Audio(path)
    assert "Audio(*soundfile.read(path))" in str(err.value)
    with pytest.raises(ValueError, match="is cut short"):
        Audio(io.BytesIO(whole[:-4000]))
    kept = Audio(*sf.read(path, dtype="float32" if subtype == "FLOAT" else "int32"))
    assert kept.frames == len(sf.read(path)[0])
    assert Audio(io.BytesIO(whole)).frames == 10000  # (the whole file is fine)


def test_a_file_changed_after_audio_read_its_header_is_refused_on_add(tmp_path):
    path = tmp_path / "take.wav"
    sf.write(path, np.zeros(1000, np.int16), 16000, subtype="PCM_16")
    clip = Audio(path)
    sf.write(path, np.zeros((250, 2), np.int16), 8000, subtype="PCM_16")
    draft = Artifact("takes", "dataset")
    with pytest.raises(ValueError, match=r"changed after Audio\(.*\) read it"):
        draft.add(clip, "take")
    assert draft._entries == {}
    assert Artifact("takes", "dataset").add(Audio(path), "take").path == "take.audio-file.json"


@pytest.mark.parametrize("content", [b"", b"hello, not audio", b"RIFF\x00\x00\x00\x00WAVE"])
def test_bytes_that_are_not_audio_are_a_value_error(tmp_path, content):
    path = tmp_path / "fake.wav"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        Audio(path)
    assert str(err.value).startswith(f"{str(path)!r} is not an audio file that soundfile can read")
    assert "soundfile.available_formats()" in str(err.value)
    with pytest.raises(ValueError, match="is not an audio file that soundfile can read"):
        Audio(io.BytesIO(content))


def test_sample_rate_that_contradicts_the_file(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, np.zeros(10, np.int16), 8000)
    assert Audio(path, sample_rate=8000).sample_rate == 8000
    with pytest.raises(ValueError, match=r"sample_rate=16000 contradicts .*x.wav.*says 8000"):
        Audio(path, sample_rate=16000)


PATH_CASES = [
    # (file name, soundfile format, subtype, dtype of numpy(), exact samples)
    ("clip.wav", "WAV", "PCM_16", "int16", True),
    ("clip.wav", "WAV", "FLOAT", "float32", True),
    ("clip.wav", "WAV", "DOUBLE", "float64", True),
    ("clip.flac", "FLAC", "PCM_16", "int16", True),
    ("clip.ogg", "OGG", "VORBIS", "float32", False),
]


def _write(tmp_path, name, fmt, subtype, channels):
    rng = np.random.default_rng(1)
    frames = 4410
    if subtype == "PCM_16":
        array = rng.integers(-(2**15), 2**15, (frames, channels), dtype=np.int16)
    else:
        array = (rng.random((frames, channels)) - 0.5).astype(np.float64)
    path = tmp_path / name
    sf.write(path, array, 44100, format=fmt, subtype=subtype)
    return path, array


@pytest.mark.parametrize("name, fmt, subtype, dtype, exact", PATH_CASES)
@pytest.mark.parametrize("channels", [1, 2])
def test_path_metadata_comes_from_the_header(
    tmp_path, no_decoding, name, fmt, subtype, dtype, exact, channels
):
    path, _ = _write(tmp_path, name, fmt, subtype, channels)
    clip = Audio(path, caption="c")
    assert clip.sample_rate == 44100
    assert clip.channels == channels and clip.frames == 4410
    assert clip.duration == 0.1
    assert clip.dtype == dtype and clip.ndim == (1 if channels == 1 else 2)
    assert clip.caption == "c"
    assert clip.extension == name.rsplit(".", 1)[1]
    assert clip.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert clip.size == path.stat().st_size
    assert "44100 Hz" in repr(clip)
    with pytest.raises(AssertionError, match="samples were decoded"):  # the spy works
        clip.numpy()


@pytest.mark.parametrize("name, fmt, subtype, dtype, exact", PATH_CASES)
def test_path_clip_is_kept_byte_identical_in_a_run_and_a_store(
    tmp_path, name, fmt, subtype, dtype, exact
):
    path, array = _write(tmp_path, name, fmt, subtype, 2)
    original = path.read_bytes()
    clip = Audio(str(path))
    run = Run(dir=tmp_path / "run")
    row = run.log({"clip": clip})
    assert (tmp_path / "run" / row["clip"]["path"]).read_bytes() == original
    assert row["clip"]["path"].endswith("." + clip.extension)
    store = artifacts.open_store(str(tmp_path / "store"))
    draft = Artifact("files", type="dataset")
    draft.add(clip, "clip")
    v0 = store.commit(draft)
    got = v0.get("clip")
    assert v0.read_bytes(got.to_json(Artifact("x", type="t"))["path"]) == original
    assert got.sha256 == clip.sha256 == hashlib.sha256(original).hexdigest()
    samples = got.numpy()
    assert samples.dtype == np.dtype(dtype) and samples.shape == (4410, 2)
    assert np.array_equal(samples, clip.numpy())
    if exact:
        assert np.array_equal(samples, array.astype(dtype))
    assert path.read_bytes() == original  # the user's file is untouched


def test_file_objects_and_fsspec_files(tmp_path):
    array = np.arange(-20, 20, dtype=np.int16)
    path = tmp_path / "x.wav"
    sf.write(path, array, 8000, subtype="PCM_16")
    with open(path, "rb") as f:
        from_file = Audio(f)
    with fsspec.open(f"file://{path}", "rb") as f:
        from_fsspec = Audio(f)
    for clip in (from_file, from_fsspec):
        assert clip.sample_rate == 8000
        assert clip.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert clip.numpy().tobytes() == array.tobytes()


# -- arrays -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dtype, subtype",
    [("float32", "FLOAT"), ("float64", "DOUBLE"), ("int16", "PCM_16"), ("int32", "PCM_32")],
)
def test_arrays_are_written_as_lossless_wav(dtype, subtype):
    array = np.linspace(-1, 1, 50).astype(dtype) if dtype[0] == "f" else np.arange(50, dtype=dtype)
    clip = Audio(array, 8000)
    info = sf.info(clip.open())
    assert (info.format, info.subtype) == ("WAV", subtype)
    assert clip.extension == "wav"
    samples, rate = sf.read(clip.open(), dtype=dtype)
    assert rate == 8000 and samples.tobytes() == array.tobytes()


def test_input_array_is_copied_and_numpy_returns_a_new_array():
    array = np.arange(10, dtype=np.int16)
    clip = Audio(array, 8)
    array[0] = 99
    out = clip.numpy()
    assert out[0] == 0
    out[1] = 99
    assert clip.numpy()[1] == 1


def test_big_endian_and_strided_arrays_keep_their_values():
    array = np.arange(40, dtype=">i4").reshape(20, 2)[::2]
    clip = Audio(array, 8)
    assert clip.numpy().dtype == np.dtype("int32")
    assert np.array_equal(clip.numpy(), array)


def test_flac_for_int16_arrays(tmp_path):
    array = np.arange(-500, 500, dtype=np.int16).reshape(500, 2)
    clip = Audio(array, 16000, format="flac")
    assert clip.extension == "flac"
    data = clip.open().read()
    assert data[:4] == b"fLaC"
    assert len(data) < Audio(array, 16000).size  # compact
    assert clip.numpy().tobytes() == array.tobytes()
    run = Run(dir=tmp_path)
    row = run.log({"c": clip})
    assert row["c"]["path"].endswith(".flac")
    (got,) = run.history()
    assert got["c"].numpy().tobytes() == array.tobytes()
    assert got["c"].dtype == "int16"


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_flac_refuses_what_it_cannot_keep_losslessly(dtype):
    with pytest.raises(ValueError) as err:
        Audio(np.zeros(10, dtype), 8000, format="flac")
    assert str(err.value) == (
        f"FLAC keeps int16 samples losslessly, not {dtype}; use format='wav' (the default) "
        "for this array"
    )


@pytest.mark.parametrize(
    "shape, rate, problem",
    [
        ((0,), 8000, "an empty clip (0 frames)"),
        ((20, 9), 8000, "9 channels (FLAC holds at most 8)"),
        ((20,), 65536, "sample_rate 65536 (FLAC holds rates up to 65535 Hz"),
        ((20,), 655360, "sample_rate 655360 (FLAC holds rates up to 65535 Hz"),
    ],
)
def test_flac_refuses_what_libsndfile_cannot_write(shape, rate, problem):
    with pytest.raises(ValueError) as err:
        Audio(np.zeros(shape, np.int16), rate, format="flac")
    assert str(err.value).startswith(f"FLAC cannot hold {problem}")
    assert str(err.value).endswith("use format='wav' (the default)")


@pytest.mark.parametrize("rate", [1, 65535, 96000, 192000, 655350])
def test_flac_sample_rates_that_work(rate):
    array = np.arange(30, dtype=np.int16)
    clip = Audio(array, rate, format="flac")
    back = Audio(io.BytesIO(clip.open().read()))
    assert back.sample_rate == rate and back.numpy().tobytes() == array.tobytes()


def test_huge_sample_rates_are_written():
    array = np.arange(-4, 4, dtype=np.float64).reshape(4, 2)
    clip = Audio(array, 2**31 - 1)
    back = Audio(io.BytesIO(clip.open().read()))
    assert back.sample_rate == 2**31 - 1
    assert back.numpy().tobytes() == array.tobytes()


# -- metadata and samples -----------------------------------------------------------------
def test_metadata_of_an_array_clip():
    clip = Audio(np.zeros((24000, 2), np.float32), 16000, caption="two")
    assert (clip.sample_rate, clip.channels, clip.frames) == (16000, 2, 24000)
    assert clip.duration == 1.5 and clip.caption == "two"
    assert (clip.dtype, clip.ndim) == ("float32", 2)
    assert Audio(np.zeros(0, np.int16), 8).duration == 0.0


def test_loaded_clip_reads_no_samples_until_numpy(tmp_path, monkeypatch):
    array = np.arange(100, dtype=np.int32).reshape(50, 2)
    run = Run(dir=tmp_path)
    run.log({"c": Audio(array, 8000, caption="x")})
    (row,) = run.history()
    clip = row["c"]
    opened = []
    original = FolderSource.open_media

    def spy(self, *args, **kwargs):
        opened.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FolderSource, "open_media", spy)
    assert (clip.sample_rate, clip.channels, clip.frames, clip.dtype) == (8000, 2, 50, "int32")
    assert clip.duration == 50 / 8000 and clip.caption == "x"
    assert opened == []
    assert clip.numpy().tobytes() == array.tobytes()
    assert len(opened) == 1


def test_repr_of_a_lazy_clip_reads_nothing(tmp_path):
    obj = {"_type": "audio-file", "path": "media/audio/x.wav", "sha256": "0" * 64}
    clip = Value.init_from_json(obj, FolderSource(tmp_path))  # the file does not exist
    assert repr(clip) == "Audio(<not yet read: media/audio/x.wav>, caption=None)"
    assert clip.caption is None
    with pytest.raises(FileNotFoundError):
        clip.sample_rate  # noqa: B018


def test_repr_after_reading_the_header(tmp_path):
    array = np.zeros(8000, np.int16)
    path = tmp_path / "media/audio/x.wav"
    path.parent.mkdir(parents=True)
    sf.write(path, array, 8000, subtype="PCM_16")
    obj = {
        "_type": "audio-file",
        "path": "media/audio/x.wav",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "caption": "hi",
    }
    clip = Value.init_from_json(obj, FolderSource(tmp_path))
    assert repr(clip) == "Audio(<not yet read: media/audio/x.wav>, caption='hi')"
    assert clip.duration == 1.0
    assert repr(clip) == "Audio(int16, 8000 Hz, 1 ch, 1.000 s, caption='hi')"
    assert clip == Audio(array, 8000, caption="hi")


# -- lists of clips -----------------------------------------------------------------------
def test_durations_sample_rates_captions():
    clips = [
        Audio(np.zeros(8000, np.int16), 8000, caption="a"),
        Audio(np.zeros((8000, 2), np.float32), 16000),
        Audio(np.zeros(0, np.int16), 44100, caption=""),
    ]
    assert Audio.durations(clips) == [1.0, 0.5, 0.0]
    assert Audio.sample_rates(clips) == [8000, 16000, 44100]
    assert Audio.captions(clips) == ["a", "", ""]
    assert Audio.captions(clips[1:2]) is False
    assert Audio.captions([]) is False
    assert Audio.durations([]) == [] and Audio.sample_rates([]) == []
    assert Audio.captions(iter(clips[:1])) == ["a"]


def test_seq_to_json_shape(tmp_path):
    run = Run(dir=tmp_path)
    clips = [Audio(np.zeros(800, np.int16), 8000), Audio(np.zeros(400, np.int16), 8000)]
    obj = Audio.seq_to_json(clips, run, "l", 0)
    assert list(obj) == ["_type", "count", "audio", "sampleRates", "durations"]
    assert obj["_type"] == "audio" and obj["count"] == 2
    assert obj["sampleRates"] == [8000, 8000] and obj["durations"] == [0.1, 0.05]
    assert [a["path"] for a in obj["audio"]] == [c.bound_path(run.dir) for c in clips]
    assert all(a["path"].startswith("media/audio/l_0_") for a in obj["audio"])
    schemas.validate(obj)
    captioned = [Audio(np.zeros(8, np.int16), 8), Audio(np.zeros(8, np.int16), 8, caption="b")]
    obj = Audio.seq_to_json(captioned, run, "m", 1)
    assert obj["captions"] == ["", "b"]
    assert [a["caption"] for a in obj["audio"]] == [None, "b"]
    schemas.validate(obj)


def test_seq_to_json_refuses_non_audio_items(tmp_path):
    run = Run(dir=tmp_path)
    with pytest.raises(TypeError, match=r"Invalid item 3 in an audio list: expected Audio"):
        Audio.seq_to_json([Audio(np.zeros(8, np.int16), 8), 3], run, "l", 0)
    assert not (tmp_path / "media").exists()


def test_seq_from_json_rebuilds_the_clips(tmp_path):
    run = Run(dir=tmp_path)
    clips = [Audio(np.arange(8, dtype=np.int16), 8), Audio(np.ones(3, np.float64), 3, caption="z")]
    obj = json.loads(json.dumps(Audio.seq_to_json(clips, run, "l", 0)))
    got = Audio.seq_from_json(obj, FolderSource(tmp_path))
    assert got == clips


# -- audio-file JSON ----------------------------------------------------------------------
@pytest.mark.parametrize("caption", [None, "", "ünïcødé 🎵"])
def test_audio_file_json_always_carries_every_key(tmp_path, caption):
    clip = Audio(np.zeros((160, 2), np.int16), 16000, caption=caption)
    for target in (Artifact("d", type="dataset"), Run(dir=tmp_path)):
        if isinstance(target, Run):
            clip.bind_to_run(target, "k", 0)
        obj = clip.to_json(target)
        assert AUDIO_FILE_KEYS | {"caption"} <= set(obj)
        assert obj["caption"] == caption
        assert obj["_type"] == "audio-file"
        assert (obj["sample_rate"], obj["duration"], obj["channels"]) == (16000, 0.01, 2)
        assert obj["size"] == clip.size and obj["sha256"] == clip.sha256
        assert json.loads(json.dumps(obj)) == obj
        schemas.validate(obj)


def test_json_with_partial_metadata_takes_the_dtype_from_the_header(tmp_path):
    """JSON from another writer with sample_rate, frames and channels but no dtype."""
    array = np.arange(-8, 8, dtype=np.int16)
    run = Run(dir=tmp_path)
    clip = Audio(array, 8000)
    clip.bind_to_run(run, "c", 0)
    obj = clip.to_json(run)
    for key in ("dtype", "ndim"):
        del obj[key]
    got = Value.init_from_json(obj, FolderSource(tmp_path))
    assert (got.dtype, got.ndim, got.sample_rate) == ("int16", 1, 8000)
    assert got.numpy().tobytes() == array.tobytes()


@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "int32"])
def test_wav_decode_of_the_written_layout_still_checks_the_data_chunk(dtype):
    # (decode reads the headers Audio writes in one step; the checks of the chunk walk hold)
    a = (np.arange(20) - 10).astype(dtype).reshape(10, 2)
    w = _wav.encode(a, 8000)
    samples, rate = _wav.decode(w)
    assert rate == 8000 and samples.shape == (10, 2) and samples.tobytes() == a.tobytes()
    block = a.itemsize * 2
    short = w[:-block]  # whole frames missing: the data chunk claims more than follows
    assert _wav.decode(short) is None
    assert _wav.data_overrun(short) == (a.nbytes, a.nbytes - block)
    odd = bytearray(w)
    odd[32:34] = (3 * a.itemsize).to_bytes(2, "little")  # a block of 3 samples for 2 channels
    assert _wav.decode(bytes(odd)) is None
