"""Checks and facts about samples and audio files, shared by :class:`media.Audio` and its
segments: sample rates, arrays, dtypes, FLAC's limits, and a file's header (``read_info``)."""

from __future__ import annotations

import io
import os
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf

import schemas

from . import _wav, _window
from .errors import IntegrityError

__all__ = [
    "ALLOWED_DTYPES",
    "DTYPE_SUBTYPE",
    "FLAC_DTYPES",
    "Info",
    "check_array",
    "check_caption",
    "check_flac",
    "check_sample_rate",
    "dtype_name",
    "read_info",
    "samples_view",
]

# dtype of the array -> soundfile subtype it is written with, losslessly
DTYPE_SUBTYPE = {"float32": "FLOAT", "float64": "DOUBLE", "int16": "PCM_16", "int32": "PCM_32"}
SUBTYPE_DTYPE = _window.SUBTYPE_DTYPE
FORMAT_EXT = {
    "WAV": "wav",
    "WAVEX": "wav",
    "FLAC": "flac",
    "OGG": "ogg",
    "MP3": "mp3",
    "AIFF": "aiff",
    "AU": "au",
    "CAF": "caf",
    "W64": "w64",
    "RF64": "wav",
}
# formats whose header only estimates the frame count (an MP3 without a LAME tag: from its
# size and bit rate), so the count is taken by decoding, as numpy() will
ESTIMATED_FRAMES = frozenset({"MP3"})
COUNT_BLOCK = 1 << 16
ALLOWED_DTYPES = tuple(DTYPE_SUBTYPE)
MAX_CHANNELS = 64
MAX_SAMPLE_RATE = 2**31 - 1
FLAC_DTYPES = ("int16",)


def check_sample_rate(sample_rate: Any) -> int:
    if sample_rate is None:
        raise ValueError(
            "sample_rate is required when Audio is made from an array: pass the number of "
            "samples per second, e.g. Audio(array, sample_rate=16000)"
        )
    if isinstance(sample_rate, bool) or not isinstance(
        sample_rate, (int, np.integer, float, np.floating)
    ):
        raise TypeError(
            f"Invalid sample_rate {sample_rate!r}: expected a positive int (samples per second)"
        )
    if isinstance(sample_rate, (float, np.floating)):
        if not np.isfinite(sample_rate) or sample_rate != int(sample_rate):
            raise ValueError(
                f"Invalid sample_rate {sample_rate!r}: it must be a whole number of samples "
                "per second, e.g. 16000"
            )
    rate = int(sample_rate)
    if not 1 <= rate <= MAX_SAMPLE_RATE:
        raise ValueError(
            f"Invalid sample_rate {sample_rate!r}: it must be a positive int no larger than "
            f"{MAX_SAMPLE_RATE}"
        )
    return rate


# native dtypes -> names, looked up without numpy's (slow) ``dtype.name``
NATIVE_NAMES = {np.dtype(name): name for name in DTYPE_SUBTYPE}


def dtype_name(dtype: np.dtype) -> str:
    """``dtype.name``, fast for the four sample dtypes."""
    return NATIVE_NAMES.get(dtype) or dtype.name


def check_array(array: np.ndarray, copy: bool = True) -> np.ndarray:
    if dtype_name(array.dtype) not in ALLOWED_DTYPES:
        raise TypeError(
            f"Invalid dtype {array.dtype.name!r}: Audio stores float32, float64, int16 or int32 "
            "samples losslessly; convert first, e.g. array.astype(np.float32)"
        )
    if array.ndim not in (1, 2):
        raise ValueError(
            f"Invalid array shape {array.shape}: give a 1-D array (mono) or a 2-D array of "
            "frames x channels"
        )
    if array.ndim == 2:
        frames, channels = array.shape
        if channels == 0:
            raise ValueError(f"Invalid array shape {array.shape}: a clip needs at least 1 channel")
        # more channels than frames is how a channels-first array looks, but a few frames
        # of a few channels (the last frame of a stereo clip) are frames x channels too
        if channels > MAX_CHANNELS or (channels > frames > 0 and channels > _FEW_CHANNELS):
            raise ValueError(
                f"Invalid array shape {array.shape}: this looks channels-first "
                f"({channels} channels, {frames} frames); Audio expects frames x channels, "
                "so transpose it: pass array.T"
            )
    if array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
        raise ValueError(
            "Invalid samples: the array contains NaN or infinite values, which no audio file "
            "can hold; replace them first, e.g. np.nan_to_num(array)"
        )
    if not copy:  # the caller copies it into the file's bytes at once
        if array.flags.c_contiguous and array.dtype.isnative:
            return array
        return np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("="))
    out = np.array(array, dtype=array.dtype.newbyteorder("="), order="C", copy=True)
    out.setflags(write=False)
    return out


