"""Where a draft keeps the bytes of its files when they would not fit in memory.

A draft holds the bytes of the values added to it (the WAV bytes of an ``Audio`` made
from an array, a table's JSON) until it is committed.  Once they pass
``Artifact.spill_at`` bytes, the draft moves them into its spool: one anonymous temporary
file, appended to and never rewritten, in ``$MEDIA_ARTIFACTS_SPOOL`` (default: the system's
temporary folder).  The file has no name on Linux (``O_TMPFILE``) and is removed when the
draft is dropped, so a crash leaves nothing behind.  At commit the spooled bytes are read
back, one file at a time, and checked against their digest on the way.
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import weakref
from typing import IO

__all__ = ["Spool", "SpooledBytes", "spool_dir"]

ENV = "MEDIA_ARTIFACTS_SPOOL"
_HAS_PREAD = hasattr(os, "pread") and hasattr(os, "pwrite")  # not on Windows


def spool_dir() -> str:
    """The folder spools are made in: ``$MEDIA_ARTIFACTS_SPOOL`` or the temporary folder."""
    return os.environ.get(ENV) or tempfile.gettempdir()


class Spool:
    """An append-only temporary file of byte strings; :meth:`put` returns where one went."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._end = 0
        self._lock = threading.Lock()

    def put(self, data: bytes | bytearray) -> SpooledBytes:
        """Append ``data``; raises ``OSError`` naming the folder when it cannot be written.

        A failed write leaves the spool as it was for every earlier ``put``."""
        with self._lock:
            folder = spool_dir()
            try:
                if self._file is None:
                    self._file = tempfile.TemporaryFile(prefix="media-artifacts-draft-", dir=folder)
                    weakref.finalize(self, self._file.close)  # closed (and gone) with the draft
                offset, view = self._end, memoryview(data)
                done = 0
                while done < len(view):
                    done += self._pwrite(view[done : done + (1 << 24)], offset + done)
            except OSError as exc:
                why = exc.strerror or str(exc)
                raise OSError(
                    exc.errno,
                    f"cannot keep the draft's bytes in the spool folder {folder!r} ({why}); "
                    f"free space there, set ${ENV} to another folder, raise "
                    "Artifact.spill_at, or commit the draft in parts",
                ) from exc
            self._end = offset + len(view)
            return SpooledBytes(self, offset, len(view))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return Spool, ()  # its bytes travel in the SpooledBytes that refer to them

    def _pwrite(self, data: memoryview, offset: int) -> int:
        assert self._file is not None
        if _HAS_PREAD:
            return os.pwrite(self._file.fileno(), data, offset)
        self._file.seek(offset)  # under self._lock (put holds it)
        return self._file.write(data)

    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes from ``offset`` (threads may read at once)."""
        assert self._file is not None
        if _HAS_PREAD:
            return os.pread(self._file.fileno(), size, offset)
        with self._lock:
            self._file.seek(offset)
            return self._file.read(size)


class SpooledBytes:
    """Bytes kept in a :class:`Spool`: call it to open them, :meth:`read` to get them.

    Pickles as the bytes themselves (a spool does not travel between processes)."""

    __slots__ = ("spool", "offset", "size")

    def __init__(self, spool: Spool, offset: int, size: int):
        self.spool, self.offset, self.size = spool, offset, size

    def __len__(self) -> int:
        return self.size

    def read(self) -> bytes:
        """The bytes (a short read means the spool file was cut: ``OSError``)."""
        data = self.spool.pread(self.size, self.offset)
        while len(data) < self.size:
            more = self.spool.pread(self.size - len(data), self.offset + len(data))
            if not more:
                raise OSError(f"the draft's spool file lost bytes ({len(data)} of {self.size})")
            data += more
        return data

    def __call__(self) -> IO[bytes]:
        """A stream of the bytes, read in pieces (a large file is never read whole)."""
        return io.BufferedReader(_Range(self), 1 << 20)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return bytes, (self.read(),)


class _Range(io.RawIOBase):
    """A read-only stream of one spooled file (no shared file position)."""

    def __init__(self, item: SpooledBytes):
        self._item, self._pos = item, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def,override]
        n = min(len(buffer), self._item.size - self._pos)
        if n <= 0:
            return 0
        data = self._item.spool.pread(n, self._item.offset + self._pos)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
