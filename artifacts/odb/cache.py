"""A local cache of a remote store's bytes: checked copies of blobs and pack members in a
folder outside the store, kept within a size budget, least recently used out.

Every hit is checked against its sha256 before it is used (a damaged or changed file is
removed and read again from the store); reads never write into the store.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading

from media.paths import atomic_write

__all__ = ["BlobCache"]

_HEX = re.compile(r"[0-9a-f]{64}")


class BlobCache:
    """Checked copies of content-addressed bytes under ``folder``, at most ``budget`` bytes.

    Files are named by their sha256; a hit refreshes the file's mtime, and a put that goes
    over the budget removes the least recently used files first.
    """

    def __init__(self, folder: str | os.PathLike[str], budget: int):
        if type(budget) is not int or budget < 0:
            raise ValueError(f"Invalid cache_size {budget!r}: give a number of bytes >= 0")
        self.folder = os.path.abspath(os.fspath(folder))
        self.budget = budget
        self._lock = threading.Lock()
        self._files: dict[str, tuple[float, int]] | None = None  # path -> (mtime, size)
        self._total = 0

    def _path(self, digest: str) -> str | None:
        return os.path.join(self.folder, digest[:2], digest) if _HEX.fullmatch(digest) else None

    def get(self, digest: str, size: int) -> bytearray | None:
        """The cached bytes of ``digest`` (checked), or ``None``."""
        path = self._path(digest)
        if path is None:
            return None
        buf = bytearray(size + 1)  # one byte more tells a longer file
        try:
            with open(path, "rb") as f:
                n = f.readinto(buf)
        except OSError:
            return None
        if n != size or hashlib.sha256(memoryview(buf)[:n]).hexdigest() != digest:
            self._forget(path)
            return None
        del buf[size:]
        try:
            os.utime(path)  # recently used
        except OSError:
            pass
        with self._lock:
            if self._files is not None and path in self._files:
                self._files[path] = (os.path.getmtime(path), size)
        return buf

    def put(self, digest: str, data: bytes | bytearray) -> None:
        """Keep a copy of ``data`` (already checked against ``digest``)."""
        path = self._path(digest)
        if path is None or len(data) > self.budget or os.path.exists(path):
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            atomic_write(path, lambda f: f.write(data))
        except OSError:
            return  # a full or read-only disk: the cache is only a cache
        with self._lock:
            files = self._scan()
            old = files.get(path)
            files[path] = (os.path.getmtime(path), len(data))
            self._total += len(data) - (old[1] if old else 0)
            if self._total > self.budget:
                for p in sorted(files, key=lambda q: files[q][0]):
                    if self._total <= self.budget:
                        break
                    self._remove(p)

    def _scan(self) -> dict[str, tuple[float, int]]:
        """Every cached file with its mtime and size (listed once per process)."""
        if self._files is None:
            self._files, self._total = {}, 0
            for top, _, names in os.walk(self.folder):
                for name in names:
                    p = os.path.join(top, name)
                    if not _HEX.fullmatch(name):
                        continue
                    try:
                        st = os.stat(p)
                    except OSError:
                        continue
                    self._files[p] = (st.st_mtime, st.st_size)
                    self._total += st.st_size
        return self._files

    def _remove(self, path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass
        if self._files is not None and path in self._files:
            self._total -= self._files.pop(path)[1]

    def _forget(self, path: str) -> None:
        with self._lock:
            self._remove(path)
