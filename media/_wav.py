"""A minimal RIFF/WAVE codec for the four lossless sample formats Audio writes.

Writing: int16 and int32 as PCM, float32 and float64 as IEEE float, little-endian,
interleaved, with a ``fact`` chunk for float data: the same layout libsndfile writes, readable
by soundfile, browsers and the wandb client.  Reading: a WAV file of one of those formats
is turned into an array with one ``numpy.frombuffer``; anything else returns ``None`` and the
caller falls back to soundfile.  This exists because it is several times faster than a
round trip through libsndfile for the short clips ML code logs by the thousand.  Windows:
:func:`layout` finds where the samples of such a file are from its chunk headers alone, so
that a window reads the header and its own bytes only.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

__all__ = ["encode", "decode", "data_overrun", "layout", "Layout", "MAX_DATA"]

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_FORMATS = {  # dtype -> (format tag, bits)
    "int16": (_PCM, 16),
    "int32": (_PCM, 32),
    "float32": (_FLOAT, 32),
    "float64": (_FLOAT, 64),
}
_DTYPES = {v: np.dtype(k).newbyteorder("<") for k, v in _FORMATS.items()}
_NAMES = {np.dtype(k): k for k in _FORMATS}  # dtype.name is slow; this lookup is not


def dtype_name(dtype: np.dtype) -> str:
    """``dtype.name``, quickly for the dtypes WAV files hold."""
    return _NAMES.get(dtype) or dtype.name


MAX_DATA = 0xFFFFFFFF - 64  # RIFF sizes are 32-bit


def encode(array: np.ndarray, sample_rate: int) -> bytes:
    """WAV bytes of a 1-D (mono) or 2-D (frames x channels) array of a supported dtype."""
    tag, bits = _FORMATS[_NAMES.get(array.dtype) or array.dtype.name]
    channels = 1 if array.ndim == 1 else array.shape[1]
    samples = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    # joined below with the header: one copy in all
    data = memoryview(samples).cast("B") if samples.size else b""
    block = channels * bits // 8
    byte_rate = min(sample_rate * block, 0xFFFFFFFF)  # informational; 32 bits in the header
    if tag == _PCM:
        fmt = struct.pack("<HHIIHH", tag, channels, sample_rate, byte_rate, block, bits)
        extra = b""
    else:
        fmt = struct.pack("<HHIIHHH", tag, channels, sample_rate, byte_rate, block, bits, 0)
        extra = b"fact" + struct.pack("<II", 4, array.shape[0])
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(data))
    return b"".join((b"RIFF", struct.pack("<I", len(body) + len(data)), body, data))


def data_overrun(data: bytes | memoryview, total: int | None = None) -> tuple[int, int] | None:
    """``(declared, present)`` bytes when a WAV's data chunk claims more bytes than follow it.

    ``data`` is the file, or its first bytes when ``total`` gives the file's size.  The
    placeholder sizes streaming writers use (0 and 0xFFFFFFFF) are not counted as lies.
    """
    mv = memoryview(data)
    end = len(mv) if total is None else total
    if len(mv) < 12 or mv[0:4] != b"RIFF" or mv[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(mv):
        cid = bytes(mv[pos : pos + 4])
        (size,) = struct.unpack_from("<I", mv, pos + 4)
        if cid == b"data":
            present = end - pos - 8
            return (size, present) if present < size < 0xFFFFFFFF else None
        pos += 8 + size + (size & 1)
    return None


# the headers :func:`encode` writes, read in one call: RIFF, WAVE, the fmt chunk (18 bytes
# with a fact chunk after it for float data, 16 for PCM) and the data chunk's header
_FLOAT_HEAD = struct.Struct("<4sI4s4sIHHIIHHH4sII4sI")
_PCM_HEAD = struct.Struct("<4sI4s4sIHHIIHH4sI")


def _known_head(mv: memoryview) -> tuple[tuple[int, ...], memoryview] | None:
    """The fmt fields and the data chunk's payload of a file laid out as :func:`encode`
    writes it (what the chunk walk of :func:`decode` finds there), else ``None``."""
    n = len(mv)
    if n >= 58:
        h = _FLOAT_HEAD.unpack_from(mv)
        if h[3] == b"fmt " and h[4] == 18 and h[12] == b"fact" and h[13] == 4:
            if h[0] == b"RIFF" and h[2] == b"WAVE" and h[15] == b"data" and h[5] != _EXTENSIBLE:
                size = h[16]
                return (h[5:11], mv[58 : 58 + size]) if 58 + size <= n else None
    if n >= 44:
        h = _PCM_HEAD.unpack_from(mv)
        if h[0] == b"RIFF" and h[2] == b"WAVE" and h[3] == b"fmt " and h[4] == 16:
            if h[11] == b"data" and h[5] != _EXTENSIBLE:
                size = h[12]
                return (h[5:11], mv[44 : 44 + size]) if 44 + size <= n else None
    return None


def decode(data: bytes | memoryview) -> tuple[np.ndarray, int] | None:
    """``(frames x channels array, sample_rate)`` of a simple WAV file, else ``None``."""
    mv = memoryview(data)
    known = _known_head(mv)
    if known is not None:
        fmt, payload = known
        return _samples_of(fmt, payload)
    if len(mv) < 12 or mv[0:4] != b"RIFF" or mv[8:12] != b"WAVE":
        return None
    pos, fmt, payload = 12, None, None
    while pos + 8 <= len(mv):
        cid = bytes(mv[pos : pos + 4])
        (size,) = struct.unpack_from("<I", mv, pos + 4)
        start = pos + 8
        if cid == b"fmt " and size >= 16 and start + min(size, 40) <= len(mv):  # not cut short
            fmt = struct.unpack_from("<HHIIHH", mv, start)
            if fmt[0] == _EXTENSIBLE and size >= 40:
                (sub,) = struct.unpack_from("<H", mv, start + 24)
                fmt = (sub,) + fmt[1:]
        elif cid == b"data":
            if start + size > len(mv):
                return None  # truncated: let soundfile report it
            payload = mv[start : start + size]
            break
        pos = start + size + (size & 1)
    if fmt is None or payload is None:
        return None
    return _samples_of(fmt, payload)


def _samples_of(fmt: tuple[int, ...], payload: memoryview) -> tuple[np.ndarray, int] | None:
    """The samples of a data chunk's ``payload`` in the format of the ``fmt`` fields."""
    tag, channels, rate, _, block, bits = fmt
    dtype = _DTYPES.get((tag, bits))
    if dtype is None or channels < 1 or block != channels * bits // 8 or rate < 1:
        return None
    if len(payload) % block:
        return None
    samples = np.frombuffer(payload, dtype=dtype).reshape(-1, channels)
    if not dtype.isnative:  # (a big-endian machine: the samples in its own byte order)
        samples = samples.astype(dtype.newbyteorder("="))
    return samples, rate


