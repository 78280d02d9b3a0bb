"""Where the bytes of a media value are: in memory, in a local file, or behind a
:class:`~media.value.MediaSource` (an artifact, a run folder), and the checks that go with
each."""

from __future__ import annotations

import hashlib
import io
import os
from typing import IO, Any, BinaryIO

from .buffers import OwnedBuffer
from .errors import IntegrityError
from .paths import join_inside

__all__ = [
    "CHUNK",
    "check_bytes",
    "check_range_args",
    "hash_stream",
    "FolderSource",
    "InMemory",
    "LocalFile",
    "SourceFile",
]

#: the size of the reads that stream a file (hashing, copying)
CHUNK = 1 << 20


def check_bytes(data: bytes, sha256: str | None, size: int | None, name: str) -> None:
    """Raise :class:`IntegrityError` naming ``name`` unless ``data`` has this size and digest."""
    if size is not None and len(data) != size:
        raise IntegrityError(f"{name}: size is {len(data)} bytes, expected {size}")
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise IntegrityError(f"{name}: sha256 of the stored bytes does not match {sha256}")


def hash_stream(f: BinaryIO) -> tuple[str, int]:
    """sha256 hex digest and size of a binary stream, read in 1 MiB chunks."""
    h = hashlib.sha256()
    n = 0
    while chunk := f.read(CHUNK):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


class InMemory:
    """Media bytes held in memory."""

    def __init__(self, data: bytes):
        self.data = data

    def open(self) -> IO[bytes]:
        return io.BytesIO(self.data)

    def local_path(self) -> None:
        return None


class LocalFile:
    """Media bytes in a local file."""

    def __init__(self, path: str, read_at: os.stat_result | None = None):
        self.path = path
        self.stamp = None if read_at is None else stamp(read_at)

    def check_unchanged(self, value: Any) -> None:
        """Refuse a file that changed after ``value`` read facts from it: the bytes hashed
        now would be stored with facts of other bytes (a clip unreadable once stored)."""
        if self.stamp is not None and stamp(os.stat(self.path)) != self.stamp:
            raise ValueError(
                f"{self.path!r} changed after {type(value).__name__}({self.path!r}) read it "
                f"(size or modification time differ); make the {type(value).__name__} again "
                "from the file as it is now"
            )

    def open(self) -> IO[bytes]:
        return open(self.path, "rb")

    def local_path(self) -> str:
        return self.path


def stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    """What changes when a file's bytes are rewritten: size, mtime, ctime and inode."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class SourceFile:
    """Media bytes behind a :class:`~media.value.MediaSource`, opened (and checked) on demand."""

    def __init__(self, source: Any, path: str, sha256: str, size: int | None):
        self.source = source
        self.path = path
        self.sha256 = sha256
        self.size = size

    def open(self) -> IO[bytes]:
        if self.source is None:
            raise FileNotFoundError(
                f"media file {self.path!r} has no source to read from: load the JSON with "
                "init_from_json(json_obj, source) where source opens its files "
                "(an artifact, or media.FolderSource(folder))"
            )
        return self.source.open_media(self.path, self.sha256, self.size)

    def read_all(self) -> bytes | bytearray | memoryview:
        """The file's checked bytes, the caller's own: through the source's ``read_media``
        when it has one, else read whole from :meth:`open` (taking the buffer of a stream
        that hands its own out, not a copy)."""
        read_media = getattr(self.source, "read_media", None)
        if read_media is not None:
            return read_media(self.path, self.sha256, self.size)
        with self.open() as f:
            return f.take() if isinstance(f, OwnedBuffer) else f.read()

    def local_path(self) -> str | None:
        return None


def check_range_args(offset: Any, length: Any) -> None:
    """Refuse a byte range that is not two ints ``>= 0`` (for ``read_media_range``)."""
    for name, value in (("offset", offset), ("length", length)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"Invalid {name} {value!r}: give an int >= 0 (bytes)")


class FolderSource:
    """A :class:`MediaSource` over a local folder (a run folder, files from another tool).

    Paths are checked with :func:`media.paths.join_inside`: they never leave ``root``.
    When a digest is expected, the file's sha256 is checked as it is read.
    """

    def __init__(self, root: str | os.PathLike[str]):
        self.root = os.fspath(root)

    def __repr__(self) -> str:
        return f"FolderSource({self.root!r})"

    def local_path(self, path: str) -> str:
        """The local file that holds ``path`` (for readers that want a file name)."""
        return join_inside(self.root, path, "media path")

    def open_media(
        self, path: str, sha256: str | None = None, size: int | None = None
    ) -> IO[bytes]:
        """Open ``path`` under the folder; see :class:`MediaSource`."""
        full = self.local_path(path)
        if sha256 is None and size is None:
            return open(full, "rb")
        with open(full, "rb") as f:
            data = f.read()
        check_bytes(data, sha256, size, path)
        return io.BytesIO(data)

    def read_media_range(
        self,
        path: str,
        offset: int,
        length: int,
        sha256: str | None = None,
        size: int | None = None,
    ) -> bytes:
        """Optional source protocol: bytes ``offset`` to ``offset + length`` of ``path``.

        Only those bytes are read.  A folder records nothing about its files beyond them, so
        the bytes are the file's own; what can be checked without reading the whole file is
        checked: the file's size against ``size`` (:class:`IntegrityError` when it differs).
        The whole file's ``sha256`` is checked by :meth:`open_media`.
        """
        check_range_args(offset, length)
        with open(self.local_path(path), "rb") as f:
            actual = os.fstat(f.fileno()).st_size
            if size is not None and actual != size:
                raise IntegrityError(f"{path}: size is {actual} bytes, expected {size}")
            f.seek(offset)
            return f.read(length)
