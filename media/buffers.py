"""A stream over bytes already read and checked that hands its buffer to the one reader
that takes it whole, so that samples are built from those bytes without another copy."""

from __future__ import annotations

import io
from typing import Any

__all__ = ["OwnedBuffer", "stream_of"]


class OwnedBuffer(io.RawIOBase):
    """A read-only, seekable stream over ``buf``, a writable buffer no one else holds (a
    ``bytearray``, or a view of a private mapping of a file made for this read).

    :meth:`take` gives the buffer itself to the caller, who may then change it (an array
    made on it is writable and the caller's own); the stream is closed then, so nothing
    can read the changed bytes through it.  Other reads copy, as ``io.BytesIO`` does.
    """

    def __init__(self, buf: bytearray | memoryview):
        super().__init__()
        self._buf: bytearray | memoryview | None = buf
        self._pos = 0

    def _data(self) -> bytearray | memoryview:
        if self._buf is None:
            raise ValueError("I/O operation on a closed or taken buffer")
        return self._buf

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._data()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._data())}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, b: Any) -> int:
        data = self._data()
        n = max(0, min(len(b), len(data) - self._pos))
        b[:n] = memoryview(data)[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        data = self._data()
        end = len(data) if size is None or size < 0 else min(len(data), self._pos + size)
        out = bytes(memoryview(data)[self._pos : max(end, self._pos)])
        self._pos = max(end, self._pos)
        return out

    def readall(self) -> bytes:
        return self.read()

    def getvalue(self) -> bytes:
        """A copy of every byte (as ``io.BytesIO.getvalue``)."""
        return bytes(self._data())

    def take(self) -> bytearray | memoryview:
        """The whole buffer, now the caller's; the stream is closed."""
        data = self._data()
        self._buf = None
        self.close()
        return data

    def close(self) -> None:
        self._buf = None
        super().close()


def stream_of(data: bytes | bytearray | memoryview) -> io.RawIOBase | io.BytesIO:
    """A stream over checked bytes: an :class:`OwnedBuffer` when they are a writable buffer
    no one else holds (the samples are built on it, not on a copy), else a ``BytesIO``."""
    return OwnedBuffer(data) if isinstance(data, (bytearray, memoryview)) else io.BytesIO(data)