class Layout(NamedTuple):
    """Where the samples of a simple WAV file are: what a window needs to find its bytes."""

    data_offset: int  # first byte of the data chunk's payload
    data_size: int  # bytes the data chunk declares
    channels: int
    sample_rate: int
    block: int  # bytes per frame
    dtype: np.dtype  # little-endian sample dtype

    @property
    def frames(self) -> int:
        return self.data_size // self.block


HEAD = 4096  # bytes read at a time while walking the chunks before the data chunk
_MAX_CHUNKS = 4096  # a header of more chunks than this is left to soundfile


def layout(read: Callable[[int, int], bytes], size: int) -> Layout | None:
    """The :class:`Layout` of a simple WAV file (one of the four formats :func:`decode` reads).

    ``read(offset, length)`` returns bytes of the file, ``size`` is its length.  Only the
    chunk headers (and the ``fmt`` chunk) before the data chunk are read, :data:`HEAD` bytes
    at a time.  Returns ``None`` for anything else (not WAV, another sample format, a
    placeholder data size of a streaming writer): the caller then uses soundfile.
    """
    buf_start, buf = 0, read(0, min(HEAD, size))

    def get(pos: int, n: int) -> bytes | None:
        nonlocal buf_start, buf
        if pos + n > size:
            return None
        if not (buf_start <= pos and pos + n <= buf_start + len(buf)):
            buf_start, buf = pos, read(pos, min(max(HEAD, n), size - pos))
            if len(buf) < n:
                return None
        return buf[pos - buf_start : pos - buf_start + n]

    if len(buf) < 12 or buf[0:4] != b"RIFF" or buf[8:12] != b"WAVE":
        return None
    pos, fmt = 12, None
    for _ in range(_MAX_CHUNKS):
        head = get(pos, 8)
        if head is None:
            return None
        cid, (csize,) = head[:4], struct.unpack("<I", head[4:])
        if cid == b"fmt " and csize >= 16:
            body = get(pos + 8, min(csize, 40))
            if body is None:
                return None
            fmt = struct.unpack_from("<HHIIHH", body)
            if fmt[0] == _EXTENSIBLE and csize >= 40:
                fmt = struct.unpack_from("<H", body, 24) + fmt[1:]
        elif cid == b"data":
            if fmt is None or csize in (0, 0xFFFFFFFF):
                return None
            tag, channels, rate, _, block, bits = fmt
            dtype = _DTYPES.get((tag, bits))
            if dtype is None or channels < 1 or block != channels * bits // 8 or rate < 1:
                return None
            return Layout(pos + 8, csize, channels, rate, block, dtype)
        pos += 8 + csize + (csize & 1)
    return None
