"""Chunk digests: BLAKE3 digests of the fixed-size chunks of a large file, recorded at commit
so that a range of the file (a window of a recording) is checked without the whole file.

A file of more than :data:`CHUNKED_MIN` bytes gets a *chunk table*: the 32-byte BLAKE3
digests of its :data:`CHUNK_SIZE`-byte chunks (the last one shorter), end to end.  The table
is stored as an ordinary blob (named by its own sha256), and the file's manifest entry
records ``"chunks": {"algorithm": "blake3", "size": 32768, "table": "<sha256>"}``.  See
docs/store-format.md ("Chunk digests") for why these choices.

:func:`chunk_digests` is the one place that computes a table (commit-time hashing calls it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import blake3

from media.errors import IntegrityError

__all__ = [
    "ALGORITHM",
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
        parts.append(chunk_digests(data))
    return b"".join(parts)


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
