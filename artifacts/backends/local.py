"""A store root on the local disk, driven with ``os`` calls (never through a link)."""

from __future__ import annotations

import mmap
import os
import shutil
import stat
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import IO, Any

from media.errors import IntegrityError

from ._common import (
    _GROUP,
    _IOV_MAX,
    digests_of,
    link_error,
    read_each,
    too_large,
    unlink,
    write_all,
)
from .base import Backend, Pack, members_match, put_content

__all__ = ["LocalBackend"]

_MAP_MIN = 16 << 10  # ranges of fewer bytes are copied, not mapped


class LocalBackend(Backend):
    """A store root on the local disk, driven with ``os`` calls."""

    is_local = True
    maps_files = True
    lists_cheaply = False  # a stat is cheaper than listing a fan-out folder of blobs
    honours_create_if_absent = True  # os.link refuses a taken name

    #: files kept open for ranged reads (packs read member by member, in any order)
    OPEN_KEPT = 16

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self._dirs: set[str] = set()
        self._kept: OrderedDict[str, _Kept] = OrderedDict()
        self._kept_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_kept"], state["_kept_lock"] = OrderedDict(), None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._kept_lock = threading.Lock()

    def _full(self, path: str) -> str:
        """The full path of ``path``, refusing a symbolic link at any of its components
        (a link could lead a read, write or delete outside the store)."""
        full = self.root
        for part in path.split("/"):
            full = os.path.join(full, part)
            try:
                st = os.lstat(full)
            except (FileNotFoundError, NotADirectoryError):
                break  # nothing below it exists
            if stat.S_ISLNK(st.st_mode):
                raise link_error(full)
        return os.path.join(self.root, path)

    def _ensure_dir(self, full: str) -> None:
        d = os.path.dirname(full)
        if d not in self._dirs or not os.path.isdir(d) or os.path.islink(d):
            os.makedirs(d, exist_ok=True)
            self._full(os.path.relpath(d, self.root))  # a link met on the way is refused
            self._dirs.add(d)

    def _tmp(self, full: str) -> str:
        return f"{os.path.dirname(full)}/.tmp-{uuid.uuid4().hex}"

    def read(self, path: str, limit: int | None = None) -> bytes:
        """The bytes of ``path``; more than ``limit`` of them raise :class:`IntegrityError`."""
        with self._open_regular(path) as f:
            if limit is None:
                return f.read()
            # (read(limit + 1) would allocate the whole limit, 256 MiB for a manifest, first)
            want = min(os.fstat(f.fileno()).st_size, limit) + 1
            data = f.read(want)
            if len(data) == want and want <= limit:  # grown since the fstat: read on, bounded
                data += f.read(limit + 1 - want)
        if len(data) > limit:
            raise too_large(self._full(path), limit)
        return data

    def open(self, path: str) -> IO[bytes]:
        """Open a regular file for reading: never through a link, never a FIFO or device
        (opened without blocking, so a FIFO cannot hang the caller)."""
        return self._open_regular(path)

    def _open_regular(self, path: str) -> IO[bytes]:
        full = self._full(path)
        try:
            fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            if os.path.islink(full):
                raise link_error(full) from None
            if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                raise FileNotFoundError(exc.errno, exc.strerror, full) from None
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise IntegrityError(
                f"{full} is not a regular file (a FIFO, device or folder where the store keeps "
                "a file): the store was altered; remove it"
            )
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def read_range(self, path: str, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (fewer when the file is shorter)."""
        f = self._open_kept(path)
        return bytes(_copy(f.fd, offset, _bounded(f.fd, offset, size)))

    def read_into(self, path: str, offset: int, buffers: list[Any]) -> int:
        """Fill ``buffers`` from ``offset`` with vectored reads (``preadv``): the bytes go
        from the page cache straight into them."""
        f = self._open_kept(path)  # (held while reading: it closes when nobody holds it)
        return _preadv(f.fd, buffers, offset)

    def map_range(self, path: str, offset: int, size: int) -> memoryview | None:
        """Bytes ``offset`` to ``offset + size`` of ``path`` as a view of a private
        (copy-on-write) mapping of them, made for this call: no copy, and no new memory
        until the caller writes to it (writes stay in the caller's pages, never reach the
        file or another view).  A file is never changed in place by this library (it writes
        a temporary file and renames it), so the view holds what was read; a program that
        truncates a mapped file in place could make a later access fault (SIGBUS), as with
        any memory-mapped format."""
        f = self._open_kept(path)
        n = _bounded(f.fd, offset, size)
        if n >= _MAP_MIN:  # (small or empty: a copy costs less than a mapping)
            start = offset - offset % mmap.ALLOCATIONGRANULARITY
            try:
                mapped = mmap.mmap(f.fd, offset + n - start, offset=start, access=mmap.ACCESS_COPY)
            except OSError:  # a file system that cannot map files: read a copy
                pass
            else:
                return memoryview(mapped)[offset - start :]
        return memoryview(_copy(f.fd, offset, n))

    def _open_kept(self, path: str) -> _Kept:
        """``path`` opened for ranged reads (with every check of :meth:`open`).

        The file stays open for the next ranged reads (the last :data:`OPEN_KEPT` files):
        a pack read member by member in a shuffled order costs one ``lstat`` per member,
        not an open.  The kept file is used only while the name still leads to it (same
        device and inode): a file replaced since (a torn or damaged pack mended by a rename,
        a link planted) is opened again, with the checks."""
        with self._kept_lock:
            f = self._kept.get(path)
        if f is not None:
            try:
                st = os.lstat(os.path.join(self.root, path))
                if (st.st_dev, st.st_ino) == f.ident:
                    return f
            except OSError:
                pass
        with self._open_regular(path) as opened:
            f = _Kept(os.dup(opened.fileno()))
        with self._kept_lock:
            self._kept[path] = f
            self._kept.move_to_end(path)
            while len(self._kept) > self.OPEN_KEPT:
                self._kept.popitem(last=False)  # (closed when no reader holds it)
        return f

    def read_many(self, paths: list[str], limit: int | None = None) -> dict[str, bytes]:
        """The bytes of each of ``paths`` that exists (at most ``limit`` each)."""
        return read_each(self, paths, limit)

    def touch(self, path: str) -> None:
        """Refresh a file's mtime (a reused file then counts as young for ``gc``)."""
        try:
            os.utime(self._full(path))
        except FileNotFoundError:
            pass

    def local_path(self, path: str) -> str:
        return self._full(path)

    def _replace(self, path: str, fill: Callable[[str], object]) -> None:
        """``fill`` a temporary file, then rename it to ``path`` (whole or absent)."""
        full = self._full(path)
        self._ensure_dir(full)
        tmp = self._tmp(full)
        try:
            fill(tmp)
            os.replace(tmp, full)
        except BaseException:
            unlink(tmp)
            raise

    def write(self, path: str, data: bytes) -> None:
        def fill(tmp: str) -> None:
            with open(tmp, "wb") as f:
                f.write(data)

        self._replace(path, fill)

    def put_file(self, path: str, local: str) -> None:
        self._replace(path, lambda tmp: shutil.copyfile(local, tmp))

    def put_stream(self, path: str, stream: IO[bytes]) -> None:
        def fill(tmp: str) -> None:
            with open(tmp, "wb") as f:
                shutil.copyfileobj(stream, f, 1 << 20)

        self._replace(path, fill)

    def create(self, path: str, data: bytes) -> None:
        full = self._full(path)
        self._ensure_dir(full)
        tmp = self._tmp(full)
        try:
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.link(tmp, full)  # atomic; FileExistsError when taken
        finally:
            unlink(tmp)

    def exists(self, path: str) -> bool:
        return os.path.lexists(self._full(path))

    def size(self, path: str) -> int:
        return os.lstat(self._full(path)).st_size

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self._full(path)) if not n.startswith(".tmp-"))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def walk_files(self, path: str) -> Iterator[tuple[str, float]]:
        """``(relative path, mtime)`` of every file under ``path``, temp files included.

        A link anywhere (the folder itself, a folder or a file below it) raises
        :class:`IntegrityError` before its entry is yielded: it is never followed.
        """
        base = self._full(path)
        if not os.path.isdir(base):
            return

        def refuse(exc: OSError) -> None:
            if not isinstance(exc, FileNotFoundError):
                raise exc

        for dirpath, dirs, files in os.walk(base, onerror=refuse):
            for name in dirs:
                if os.path.islink(os.path.join(dirpath, name)):
                    raise link_error(os.path.join(dirpath, name))
            for name in files:
                full = os.path.join(dirpath, name)
                try:
                    st = os.lstat(full)
                except FileNotFoundError:
                    continue
                if stat.S_ISLNK(st.st_mode):
                    raise link_error(full)
                yield os.path.relpath(full, self.root).replace(os.sep, "/"), st.st_mtime

    def delete(self, path: str) -> None:
        unlink(self._full(path))

    def write_blob(self, path: str, data: bytes | Pack) -> None:
        """Write a content-addressed file once.  A :class:`Pack` is written member by
        member, with ``writev``, without joining them.

        A file already there that holds exactly these bytes (its content is checked, not
        only its size) is kept, and its mtime refreshed so that a ``gc`` grace period counts
        from this commit.  Otherwise the bytes go to a temporary file of this writer's own,
        linked to the name if it is free (a whole file appears at once) or renamed over a
        torn or damaged file.  A write that fails removes only its own temporary file,
        never a file another writer may have placed and published meanwhile.
        """
        full = self._full(path)
        self._ensure_dir(full)
        pack = data if isinstance(data, Pack) else Pack([data], [len(data)], digests_of(path))
        if os.path.lexists(full) and self._holds(path, pack):
            os.utime(full)
            return
        tmp: str | None = self._tmp(full)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                group: list[bytes] = []
                filled = 0
                for chunk in pack.chunks():  # files are read one at a time, written in groups
                    group.append(chunk)
                    filled += len(chunk)
                    if filled >= _GROUP:
                        write_all(fd, group)
                        group, filled = [], 0
                write_all(fd, group)
            finally:
                os.close(fd)
            try:
                os.link(tmp, full)  # atomic, and never over another writer's file
            except FileExistsError:
                if self._holds(path, pack):
                    os.utime(full)
                else:  # torn or damaged: replaced whole
                    os.replace(tmp, full)
                    tmp = None
        finally:
            if tmp is not None:
                unlink(tmp)

    def _holds(self, path: str, pack: Pack) -> bool:
        """Whether ``path`` is a regular file holding exactly ``pack``'s bytes (each
        member's sha256 checked; without digests to check, never)."""
        if pack.digests is None:
            return False
        try:
            f = self._open_regular(path)
        except FileNotFoundError:
            return False
        with f:
            if os.fstat(f.fileno()).st_size != pack.size:
                return False
            return members_match(f, pack.sizes, pack.digests)

    def write_many(self, items: list[tuple[str, Any]], progress: Any = None) -> None:
        """Write ``(path, bytes | local file path | opener)`` blobs; existing ones are kept
        when their content is checked equal.

        One thread: creating small files waits on the file system's directory locks, and
        threads measured slower than a plain loop on a local disk.
        """
        for path, content in items:
            if isinstance(content, (bytes, bytearray, Pack)):
                self.write_blob(path, content)
            elif (
                self.exists(path)
                and isinstance(getattr(content, "size", None), int)
                and self._holds(path, Pack([], [content.size], digests_of(path)))
            ):
                os.utime(self._full(path))  # whole and right (a torn one is replaced)
            else:
                put_content(self, path, content)
            if progress is not None:
                progress(1)


