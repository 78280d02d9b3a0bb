"""Where a draft keeps the bytes of its files when they would not fit in memory.

A draft holds the bytes of the values added to it (the WAV bytes of an ``Audio`` made
from an array, a table's JSON) until it is committed.  Once they pass
``Artifact.spill_at`` bytes, the draft moves them into its spool: anonymous temporary
files, appended to and never rewritten, in ``$MEDIA_ARTIFACTS_SPOOL`` (default: the
system's temporary folder).  A spool file has no name on Linux (``O_TMPFILE``; elsewhere it
is unlinked as soon as it is made), so a crash leaves nothing behind, and it is closed
when the draft and every value read from it are dropped.  At commit the spooled bytes are
read back, one file at a time, and checked against their digest on the way.

Space is given back with the draft: bytes of values replaced, removed, or added by a
call that failed stay in the spool file until then.  A process forked from one that holds
a draft reads the spool it inherits and writes to a file of its own.  The same folder also
takes the temporary copy of a file streamed to an object store (so that a file that fails
its digest check part way uploads nothing).
"""

from __future__ import annotations

import io
import os
import tempfile
import threading
import weakref
from typing import IO, Any

__all__ = ["Spool", "SpooledBytes", "spool_dir"]

ENV = "MEDIA_ARTIFACTS_SPOOL"
_HAS_PREAD = hasattr(os, "pread") and hasattr(os, "pwrite")  # not on Windows


# spools and their files alive in this process: a forked child gets new locks (one held by
# another thread at the fork would never be released in the child)
_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()


def _new_locks_in_child() -> None:
    for obj in list(_LIVE):
        obj.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_locks_in_child)


def spool_dir() -> str:
    """The folder spools are made in: ``$MEDIA_ARTIFACTS_SPOOL`` or the temporary folder."""
    return os.environ.get(ENV) or tempfile.gettempdir()


class _File:
    """One spool file: appended to by one process, read by many threads (``pread``)."""

    def __init__(self, folder: str):
        self.folder = folder
        # unbuffered: a write that fails (disk full) fails in put, not at a later read
        self.file = tempfile.TemporaryFile(prefix="media-artifacts-draft-", dir=folder, buffering=0)
        self.end = 0
        self.pid = os.getpid()
        self.lock = threading.Lock()  # seek + read/write where there is no pread/pwrite
        _LIVE.add(self)

    def __del__(self) -> None:
        file = getattr(self, "file", None)
        if file is not None:
            file.close()

    def pwrite(self, data: memoryview, offset: int) -> int:
        if _HAS_PREAD:
            return os.pwrite(self.file.fileno(), data, offset)
        with self.lock:
            self.file.seek(offset)
            return self.file.write(data) or 0

    def pread(self, size: int, offset: int) -> bytes:
        if _HAS_PREAD:
            return os.pread(self.file.fileno(), size, offset)
        with self.lock:
            self.file.seek(offset)
            return self.file.read(size)


class Spool:
    """Append-only temporary storage for byte strings; :meth:`put` says where one went."""

    def __init__(self) -> None:
        self._file: _File | None = None
        self.lock = threading.Lock()
        _LIVE.add(self)

    def put(self, data: bytes | bytearray) -> SpooledBytes:
        """Append ``data``; raises ``OSError`` naming the folder when it cannot be written.

        A failed put changes nothing that an earlier put returned; the next put starts a
        new file in the folder ``$MEDIA_ARTIFACTS_SPOOL`` names then."""
        with self.lock:
            f = self._file
            folder = f.folder if f is not None else spool_dir()
            try:
                if f is None or f.pid != os.getpid():  # (a forked child writes its own file)
                    f = self._file = _File(folder)
                offset, view = f.end, memoryview(data).cast("B")
                done = 0
                while done < len(view):
                    done += f.pwrite(view[done : done + (1 << 24)], offset + done)
            except OSError as exc:
                self._file = None
                why = exc.strerror or str(exc)
                raise OSError(
                    exc.errno,
                    f"cannot keep the draft's bytes in the spool folder {folder!r} ({why}); "
                    f"free space there or set ${ENV} to another folder (the next try makes "
                    "a new spool file there), raise Artifact.spill_at, or commit the draft "
                    "in parts",
                ) from exc
            f.end = offset + len(view)
            return SpooledBytes(f, offset, len(view))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return Spool, ()  # its bytes travel in the SpooledBytes that refer to them


class SpooledBytes:
    """Bytes kept in a :class:`Spool`: call it to open them, :meth:`read` to get them.

    Pickles as the bytes themselves (a spool file does not travel between processes)."""

    __slots__ = ("_file", "offset", "size")

    def __init__(self, file: _File, offset: int, size: int):
        self._file, self.offset, self.size = file, offset, size

    def __len__(self) -> int:
        return self.size

    def read(self) -> bytes:
        """The bytes (a short read means the spool file was cut: ``OSError``)."""
        data = self._file.pread(self.size, self.offset)
        while len(data) < self.size:
            more = self._file.pread(self.size - len(data), self.offset + len(data))
            if not more:
                raise OSError(f"the draft's spool file lost bytes ({len(data)} of {self.size})")
            data += more
        return data

    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` of these bytes from ``offset`` (one read of the spool file)."""
        return self._file.pread(min(size, self.size - offset), self.offset + offset)

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
        data = self._item.pread(n, self._pos)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)
