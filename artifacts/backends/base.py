"""The declared backend interface: a few primitives, bulk verbs derived from them, and
capability flags.

Every path is relative to the store's root and made of components already checked by the
caller.  Two primitives carry the commit protocol:

* ``write(path, data)`` replaces a file atomically: readers see the old or the new bytes,
  never a mix (local: temp file + ``os.replace``; object stores: one PUT).
* ``create(path, data)`` writes a file only if it does not exist, and raises
  ``FileExistsError`` otherwise (local: temp file + ``os.link``, atomic and never partial;
  fsspec: ``pipe_file(mode="create")``, which on S3 is a PUT with ``If-None-Match: *``).
  Whether a backend really honours it is probed by the store when
  :attr:`Backend.honours_create_if_absent` is ``None`` (some S3-compatible servers ignore
  the condition).

A new backend subclasses :class:`Backend`, implements the abstract primitives, and runs
:class:`artifacts.testing.BackendTests` (and ``StoreTests``) against itself.
"""

from __future__ import annotations

import abc
import hashlib
import os
from collections.abc import Callable, Iterator
from typing import IO, Any, ClassVar

__all__ = ["Backend", "Pack", "MISSING", "as_bytes", "put_content", "size_of", "members_match"]

#: exceptions that mean "there is no such file", across fsspec implementations
MISSING = (FileNotFoundError, KeyError)


class Pack:
    """The members of a pack to write, end to end: bytes, or openers of files that are
    read (and checked, by the stream the opener returns) one at a time while writing, so
    a pack of files never sits in memory whole."""

    def __init__(self, parts: list[Any], sizes: list[int], digests: list[str] | None = None):
        self.parts = parts
        self.sizes = sizes
        self.size = sum(sizes)
        self.digests = digests  # each member's sha256, to check a copy already stored

    def chunks(self) -> Iterator[bytes]:
        """The members' bytes, in order."""
        for part in self.parts:
            if isinstance(part, (bytes, bytearray)):
                yield part
            else:
                with part() as f:
                    yield f.read()


#: exceptions that mean "there is no such file", across fsspec implementations