def _bounded(fd: int, offset: int, size: int) -> int:
    """How many of ``size`` bytes from ``offset`` the file ``fd`` holds."""
    return max(0, min(offset + size, os.fstat(fd).st_size) - offset)


def _copy(fd: int, offset: int, n: int) -> bytearray:
    """A copy of ``n`` bytes from ``offset`` of ``fd`` (fewer if it ends first)."""
    buf = bytearray(n)
    del buf[_preadv(fd, [buf], offset) :]
    return buf


def _preadv(fd: int, buffers: list[Any], offset: int) -> int:
    """Fill ``buffers`` from ``offset`` of ``fd``; the number of bytes read (fewer at the
    end of the file)."""
    views = [memoryview(b).cast("B") for b in buffers if len(b)]
    got = i = 0
    while i < len(views):
        n = os.preadv(fd, views[i : i + _IOV_MAX], offset + got)
        if n == 0:
            break
        got += n
        while n and i < len(views):  # past the buffers this call filled
            if n >= len(views[i]):
                n -= len(views[i])
                i += 1
            else:
                views[i] = views[i][n:]
                n = 0
    return got


class _Kept:
    """A file descriptor kept open for ranged reads, closed when the last holder lets go
    (a reader in another thread may still be using one that was dropped from the list)."""

    __slots__ = ("fd", "ident")

    def __init__(self, fd: int):
        self.fd = fd
        st = os.fstat(fd)
        self.ident = (st.st_dev, st.st_ino)

    def __del__(self) -> None:
        os.close(self.fd)
