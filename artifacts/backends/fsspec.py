"""A store root on any fsspec filesystem (memory, S3, GCS, Azure, ...)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import IO, Any

import fsspec
import fsspec.implementations.memory

from ..spool import spool_dir
from ._common import (
    _GROUP_BYTES,
    _PACKS_IN_FLIGHT,
    _STREAMED,
    _STREAMS,
    digests_of,
    etag_matches,
    exists_many,
    groups,
    is_pack,
    is_small,
    mtime_of,
    read_each,
    too_large,
)
from .base import MISSING, Backend, as_bytes, members_match, put_content, size_of

__all__ = ["FsspecBackend"]

# memory:// lives in this process's dicts, which fsspec iterates to list, find and stat while
# other threads' writes change them ("dictionary changed size during iteration"), and checks
# then writes to create: its backends take one process-wide lock for every call that lists
# or changes the dicts (reentrant: bulk verbs call the primitives)
_MEMORY_LOCK = threading.RLock()
PART_BYTES = 16 << 20  # a large file goes up in parts of this size (S3's minimum is 5 MiB)
PARTS_IN_FLIGHT = 4  # this many at a time


class FsspecBackend(Backend):
    """A store root on any fsspec filesystem (memory, S3, GCS, ...)."""

    is_local = False
    lists_cheaply = True
    honours_create_if_absent = None  # depends on the server: the store probes

    def __init__(self, fs: fsspec.AbstractFileSystem, root: str, max_concurrency: int = 32):
        self.fs = fs
        self.root = root.rstrip("/")
        self.max_concurrency = max_concurrency
        in_process = isinstance(fs, fsspec.implementations.memory.MemoryFileSystem)
        self._guard = _MEMORY_LOCK if in_process else contextlib.nullcontext()

    def _full(self, path: str) -> str:
        return f"{self.root}/{path}" if self.root else path

    def read(self, path: str, limit: int | None = None) -> bytes:
        """The bytes of ``path``; more than ``limit`` of them raise :class:`IntegrityError`
        (only ``limit + 1`` bytes are fetched: one ranged GET)."""
        try:
            if limit is None:
                return self.fs.cat_file(self._full(path))
            try:
                data = self.fs.cat_file(self._full(path), start=0, end=limit + 1)
            except MISSING:
                raise
            except OSError:  # e.g. a range asked of an empty object
                if self.fs.size(self._full(path)) > limit:
                    raise too_large(self._full(path), limit) from None
                data = self.fs.cat_file(self._full(path))
        except MISSING as exc:
            raise FileNotFoundError(path) from exc
        if len(data) > limit:
            raise too_large(self._full(path), limit)
        return data

    def open(self, path: str) -> IO[bytes]:
        try:
            return self.fs.open(self._full(path), "rb")
        except MISSING as exc:
            raise FileNotFoundError(path) from exc

    def read_range(self, path: str, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (one ranged GET on object stores)."""
        try:
            if size == 0:
                with self._guard:
                    self.fs.info(self._full(path))  # the pack must still be there
                return b""
            return self.fs.cat_file(self._full(path), start=offset, end=offset + size)
        except MISSING as exc:
            raise FileNotFoundError(path) from exc
        except Exception:
            # a range past the end: S3 answers 416 (an OSError), Azure InvalidRange (its
            # own exception type); either way the contract is the bytes that are there
            try:
                with self._guard:
                    have = int(self.fs.size(self._full(path)))
            except MISSING as exc:
                raise FileNotFoundError(path) from exc
            if offset + size <= have:
                raise  # not a range problem
            if offset >= have:
                return b""
            return self.fs.cat_file(self._full(path), start=offset, end=have)

    def read_many(self, paths: list[str], limit: int | None = None) -> dict[str, bytes]:
        """The bytes of each of ``paths`` that exists (fetched concurrently on S3, GCS),
        at most ``limit`` each (a larger one raises :class:`IntegrityError`).

        (Not ``fs.cat(list)``: it expands ``[``, ``*`` and ``?`` in paths as globs.)
        """
        if not self.fs.async_impl:
            return read_each(self, paths, limit)
        from fsspec.asyn import sync

        async def one(p: str) -> tuple[str, bytes | None]:
            async with sem:
                try:
                    if limit is None:
                        return p, await self.fs._cat_file(  # noqa: SLF001 (fsspec async API)
                            self._full(p)
                        )
                    data = await self.fs._cat_file(  # noqa: SLF001 (fsspec async API)
                        self._full(p), start=0, end=limit + 1
                    )
                except MISSING:
                    return p, None
                if len(data) > limit:
                    raise too_large(self._full(p), limit)
                return p, data

        async def many() -> list[tuple[str, bytes | None]]:
            return await asyncio.gather(*(one(p) for p in paths))

        sem = asyncio.Semaphore(self.max_concurrency)
        return {p: data for p, data in sync(self.fs.loop, many) if data is not None}

    def touch(self, path: str) -> None:
        """Object stores keep no settable mtime: nothing to do."""

    def local_path(self, path: str) -> None:
        return None

    def write(self, path: str, data: bytes) -> None:
        with self._guard:
            self.fs.pipe_file(self._full(path), data)

    def put_file(self, path: str, local: str) -> None:
        """Upload a local file (multipart where the filesystem does it) with at most
        :data:`PART_BYTES` x :data:`PARTS_IN_FLIGHT` bytes of it in memory (s3fs's
        defaults, 10 parts of 50 MiB, took 1 GB for a 512 MiB file)."""
        with self._guard:
            self.fs.put_file(local, self._full(path), **self._part_options())

    def _part_options(self) -> dict[str, int]:
        """The part size and concurrency keywords this filesystem's put_file takes."""
        try:
            # (fsspec's async method: its sync wrapper shows no keywords)
            params = inspect.signature(getattr(self.fs, "_put_file", self.fs.put_file)).parameters
        except (AttributeError, TypeError, ValueError):
            return {}
        opts = {"chunksize": PART_BYTES, "max_concurrency": PARTS_IN_FLIGHT}
        return {k: v for k, v in opts.items() if k in params}

    def put_stream(self, path: str, stream: IO[bytes]) -> None:
        """Upload a stream: spooled to a local temp file first, so that a stream that fails
        part way (e.g. a digest check at EOF) uploads nothing."""
        with tempfile.NamedTemporaryFile(prefix="media-artifacts-", dir=spool_dir()) as tmp:
            shutil.copyfileobj(stream, tmp, 1 << 20)
            tmp.flush()
            self.put_file(path, tmp.name)

    def create(self, path: str, data: bytes) -> None:
        if self.fs.async_impl:  # S3, GCS...: the server checks (If-None-Match: *)
            self.fs.pipe_file(self._full(path), data, mode="create")
            return
        # memory:// checks, then writes, in Python: two threads could both "create" the
        # same file.  One create at a time per process makes it atomic between threads.
        with self._guard:
            self.fs.pipe_file(self._full(path), data, mode="create")

    def exists(self, path: str) -> bool:
        self.fs.invalidate_cache(self._full(path))  # never an answer from a cached listing
        with self._guard:
            return self.fs.exists(self._full(path))

    def size(self, path: str) -> int:
        self.fs.invalidate_cache(self._full(path))
        with self._guard:
            return int(self.fs.size(self._full(path)))

    def _holds(self, path: str, content: Any) -> bool:
        """Whether the blob at ``path`` holds exactly ``content``'s bytes (read and hashed)."""
        digests = digests_of(path)
        size = size_of(content)
        if digests is None or not isinstance(size, int):
            return False
        try:
            with self.open(path) as f:
                return members_match(f, [size], digests) and not f.read(1)
        except (FileNotFoundError, OSError):
            return False

    def listdir(self, path: str) -> list[str]:
        full = self._full(path)
        self.fs.invalidate_cache(full)
        try:
            with self._guard:
                names = self.fs.ls(full, detail=False)
        except MISSING:
            return []
        prefix = full.rstrip("/") + "/"
        out = []
        for n in names:
            n = n.rstrip("/")
            if n.startswith(prefix):
                n = n[len(prefix) :]
            else:
                n = n.rsplit("/", 1)[-1]
            if n and not n.startswith(".tmp-"):
                out.append(n)
        return sorted(set(out))

    def walk_files(self, path: str) -> Iterator[tuple[str, float]]:
        full = self._full(path)
        self.fs.invalidate_cache(full)
        try:
            with self._guard:
                found = self.fs.find(full, detail=True)
        except MISSING:
            return
        prefix = (self.root + "/") if self.root else ""
        for name, info in found.items():
            if info.get("type") == "directory":
                continue
            rel = name[len(prefix) :] if name.startswith(prefix) else name
            # a store at the filesystem's root: names come with its root marker ("/blobs")
            yield rel.lstrip("/"), mtime_of(info)

    def delete(self, path: str) -> None:
        try:
            with self._guard:
                self.fs.rm_file(self._full(path))
        except MISSING:
            pass

    def write_many(self, items: list[tuple[str, Any]], progress: Any = None) -> None:
        """Write many files, concurrently on async filesystems (S3, GCS)."""
        if not items:
            return
        full = [self._full(p) for p, _ in items]
        if self.fs.async_impl:
            # asking whether a small blob exists costs a request, as writing it does: small
            # in-memory blobs are written (same bytes, same content address), larger asked for
            # (packs are always written: one that is there but torn would be kept otherwise)
            # (asked of the server, never of s3fs's cached listing; kept only when the
            # server's MD5 ETag is that of these bytes: a damaged copy is written again)
            large = {f: c for (_, c), f in zip(items, full) if not is_small(c) and not is_pack(c)}
            found = exists_many(self.fs, list(large))
            present = {f for f, info in found.items() if etag_matches(info, large[f])}
        else:
            present = {
                f
                for (p, c), f in zip(items, full)
                if not is_pack(c) and self.exists(p) and self._holds(p, c)
            }
        todo = [(p, c) for (p, c), f in zip(items, full) if f not in present]
        if self.fs.async_impl:
            # files go concurrently in groups read into memory: at most a few packs, or
            # ``4 x max_concurrency`` files of at most ``_GROUP_BYTES`` in all; a file on
            # disk larger than ``_STREAMED`` is streamed (never read whole), a few at a time
            small: list[tuple[str, Any, float]] = []
            big, packs = [], []
            for p, c in todo:
                size = size_of(c)  # (once: a file that grows meanwhile is still written)
                if is_pack(c):
                    packs.append((p, c))
                elif isinstance(c, (bytes, bytearray)) or size <= _STREAMED:
                    small.append((p, c, size))  # (bytes in memory already: sent from there)
                else:
                    big.append((p, c))
            chunks = groups(small, max(1, self.max_concurrency) * 4, _GROUP_BYTES)
            n = _PACKS_IN_FLIGHT
            chunks += [packs[i : i + n] for i in range(0, len(packs), n)]
            for chunk in chunks:
                data = {self._full(p): as_bytes(c) for p, c in chunk}
                self.fs.pipe(data, batch_size=self.max_concurrency)
                if progress is not None:
                    progress(len(chunk))
            if big:
                with concurrent.futures.ThreadPoolExecutor(_STREAMS) as pool:
                    for _ in pool.map(lambda item: put_content(self, *item), big):
                        if progress is not None:
                            progress(1)
            if progress is not None:
                progress(len(items) - len(todo))
            return
        for path, content in todo:
            put_content(self, path, content)
            if progress is not None:
                progress(1)
        if progress is not None:
            progress(len(items) - len(todo))