class Backend(abc.ABC):
    """Byte storage under one root: the primitives a store needs.

    Content given to :meth:`write_many` is ``bytes``, a :class:`Pack`, a local file path
    (``str``) or an opener (a callable returning a binary stream, optionally with a
    ``size`` attribute).
    """

    #: the root is a folder on the local disk (``local_path`` gives real paths)
    is_local: ClassVar[bool] = False
    #: :meth:`map_range` maps files (no copy): a read of a range costs only the pages used,
    #: so readers may join far-apart ranges into one
    maps_files: ClassVar[bool] = False
    #: one listing of a folder of many files is cheaper than asking for each file
    #: (object stores: a request per 1000 names); ``False``: ask file by file
    lists_cheaply: ClassVar[bool] = True
    #: whether ``create`` surely refuses a second create of one file; ``None``: the store
    #: probes it once (it depends on the server behind the protocol)
    honours_create_if_absent: ClassVar[bool | None] = None

    root: str

    # -- primitives -----------------------------------------------------------------------
    @abc.abstractmethod
    def read(self, path: str, limit: int | None = None) -> bytes:
        """The whole file; ``FileNotFoundError`` when absent; more than ``limit`` bytes raise
        :class:`media.IntegrityError` (a record or manifest never takes more memory)."""

    @abc.abstractmethod
    def open(self, path: str) -> IO[bytes]:
        """A binary stream of the file; ``FileNotFoundError`` when absent."""

    @abc.abstractmethod
    def read_range(self, path: str, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (fewer when the file is shorter)."""

    def map_range(self, path: str, offset: int, size: int) -> memoryview | None:
        """Bytes ``offset`` to ``offset + size`` of ``path`` (fewer when the file is
        shorter) as a writable view of a private mapping of the file, made for this call
        alone (writes to it stay in this process and in this view), or ``None`` when the
        backend cannot map files (the default: the caller reads a copy instead)."""
        return None

    def read_into(self, path: str, offset: int, buffers: list[Any]) -> int:
        """Fill ``buffers`` (writable, in order) with the bytes from ``offset``; return how
        many were read (fewer when the file ends first).  Default: one :meth:`read_range`,
        copied; a local disk reads straight into them."""
        data = self.read_range(path, offset, sum(len(b) for b in buffers))
        view, pos = memoryview(data), 0
        for b in buffers:
            n = min(len(b), len(data) - pos)
            if n <= 0:
                break
            b[:n] = view[pos : pos + n]
            pos += n
        return len(data)

    @abc.abstractmethod
    def write(self, path: str, data: bytes) -> None:
        """Replace the file atomically (readers see old or new bytes, never a mix)."""

    @abc.abstractmethod
    def create(self, path: str, data: bytes) -> None:
        """Write the file only if absent; ``FileExistsError`` otherwise."""

    @abc.abstractmethod
    def exists(self, path: str) -> bool:
        """Whether the file exists."""

    @abc.abstractmethod
    def size(self, path: str) -> int:
        """The file's size in bytes."""

    @abc.abstractmethod
    def listdir(self, path: str) -> list[str]:
        """Sorted names in a folder (``[]`` when absent), temporary files left out."""

    @abc.abstractmethod
    def walk_files(self, path: str) -> Iterator[tuple[str, float]]:
        """``(relative path, mtime)`` of every file under ``path``, temp files included."""

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Remove the file (nothing happens when it is absent)."""

    # -- derived, overridable where a backend does better ---------------------------------
    def touch(self, path: str) -> None:
        """Refresh a file's mtime, so a reused file counts as young for ``gc`` (default:
        nothing, as on object stores, which keep no settable mtime)."""
        return None

    def local_path(self, path: str) -> str | None:
        """The file's path on the local disk, or ``None`` when it has none."""
        return None

    def put_file(self, path: str, local: str) -> None:
        """Upload a local file (whole or not at all)."""
        with open(local, "rb") as f:
            self.put_stream(path, f)

    def put_stream(self, path: str, stream: IO[bytes]) -> None:
        """Upload a stream (whole or not at all: it is read to its end first)."""
        self.write(path, stream.read())

    def read_many(self, paths: list[str], limit: int | None = None) -> dict[str, bytes]:
        """The bytes of each of ``paths`` that exists (at most ``limit`` each)."""
        out = {}
        for p in paths:
            try:
                out[p] = self.read(p, limit)
            except FileNotFoundError:
                continue
        return out

    def write_many(
        self, items: list[tuple[str, Any]], progress: Callable[[int], object] | None = None
    ) -> None:
        """Write content-addressed files ``(path, content)``; a whole file already there
        (of the right size when known) is kept."""
        for path, content in items:
            known = size_of(content)
            if self.exists(path) and (known == float("inf") or known == self.size(path)):
                self.touch(path)
            else:
                put_content(self, path, content)
            if progress is not None:
                progress(1)


def size_of(content: Any) -> float:
    """Bytes of a file to write (``inf`` when unknown: such a file is streamed)."""
    if isinstance(content, Pack):
        return content.size
    if isinstance(content, (bytes, bytearray)):
        return len(content)
    if isinstance(content, str):
        try:
            return os.path.getsize(content)
        except OSError:
            return float("inf")
    size = getattr(content, "size", None)
    return size if isinstance(size, int) else float("inf")


def as_bytes(content: Any) -> bytes:
    """The bytes of write_many content, read whole."""
    if isinstance(content, Pack):
        return b"".join(content.chunks())
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    if isinstance(content, str):
        with open(content, "rb") as f:
            return f.read()
    with content() as f:
        return f.read()


def put_content(backend: Backend, path: str, content: Any) -> None:
    """Write one write_many content with the backend's cheapest verb for its kind."""
    if isinstance(content, (bytes, bytearray, Pack)):
        backend.write(path, as_bytes(content))
    elif isinstance(content, str):
        backend.put_file(path, content)
    else:
        with content() as f:
            backend.put_stream(path, f)


def members_match(f: IO[bytes], sizes: list[int], digests: list[str]) -> bool:
    """Whether ``f`` holds, from where it is, members of these sizes and sha256s."""
    for size, digest in zip(sizes, digests):
        h = hashlib.sha256()
        left = size
        while left:
            chunk = f.read(min(left, 1 << 20))
            if not chunk:
                return False
            h.update(chunk)
            left -= len(chunk)
        if h.hexdigest() != digest:
            return False
    return True
