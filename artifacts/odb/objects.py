"""Reading an entry's bytes, checked against its manifest entry, with one dispatch on the
entry's kind (:func:`artifacts.manifest.entry_kind`)."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import IO, Any

import fsspec

from media.errors import IntegrityError
from media.value import CHUNK, check_bytes

from ..backends.base import Backend
from ..config import unreachable
from ..manifest import entry_kind
from .layout import blob_path, pack_path
from .readers import CheckedReader

__all__ = ["Objects"]

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
        fs, p = fsspec.core.url_to_fs(e["uri"], **dict(e.get("options") or {}))
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
            check_bytes(got, e["digest"], e["size"], name)
            return got
        with CheckedReader(got, e.get("digest"), e["size"], name) as f:
            return f.read()

    def open(self, e: Mapping[str, Any], name: str) -> IO[bytes]:
        """The entry as a stream that raises IntegrityError at EOF on a mismatch."""
        got = self._fetch(e, name, "stream")
        raw = io.BytesIO(got) if isinstance(got, bytes) else got
        return CheckedReader(raw, e.get("digest"), e["size"], name)

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
