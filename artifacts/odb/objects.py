"""Reading an entry's bytes, checked against its manifest entry, with one dispatch on the
entry's kind (:func:`artifacts.manifest.entry_kind`)."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Mapping
from typing import IO, Any

import fsspec

from media.errors import IntegrityError
from media.value import CHUNK

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

#: ``ref`` of a foreign entry -> (the committed version that holds it, its path there)
ForeignResolver = Callable[[Mapping[str, Any]], tuple[Any, str]]


class Objects:
    """The bytes of entries of one store (``backend`` at ``url``).

    ``foreign`` opens the version that holds another store's entry (the store facade
    knows how; the object database does not know names).
    """

    def __init__(self, backend: Backend, url: str, foreign: ForeignResolver):
        self.backend = backend
        self.url = url
        self._foreign = foreign
        self._verified: set[str] = set()
        # file digest -> (its verified chunk table, its verified first chunk or None); the
        # first chunk holds the header every window of the file reads again
        self._tables: dict[str, tuple[bytes, bytes | None]] = {}
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
        if "digest" not in e and mode != "random":  # (random: checked by streaming first)
            info = fs.info(p)
            tag = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("created")
            if str(tag).strip('"') != e["etag"]:
                raise IntegrityError(f"{name}: {e['uri']} changed since it was referenced")
        return fs.open(p, "rb")

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
        """A (large) entry for random access, after checking its bytes once by streaming."""
        key = f"{e.get('digest')}:{e['size']}:{e.get('uri')}"
        if key not in self._verified:
            with self.open(e, name) as f:
                while f.read(CHUNK):
                    pass
            self._verified.add(key)
        if self.kind(e) in ("inline", "packed"):
            return io.BytesIO(self.read(e, name))
        got = self._fetch(e, name, "random")
        return io.BytesIO(got) if isinstance(got, bytes) else got

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
            self._keep(e["digest"], (table, bytes(span[:cs])))
        return span[offset - at : end - at]

    def _table(self, e: Mapping[str, Any], name: str) -> tuple[bytes, bytes | None]:
        """The entry's chunk table (read and checked once per file), and its first chunk."""
        got = self._tables.get(e["digest"])
        if got is None:
            table = self.read(table_entry(e), f"{name} (its chunk table)")
            got = (table, None)
            self._keep(e["digest"], got)
        return got

    def _keep(self, digest: str, tables: tuple[bytes, bytes | None]) -> None:
        """Cache a file's verified table (and first chunk); readers may be threads."""
        with self._lock:
            while len(self._tables) >= TABLES_KEPT:
                self._tables.pop(next(iter(self._tables)))
            self._tables[digest] = tables

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
