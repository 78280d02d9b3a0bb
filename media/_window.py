"""Windows of audio files: frames ``[start, stop)`` read with as few bytes as the format allows.

A file is reached through a *reader* (``size`` and ``read(offset, length)``) over bytes in
memory, a local file, or a :class:`media.MediaSource`.  A source with the optional method
``read_media_range`` returns checked ranges of its file, so a window reads only the bytes it
needs (a source file of up to :data:`WHOLE` bytes is read whole in one request); any other
source is read whole through ``open_media`` (whose whole-file check still runs), and the
window is cut from those bytes.

A simple WAV file (the four sample formats of :mod:`media._wav`) costs the chunk headers
before its samples plus one read of the window's bytes.  Every other format is decoded by
soundfile from a seekable file object over the reader, reading ahead :data:`READ_AHEAD`
bytes at a time: FLAC seeks with its seek table (or libFLAC's search) and OGG with
vorbisfile's sample-exact seeking; MP3 is decoded from its first frame to the window's end
in one read, because libsndfile's MP3 samples differ (by an ulp) after a seek or when read
in pieces, and a window must equal the same frames of the whole clip.  A dtype other than
the file's is converted by soundfile itself, so the samples are exactly those of
``soundfile.read(dtype=...)``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import soundfile as sf

from . import _wav
from .errors import IntegrityError
from .files import InMemory, LocalFile, SourceFile

__all__ = [
    "ALLOWED_DTYPES",
    "check_dtype",
    "check_range",
    "convert",
    "reader_for",
    "read",
    "read_whole",
]

ALLOWED_DTYPES = ("float32", "float64", "int16", "int32")
READ_AHEAD = 64 << 10  # what soundfile's small reads of a non-WAV file are rounded up to
WHOLE = 1 << 20  # a source file up to this size is read in one request
# formats whose samples depend on how they are read: libsndfile's MP3 decoder gives
# (slightly) other samples after a seek, or when a stretch is read in several calls, so a
# window is the first `stop` frames read in one call, as soundfile.read reads them
_DECODE_FROM_START = {"MP3"}
# soundfile subtype of a file -> the dtype that holds its samples exactly
SUBTYPE_DTYPE = {
    "FLOAT": "float32",
    "DOUBLE": "float64",
    "PCM_16": "int16",
    "PCM_S8": "int16",
    "PCM_U8": "int16",
    "PCM_24": "int32",
    "PCM_32": "int32",
}
# no codec stores more frames per byte (FLAC's best, a constant block, is about 6500)
FRAMES_PER_BYTE = 8192


def check_dtype(dtype: Any) -> str | None:
    """The name of one of :data:`ALLOWED_DTYPES` (``None`` stays ``None``), else ValueError."""
    if dtype is None:
        return None
    name = dtype if isinstance(dtype, str) else getattr(dtype, "name", None)
    if name is None and isinstance(dtype, type) and issubclass(dtype, np.generic):
        name = np.dtype(dtype).name  # np.float32 and friends
    if name not in ALLOWED_DTYPES:
        raise ValueError(
            f"Unknown dtype {dtype!r}: give one of {', '.join(map(repr, ALLOWED_DTYPES))}, or "
            "None for the dtype the clip is stored with"
        )
    return name


def check_range(start: Any, stop: Any, frames: int, what: str = "window") -> tuple[int, int]:
    """``(start, stop)`` with the defaults ``0`` and ``frames``, checked to be a range of frames."""
    values = []
    for name, value, default in (("start", start, 0), ("stop", stop, frames)):
        if value is None:
            value = default
        elif isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"Invalid {name} {value!r}: give a frame index (an int) or None")
        values.append(int(value))
    a, b = values
    if not 0 <= a <= b <= frames:
        raise ValueError(
            f"Invalid {what} [{a}, {b}): the clip has {frames} frames, so give "
            f"0 <= start <= stop <= {frames} (frame indices, not seconds)"
        )
    return a, b


def convert(samples: np.ndarray, dtype: str, sample_rate: int) -> np.ndarray:
    """Frames x channels ``samples`` as ``dtype``, exactly as ``soundfile.read(dtype=...)``
    reads them from the WAV file of their own dtype (which is how they are stored)."""
    if samples.shape[0] == 0:
        return np.zeros(samples.shape, dtype=dtype)
    data = _wav.encode(np.ascontiguousarray(samples), min(sample_rate, 0xFFFFFFFF))
    out, _ = sf.read(io.BytesIO(data), dtype=dtype, always_2d=True)
    return out


# -- readers ---------------------------------------------------------------------------------
class _MemoryReader:
    def __init__(self, data: bytes | memoryview):
        self.data = memoryview(data)
        self.size = len(self.data)

    def read(self, offset: int, length: int) -> bytes:
        return bytes(self.data[offset : offset + length])


class _FileReader:
    def __init__(self, path: str):
        self.path = path
        self.size = os.path.getsize(path)

    def read(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)


class _RangeReader:
    """Checked ranges from a source's ``read_media_range``."""

    def __init__(self, f: SourceFile, size: int):
        self.f = f
        self.size = size

    def read(self, offset: int, length: int) -> bytes:
        f = self.f
        return bytes(f.source.read_media_range(f.path, offset, length, f.sha256, f.size))


