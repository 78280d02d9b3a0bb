"""BLAKE3 digests recorded at commit: of each whole file, so that a read is checked several
times faster than by its sha256, and of the fixed-size chunks of a large file, so that a range
of the file (a window of a recording) is checked without the whole file.

Every file a commit writes gets ``"blake3": "<64 hex>"`` in its manifest entry: the BLAKE3
digest of its bytes (:func:`file_digest`).  sha256 stays the file's content address; a
reader checks the bytes against ``blake3`` when the entry has it (about 7 GB/s on one core
here, against 2 GB/s for sha256) and against ``digest`` otherwise (format-1 manifests).

A file of more than :data:`CHUNKED_MIN` bytes gets a *chunk table*: the 32-byte BLAKE3
digests of its :data:`CHUNK_SIZE`-byte chunks (the last one shorter), end to end.  The table
is stored as an ordinary blob (named by its own sha256), and the file's manifest entry
records ``"chunks": {"algorithm": "blake3", "size": 32768, "table": "<sha256>"}``.  See
docs/store-format.md ("Chunk digests") for why these choices.

:func:`chunk_digests` is the one place that computes a table (commit-time hashing calls it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import IO, Any

import blake3

from media.errors import IntegrityError

__all__ = [
    "ALGORITHM",
    "BLAKE3_KEY",
    "file_digest",
    "digests_of_stream",
    "check_file",
    "digest_matches",
    "mismatch",
    "CHUNK_SIZE",
    "CHUNKED_MIN",
    "DIGEST_SIZE",
    "chunk_digests",
    "chunk_digests_of_stream",
    "wants_chunks",
    "chunks_field",
    "table_size",
    "table_entry",
    "check_span",
]

ALGORITHM = "blake3"
#: the manifest entry's field holding the BLAKE3 digest (hex) of the whole file
BLAKE3_KEY = "blake3"
#: files from this size are hashed on every core (blake3's own threads)
_THREADED = 8 << 20
#: 32 KiB: a 5 s window of 16 kHz mono int16 (160,000 bytes) covers at most 6 chunks,
#: so it costs at most 36,608 bytes more than the window
CHUNK_SIZE = 32 << 10
DIGEST_SIZE = 32
#: files up to this size get no table: a window of one is read whole in one request
#: (media._window.WHOLE), which costs less than two requests on an object store
CHUNKED_MIN = 1 << 20
_READ = CHUNK_SIZE * 64  # 2 MiB: a whole number of chunks per read of a stream


def wants_chunks(size: int) -> bool:
    """Whether a file of ``size`` bytes gets a chunk table at commit."""
    return size > CHUNKED_MIN


def table_size(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Bytes of the chunk table of a file of ``size`` bytes."""
    return -(-size // chunk_size) * DIGEST_SIZE


def chunk_digests(buffer: Any) -> bytes:
    """The chunk table of ``buffer`` (bytes-like): the BLAKE3 digest of each
    :data:`CHUNK_SIZE`-byte chunk, end to end.

    Thread-safe and releases the GIL for large chunks (the blake3 package does), so a
    commit may call it on another thread; a caller hashing a stream piece by piece must
    hand it pieces that are whole multiples of :data:`CHUNK_SIZE` (all but the last).
    """
    view = memoryview(buffer).cast("B")
    return b"".join(
        blake3.blake3(view[i : i + CHUNK_SIZE]).digest() for i in range(0, len(view), CHUNK_SIZE)
    )


def chunk_digests_of_stream(f: IO[bytes]) -> bytes:
    """The chunk table of what ``f`` holds from its position to its end."""
    return digests_of_stream(f, True)[1] or b""


def file_digest(buffer: Any) -> str:
    """The BLAKE3 digest (hex) of a whole file's bytes; releases the GIL while it hashes."""
    n = memoryview(buffer).nbytes
    threads = blake3.blake3.AUTO if n >= _THREADED else 1
    return blake3.blake3(buffer, max_threads=threads).hexdigest()


def digests_of_stream(f: IO[bytes], table: bool) -> tuple[str, bytes | None]:
    """The BLAKE3 digest (hex) of what ``f`` holds from its position to its end, and its
    chunk table when ``table`` (one pass over the stream for both)."""
    whole = blake3.blake3()
    parts = []
    while True:
        data = f.read(_READ)
        while data and len(data) % CHUNK_SIZE:  # short read: top it up to whole chunks
            more = f.read(_READ - len(data))
            if not more:
                break
            data += more
        if not data:
            break
        whole.update(data)
        if table:
            parts.append(chunk_digests(data))
    return whole.hexdigest(), b"".join(parts) if table else None


def check_file(data: Any, e: Mapping[str, Any], name: str) -> None:
    """Raise :class:`IntegrityError` naming ``name`` unless ``data`` (bytes-like) has entry
    ``e``'s size and digest: its BLAKE3 digest when recorded, else its sha256."""
    n = memoryview(data).nbytes
    if n != e["size"]:
        raise IntegrityError(f"{name}: size is {n} bytes, expected {e['size']}")
    if not digest_matches(data, e.get("digest"), e.get(BLAKE3_KEY)):
        raise IntegrityError(f"{name}: {mismatch(e.get('digest'), e.get(BLAKE3_KEY))}")


def digest_matches(data: Any, sha256: str | None, b3: str | None) -> bool:
    """Whether ``data`` has the BLAKE3 digest ``b3`` when one was recorded, else the sha256
    ``sha256`` (``None`` for both: nothing to check)."""
    if b3 is not None:
        return file_digest(data) == b3
    return sha256 is None or hashlib.sha256(data).hexdigest() == sha256


def mismatch(sha256: str | None, b3: str | None) -> str:
    """Why bytes checked against ``b3`` (when given) or ``sha256`` were refused."""
    if b3 is None:
        return f"sha256 of the stored bytes does not match {sha256}"
    return (
        f"stored bytes do not match BLAKE3 {b3} (recorded at commit for the file of sha256 "
        f"{sha256}); the stored file is damaged"
    )


def chunks_field(table_digest: str) -> dict[str, Any]:
    """The manifest entry's ``chunks`` field for a table whose sha256 is ``table_digest``."""
    return {"algorithm": ALGORITHM, "size": CHUNK_SIZE, "table": table_digest}


def table_entry(e: Mapping[str, Any]) -> dict[str, Any]:
    """A blob entry (``digest``, ``size``) for reading the chunk table of entry ``e``."""
    ch = e["chunks"]
    return {"digest": ch["table"], "size": table_size(e["size"], ch["size"])}


def check_span(
    data: bytes, first: int, table: bytes, chunk_size: int, file_size: int, name: str
) -> None:
    """Raise :class:`IntegrityError` naming ``name`` and the chunk unless ``data`` is the
    chunks ``first``, ``first + 1``, ... of the file, as its table records them."""
    view = memoryview(data)
    count = -(-len(view) // chunk_size) if view else 0
    for k in range(count):
        i = first + k
        piece = view[k * chunk_size : (k + 1) * chunk_size]
        expect_len = min(chunk_size, file_size - i * chunk_size)
        recorded = table[i * DIGEST_SIZE : (i + 1) * DIGEST_SIZE]
        if len(piece) != expect_len or blake3.blake3(piece).digest() != recorded:
            a = i * chunk_size
            raise IntegrityError(
                f"{name}: chunk {i} (bytes {a}..{a + expect_len}) does not match the digest "
                f"recorded at commit ({len(piece)} bytes read); the stored file is damaged"
            )