def samples_view(data: bytes, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """The samples at the end of WAV bytes made by ``_wav.encode``, as a read-only view."""
    dt = np.dtype(dtype)
    count = shape[0] if len(shape) == 1 else shape[0] * shape[1]
    offset = len(data) - count * dt.itemsize
    return np.frombuffer(data, dtype=dt, count=count, offset=offset).reshape(shape)


def check_flac(frames: int, channels: int, rate: int) -> None:
    """Refuse what libsndfile's FLAC encoder cannot write (it fails, or writes no bytes)."""
    problem = None
    if frames == 0:
        problem = "an empty clip (0 frames)"
    elif channels > 8:
        problem = f"{channels} channels (FLAC holds at most 8)"
    elif rate > 655350 or (rate > 65535 and rate % 10):
        problem = (
            f"sample_rate {rate} (FLAC holds rates up to 65535 Hz, or multiples of 10 Hz "
            "up to 655350 Hz)"
        )
    if problem:
        raise ValueError(f"FLAC cannot hold {problem}; use format='wav' (the default)")


def decoded_frames(file: Any, name: str) -> int:
    """The number of frames that decoding ``file`` (a path or a seekable binary file) gives."""
    if not isinstance(file, (str, os.PathLike)):
        file.seek(0)
    frames = 0
    try:
        with sf.SoundFile(file) as f:
            while n := len(f.read(COUNT_BLOCK, dtype="float32", always_2d=True)):
                frames += n
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise ValueError(f"{name!r} could not be decoded to the end ({exc})") from None
    return frames


def check_caption(caption: Any) -> str | None:
    """``caption`` if it is ``None`` or text that JSON can store, else a clear error."""
    if caption is not None and not isinstance(caption, str):
        raise TypeError(f"Invalid caption {caption!r}: expected a str or None")
    if caption is not None and not caption.isascii():
        try:
            caption.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                f"Invalid caption {caption!r}: it has a lone surrogate, which is not text "
                "(JSON cannot store it); decode the bytes it came from properly"
            ) from None
    return caption


class Info(NamedTuple):
    """What a clip's file header says (frames by decoding where the header estimates)."""

    sample_rate: int
    frames: int
    channels: int
    ndim: int
    dtype: str
    extension: str


def read_info(file: Any, name: str, stored: bool = False) -> Info:
    """The header of ``file`` (a path or a seekable binary file) named ``name``; a file
    soundfile cannot read raises ``ValueError`` saying which formats it can."""
    try:
        info = sf.info(file)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{name!r} is not an audio file that soundfile can read ({exc}); give a "
            "WAV, FLAC, OGG, MP3 or another format in soundfile.available_formats()"
        ) from None
    if info.format in ("WAV", "WAVEX"):
        _refuse_cut_wav(file, name, int(info.frames), stored)
    channels = int(info.channels)
    frames = int(info.frames)
    if info.format in ESTIMATED_FRAMES:
        frames = decoded_frames(file, name)
    return Info(
        sample_rate=int(info.samplerate),
        frames=frames,
        channels=channels,
        ndim=1 if channels == 1 else 2,
        dtype=SUBTYPE_DTYPE.get(info.subtype, "float32"),
        extension=FORMAT_EXT.get(info.format, str(info.format).lower()),
    )


#: up to this many channels, an array with fewer frames than channels is not refused as
#: channels-first (surround layouts have at most 8)
_FEW_CHANNELS = 8


def _refuse_cut_wav(file: Any, name: str, frames: int, stored: bool) -> None:
    """Refuse a WAV whose data chunk claims more bytes than the file has: soundfile reads
    the frames that are there, but a stored copy would be refused by every checked read
    (its header lies), so the clip could never be read back."""
    if isinstance(file, (str, os.PathLike)):
        with open(file, "rb") as f:
            head, total = f.read(_HEAD_BYTES), os.fstat(f.fileno()).st_size
    else:
        at = file.tell()
        try:
            file.seek(0)
            head = file.read(_HEAD_BYTES)
            total = file.seek(0, os.SEEK_END)
        finally:
            file.seek(at)
    overrun = _wav.data_overrun(head, total)
    if overrun is None:
        return
    said = (
        f"the WAV data chunk says {overrun[0]} bytes but only {overrun[1]} follow it (the "
        "file is truncated or its header lies)"
    )
    if stored:  # (what was stored is what was given: nothing to redo here)
        raise ValueError(said)
    raise ValueError(
        f"{name!r} is cut short: {said}. Copy or export the file again; to keep the "
        f"{frames} frames that are there, give them as an array: Audio(*soundfile.read(path))"
    )


#: how much of a WAV's start is read to find its data chunk (the chunks before it are small)
_HEAD_BYTES = 1 << 16


def encode(array: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """The file bytes of checked samples: WAV (RF64 past WAV's 4 GiB) or FLAC (int16)."""
    if fmt == "wav" and array.nbytes <= _wav.MAX_DATA:
        return _wav.encode(array, sample_rate)
    buf = io.BytesIO()
    name = dtype_name(array.dtype)
    major, subtype = ("FLAC", "PCM_16") if fmt == "flac" else ("RF64", DTYPE_SUBTYPE[name])
    try:
        sf.write(buf, array, sample_rate, format=major, subtype=subtype)
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise ValueError(f"cannot write this clip as {fmt.upper()}: {exc}") from None
    return buf.getvalue()


def check_json_meta(said: dict[str, Any], header: tuple[int, int, int, str]) -> None:
    """Refuse JSON metadata (``said``) that the file's header disagrees with;
    ``header`` is ``(sample_rate, frames, channels, dtype)``."""
    found = dict(zip(("sample_rate", "frames", "channels", "dtype"), header))
    lies = [f"{k} {v} (header: {found[k]})" for k, v in said.items() if found[k] != v]
    if lies:
        raise IntegrityError(f"its JSON says {', '.join(lies)}; the file header disagrees")


def info_from_json(json_obj: dict[str, Any], extension: str) -> Info | dict[str, Any]:
    """The clip's metadata from audio-file JSON when it has all of it, else the part it has
    (JSON written by the wandb client has none: the header is read on first use)."""
    try:
        rate, frames = json_obj["sample_rate"], json_obj["frames"]
        channels, dtype = json_obj["channels"], json_obj["dtype"]
    except KeyError:
        keys = ("sample_rate", "frames", "channels", "dtype")
        return {k: json_obj[k] for k in keys if k in json_obj}
    ndim = json_obj.get("ndim", 1 if channels == 1 else 2)
    if ndim == 1 and channels != 1:
        raise schemas.SchemaError("audio-file", "$.ndim", "ndim 1 needs channels 1")
    return Info(rate, frames, channels, ndim, dtype, extension)
