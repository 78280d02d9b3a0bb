"""Reading an entry's bytes, checked against its manifest entry, with one dispatch on the
entry's kind (:func:`artifacts.manifest.entry_kind`)."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

import fsspec

from media.errors import IntegrityError
from media.files import CHUNK

from ..backends.base import Backend
from ..config import unreachable
from ..manifest import entry_kind
from ..urlcheck import plain_options, write_risk
from .chunks import BLAKE3_KEY, check_file, check_span, table_entry
from .layout import blob_path, pack_path
from .readers import CheckedReader

__all__ = ["Objects"]

#: chunk tables kept per store object (with each file's first chunk): about 30 MB when
#: all are of 1-hour recordings (112 KB + 32 KiB each)
TABLES_KEPT = 256

#: large files remembered as checked per store object (with the state they were in)
VERIFIED_KEPT = 4096
#: a local file changed less than this before its check (ns) is not remembered as
#: checked: file systems keep times in ticks (ext4: a few ms; ext3, FAT, some NFS: 1-2 s)
RACY = 2_000_000_000

#: ``ref`` of a foreign entry -> (the committed version that holds it, its path there)
ForeignResolver = Callable[[Mapping[str, Any]], tuple[Any, str]]


def file_state(f: IO[bytes]) -> tuple[Any, ...] | None:
    """What tells the state of open file ``f`` from any other, or ``None`` when nothing
    does.  A local file: its device, inode, size and modification and change times
    (``fstat`` of the open file; a user can set the modification time back, never the
    change time).  An S3 object opened by s3fs: its ETag, to which s3fs binds every read
    of the handle (``If-Match``: a changed object fails the read).  Anything else (Azure,
    whose reads adlfs does not bind to the ETag; memory; a stream) has no state: each
    open of it is checked whole."""
    try:
        fd = f.fileno()
    except (AttributeError, OSError, ValueError):  # (io.UnsupportedOperation is both)
        fd = None
    if isinstance(fd, int) and fd >= 0:
        st = os.fstat(fd)
        return ("stat", st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    details = getattr(f, "details", None)
    if type(f).__module__.partition(".")[0] == "s3fs" and isinstance(details, dict):
        pinned = "IfMatch" in (getattr(f, "read_kw", None) or {}) or getattr(
            getattr(f, "fs", None), "local_expiry_check", False
        )
        if pinned and details.get("ETag"):
            return ("etag", details["ETag"], details.get("size"))
    return None


def settled(state: tuple[Any, ...], started: int) -> bool:
    """Whether a file in ``state`` may be remembered as checked by a check that started at
    ``started`` (``time.time_ns()``): a local file changed within :data:`RACY` before it
    might change again within the same tick of its file system's clock, and its times would
    not tell (so it is checked again on its next open, until it is older)."""
    return state[0] != "stat" or state[-1] < started - RACY


class Objects:
    """The bytes of entries of one store (``backend`` at ``url``).

    ``foreign`` opens the version that holds another store's entry (the store facade
    knows how; the object database does not know names).
    """

    def __init__(self, backend: Backend, url: str, foreign: ForeignResolver):
        self.backend = backend
        self.url = url
        self._foreign = foreign
        # a large entry (everything its manifest says) -> the state of its file when it
        # was checked whole (see :meth:`open_verified`)
        self._verified: dict[str, tuple[Any, ...]] = {}
        # what an entry's table and first chunk were read from and checked against (see
        # :meth:`_table_key`) -> (its verified chunk table, its verified first chunk or
        # None); the first chunk holds the header every window of the file reads again
        self._tables: dict[tuple[Any, ...], tuple[bytes, bytes | None]] = {}
        self._lock = threading.Lock()

    def kind(self, e: Mapping[str, Any]) -> str:
        """The entry's kind as seen from this store (a reference to this very store's
        entry is its own blob or pack member)."""
        kind = entry_kind(e)
        if kind == "foreign" and e["ref"]["store"] == self.url:
            return "packed" if "pack" in e else "blob"
        return kind

    def _fetch(self, e: Mapping[str, Any], name: str, mode: str) -> bytes | IO[bytes]:
        """The entry's bytes (``mode="bytes"``: may also give a stream), a stream
        (``"stream"``) or a seekable file (``"random"``), unchecked: the one dispatch."""
        kind = self.kind(e)
        if kind == "inline":
            return e["inline"].encode("utf-8")
        if kind == "packed":
            return self._read_member(e, name)
        if kind == "blob":
            try:
                if mode == "bytes":
                    with self.backend.open(blob_path(e["digest"])) as f:
                        return f.read(e["size"] + 1)  # bounded: one byte more tells a longer blob
                return self.backend.open(blob_path(e["digest"]))
            except FileNotFoundError:
                raise IntegrityError(f"{name}: its blob {e['digest'][:16]}... is missing") from None
        if kind == "reference":
            try:
                return self._open_uri(e, name, mode)
            except Exception as exc:  # the cloud library's words: which location is needed
                found = unreachable(exc, e["uri"])
                if found is not None:
                    raise found from exc
                raise
        # foreign: another store's entry, read (and checked) by that store
        risk = write_risk(e["ref"]["store"])
        if risk:  # (the store URL is outside the manifest's digest)
            raise IntegrityError(
                f"{name}: refusing its reference to the store {e['ref']['store']!r}: {risk}, "
                "and a read never writes; the manifest was altered, or the reference was made "
                "with a caching URL: commit the entry again from the store's own URL"
            )
        try:
            version, path = self._foreign(e["ref"])
        except Exception as exc:  # the cloud library's words: say which store is needed
            found = unreachable(exc, e["ref"]["store"])
            if found is not None:
                raise found from exc
            raise
        if mode == "random":
            return version.open_media(path)
        return version.open_entry(path)

    def _open_uri(self, e: Mapping[str, Any], name: str, mode: str) -> IO[bytes]:
        """A referenced file, opened with the storage options its entry records."""
        # (uri and options are outside the manifest's digest: anyone who can write the
        # store could have put a caching layer there)
        risk = write_risk(e["uri"], e.get("options"))
        if risk:
            raise IntegrityError(
                f"{name}: refusing to open its uri {e['uri']!r}: {risk}, and a read never "
                "writes; the manifest was altered, or the reference was added before such "
                "URLs were refused: add the file again with add_reference of its own URL"
            )
        fs, p = fsspec.core.url_to_fs(e["uri"], **plain_options(e.get("options")))
        if "digest" not in e:
            info = fs.info(p)
            tag = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("created")
            if str(tag).strip('"') != e["etag"]:
                raise IntegrityError(f"{name}: {e['uri']} changed since it was referenced")
        f = fs.open(p, "rb")
        return _HoldsFs(f, fs) if "::" in e["uri"] else f

    def read(self, e: Mapping[str, Any], name: str) -> bytes:
        """The entry's bytes, checked against its digest and size (``name`` in errors)."""
        got = self._fetch(e, name, "bytes")
        if isinstance(got, bytes):
            check_file(got, e, name)
            return got
        with CheckedReader(got, e.get("digest"), e["size"], name, e.get(BLAKE3_KEY)) as f:
            return f.read()

    def open(self, e: Mapping[str, Any], name: str) -> IO[bytes]:
        """The entry as a stream that raises IntegrityError at EOF on a mismatch."""
        got = self._fetch(e, name, "stream")
        raw = io.BytesIO(got) if isinstance(got, bytes) else got
        return CheckedReader(raw, e.get("digest"), e["size"], name, e.get(BLAKE3_KEY))

    def open_verified(self, e: Mapping[str, Any], name: str) -> IO[bytes]:
        """A (large) entry for random access, checked against its manifest entry first.

        The file is checked by streaming the very handle returned (then rewound).  A file
        checked before through this object is not checked again while it is in the state
        it was checked in, as far as :func:`file_state` can tell: any change of it (and a
        file it cannot tell about at all) means a full check again."""
        kind = self.kind(e)
        if kind in ("inline", "packed"):
            return io.BytesIO(self.read(e, name))  # (checked on every read)
        got = self._fetch(e, name, "random")
        f: IO[bytes] = io.BytesIO(got) if isinstance(got, bytes) else got
        key = json.dumps(e, sort_keys=True, default=str)  # what it was checked against
        state = file_state(f)
        if state is not None and self._verified.get(key) == state:
            return f
        started = time.time_ns()
        try:
            with CheckedReader(f, e.get("digest"), e["size"], name, e.get(BLAKE3_KEY), False) as c:
                while c.read(CHUNK):
                    pass
            after = file_state(f)
            if after != state:
                raise IntegrityError(
                    f"{name}: its file changed while it was being checked (something "
                    "writes to it; a store never changes its files): read it again when "
                    "that writer is done, and run verify()"
                )
            f.seek(0)
        except BaseException:
            f.close()
            raise
        if state is not None and settled(state, started):
            with self._lock:
                while len(self._verified) >= VERIFIED_KEPT:
                    self._verified.pop(next(iter(self._verified)))
                self._verified[key] = state
        return f

    def ranged(self, e: Mapping[str, Any]) -> bool:
        """Whether a range of entry ``e`` can be read and checked by its chunks alone."""
        return "chunks" in e and self.kind(e) in ("blob", "packed")

    def read_range(self, e: Mapping[str, Any], name: str, offset: int, length: int) -> bytes:
        """Bytes ``offset`` to ``offset + length`` of a :meth:`ranged` entry (fewer where it
        ends first): only the chunks that cover them are read (one ranged read), each
        checked against the chunk table recorded at commit."""
        size = e["size"]
        end = min(size, offset + length)
        if offset >= end:
            return b""
        table, head = self._table(e, name)
        cs = e["chunks"]["size"]
        first, last = offset // cs, -(-end // cs)
        if last == 1 and head is not None:
            return head[offset:end]
        at = first * cs
        span = self._read_span(e, name, at, min(size, last * cs) - at)
        check_span(span, first, table, cs, size, name)
        if first == 0:
            self._keep(self._table_key(e), (table, bytes(span[:cs])))
        return span[offset - at : end - at]

    def _table_key(self, e: Mapping[str, Any]) -> tuple[Any, ...]:
        """Everything a ranged entry's cached table and first chunk were read from and
        checked against: the file's digests and size, the table's address and chunk size,
        and where the file's bytes are (its blob, or its pack and offset).  Two versions
        may describe one sha256 differently (a forged one, say, with its own table and
        pack); keyed by all of it, one is never answered from what the other read."""
        ch = e["chunks"]
        where = ("packed", e["pack"], e["offset"]) if self.kind(e) == "packed" else ("blob",)
        return (
            e["digest"],
            e["size"],
            e.get(BLAKE3_KEY),
            ch.get("algorithm"),
            ch["size"],
            ch["table"],
            *where,
        )

    def _table(self, e: Mapping[str, Any], name: str) -> tuple[bytes, bytes | None]:
        """The entry's chunk table (read and checked once per file), and its first chunk."""
        key = self._table_key(e)
        got = self._tables.get(key)
        if got is None:
            table = self.read(table_entry(e), f"{name} (its chunk table)")
            got = (table, None)
            self._keep(key, got)
        return got

    def _keep(self, key: tuple[Any, ...], tables: tuple[bytes, bytes | None]) -> None:
        """Cache a file's verified table (and first chunk); readers may be threads."""
        with self._lock:
            while len(self._tables) >= TABLES_KEPT:
                self._tables.pop(next(iter(self._tables)))
            self._tables[key] = tables

    def _read_span(self, e: Mapping[str, Any], name: str, at: int, n: int) -> bytes:
        """Bytes ``at`` to ``at + n`` of a blob or pack member, unchecked (one ranged read)."""
        if self.kind(e) == "packed":
            path, base, what = pack_path(e["pack"]), e["offset"], "pack"
        else:
            path, base, what = blob_path(e["digest"]), 0, "blob"
        try:
            return self.backend.read_range(path, base + at, n)
        except FileNotFoundError:
            raise IntegrityError(f"{name}: its {what} is missing") from None
        except OSError as exc:  # e.g. S3's 416: past the object's end
            raise IntegrityError(
                f"{name}: bytes {at}..{at + n} cannot be read from its {what} ({exc}); the "
                f"{what} is shorter or damaged"
            ) from None

    def _read_member(self, e: Mapping[str, Any], name: str) -> bytes:
        """The bytes of a pack member (checked by the caller)."""
        try:
            return self.backend.read_range(pack_path(e["pack"]), e["offset"], e["size"])
        except FileNotFoundError:
            raise IntegrityError(f"{name}: its pack {e['pack'][:16]}... is missing") from None
        except OSError as exc:  # e.g. S3's 416: the range is past the pack's end
            raise IntegrityError(
                f"{name}: bytes {e['offset']}..{e['offset'] + e['size']} of its pack "
                f"{e['pack'][:16]}... cannot be read ({exc}); the pack is shorter or damaged"
            ) from None


class _HoldsFs:
    """A file of a chained URL (``zip://member::file://archive.zip``) that holds its
    filesystem while it is open: the outer filesystem closes the archive when it is
    collected, and nothing else refers to it once the file is handed out."""

    def __init__(self, f: Any, fs: Any):
        self._f, self._fs = f, fs

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __iter__(self) -> Any:
        return iter(self._f)

    def __enter__(self) -> _HoldsFs:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._f.close()