def reader_for(file: Any) -> Any:
    """A reader (``size``, ``read(offset, length)``) over a :class:`media.Media` file."""
    if isinstance(file, InMemory):
        return _MemoryReader(file.data)
    if isinstance(file, LocalFile):
        return _FileReader(file.path)
    assert isinstance(file, SourceFile)
    ranged = getattr(file.source, "read_media_range", None)
    if callable(ranged) and file.size is not None and file.size > WHOLE:
        return _RangeReader(file, file.size)
    with file.open() as stream:  # checked as a whole by the source
        return _MemoryReader(stream.read())


class _RangeFile(io.RawIOBase):
    """A seekable file over a reader, for soundfile; reads ahead :data:`READ_AHEAD` bytes.

    soundfile calls it from C callbacks, where an exception cannot pass: the first one is
    kept in ``error`` (the read returns nothing) for the caller to raise.
    """

    def __init__(self, reader: Any):
        self.reader = reader
        self.pos = 0
        self.buf_start, self.buf = 0, b""
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.reader.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, b: Any) -> int:
        n = min(len(b), self.reader.size - self.pos)
        if n <= 0 or self.error is not None:
            return 0
        at = self.pos - self.buf_start
        if not (0 <= at and at + n <= len(self.buf)):
            try:
                want = min(max(n, READ_AHEAD), self.reader.size - self.pos)
                self.buf_start, self.buf = self.pos, self.reader.read(self.pos, want)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, see above
                self.error = exc
                return 0
            at = 0
            n = min(n, len(self.buf))
        b[:n] = self.buf[at : at + n]
        self.pos += n
        return n


# -- windows ---------------------------------------------------------------------------------
def _check_native(name: str, native: str, stored: str | None) -> None:
    """Refuse a file whose samples are not of the dtype its JSON says (soundfile would
    convert them silently, and the caller would get samples that were never stored)."""
    if stored is not None and native != stored:
        raise IntegrityError(
            f"{name}: the file holds {native} samples, but its JSON says dtype {stored} "
            "(the samples would be converted, not the stored ones)"
        )


def read_whole(
    file: Any,
    dtype: str,
    said: tuple[Any, ...],
    describe: Callable[[], str],
    stored: str | None = None,
) -> np.ndarray:
    """Every frame of a :class:`media.Media` file as a frames x channels array of ``dtype``.

    A stored file is read whole through its source (which checks it); ``said`` is what the
    JSON says of it, ``(sample_rate, channels, frames)``, checked against the header, and
    ``stored`` the dtype it says the file holds.  ``describe()`` names the file in errors
    (called only then: a good read builds no message).
    """
    if isinstance(file, LocalFile):
        try:
            samples, rate = sf.read(file.path, dtype=dtype, always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:  # changed since it was opened
            raise IntegrityError(f"{file.path}: no longer readable audio ({exc})") from None
    else:
        # (a source's own buffer: the samples are built on it, not on a copy)
        data = file.data if isinstance(file, InMemory) else file.read_all()
        decoded = _wav.decode(data)
        native = _wav.dtype_name(decoded[0].dtype) if decoded is not None else None
        if native is not None and stored is not None and native != stored:
            _check_native(describe(), native, stored)
        if decoded is not None and native == dtype:
            samples, rate = decoded
        elif decoded is not None:
            samples, rate = convert(decoded[0], dtype, decoded[1]), decoded[1]
        elif (overrun := _wav.data_overrun(data)) is not None:
            raise IntegrityError(
                f"{describe()}: the WAV data chunk says {overrun[0]} bytes but only {overrun[1]} "
                "follow it (the file is truncated or its header lies)"
            )
        else:
            try:
                info = sf.info(io.BytesIO(data))
                _check_native(describe(), SUBTYPE_DTYPE.get(info.subtype, "float32"), stored)
                if info.frames > FRAMES_PER_BYTE * max(len(data), 1):
                    raise IntegrityError(  # soundfile would allocate them all first
                        f"{describe()}: the file header says {info.frames} frames, more than "
                        f"{len(data)} bytes can hold (the header is damaged)"
                    )
                samples, rate = sf.read(io.BytesIO(data), dtype=dtype, always_2d=True)
            except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
                raise IntegrityError(
                    f"{describe()}: the stored bytes are not readable audio ({exc})"
                ) from None
    has = (rate, samples.shape[1], samples.shape[0])
    if has != said:  # (said's frames may be None: then the full check decides)
        _check_header(describe(), has, said, 0)
    return samples


def read(
    reader: Any,
    start: int,
    stop: int,
    dtype: str,
    said: tuple[Any, ...],
    name: str,
    stored: str | None = None,
) -> np.ndarray:
    """Frames ``[start, stop)`` of the file behind ``reader`` as a frames x channels array.

    ``said`` is what the clip's JSON says of the file, ``(sample_rate, channels, frames)``
    (frames ``None``: only that it has at least ``stop``); a header that disagrees, or a
    file that ends early, raises :class:`IntegrityError` naming ``name``.
    """
    lay = _wav.layout(reader.read, reader.size)
    if lay is not None:
        present = reader.size - lay.data_offset
        if lay.data_size > present:
            raise IntegrityError(
                f"{name}: the WAV data chunk says {lay.data_size} bytes but only {present} "
                "follow it (the file is truncated or its header lies)"
            )
        _check_header(name, (lay.sample_rate, lay.channels, lay.frames), said, stop)
        _check_native(name, lay.dtype.newbyteorder("=").name, stored)
        length = (stop - start) * lay.block
        raw = reader.read(lay.data_offset + start * lay.block, length)
        if len(raw) != length:
            raise IntegrityError(f"{name}: {len(raw)} bytes read where {length} were expected")
        samples = np.frombuffer(raw, dtype=lay.dtype).reshape(-1, lay.channels)
        if lay.dtype.name == dtype or lay.dtype.newbyteorder("=").name == dtype:
            return samples.astype(lay.dtype.newbyteorder("="), copy=True)
        return convert(samples, dtype, lay.sample_rate)
    f = _RangeFile(reader)
    try:
        with sf.SoundFile(f) as snd:
            has = (snd.samplerate, snd.channels, None)
            _check_header(name, has, said, stop)
            _check_native(name, SUBTYPE_DTYPE.get(snd.subtype, "float32"), stored)
            if snd.format in _DECODE_FROM_START:
                snd.seek(0)  # as soundfile.read does: the decoder's output depends on it
                out = snd.read(stop, dtype=dtype, always_2d=True)[start:]
            else:
                if start:
                    snd.seek(start)
                out = snd.read(stop - start, dtype=dtype, always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        if f.error is not None:
            raise f.error from None
        raise IntegrityError(f"{name}: the stored bytes are not readable audio ({exc})") from None
    if f.error is not None:
        raise f.error
    if out.shape[0] != stop - start:
        raise IntegrityError(
            f"{name}: the file ends at frame {start + out.shape[0]}, before frame {stop} that "
            "its JSON promises"
        )
    return out


def _check_header(name: str, has: tuple[Any, ...], said: tuple[Any, ...], need: int) -> None:
    """Refuse a header whose (rate, channels, frames or None) disagrees with the JSON's;
    with no frames in the JSON the file needs at least ``need``."""
    frames, want = has[2], said[2]
    ok = frames is None or (frames == want if want is not None else frames >= need)
    if has[:2] != said[:2] or not ok:
        header = f"{has[0]} Hz, {has[1]} channel(s)"
        header += f", {frames} frames" if frames is not None else ""
        json = f"{said[0]} Hz, {said[1]} channel(s), " + (
            f"{want} frames" if want is not None else f"at least {need} frames"
        )
        raise IntegrityError(f"{name}: the file header says {header}, but its JSON says {json}")
