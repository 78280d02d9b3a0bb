"""Checked reading: streams that hash what passes and raise at EOF on a mismatch."""

from __future__ import annotations

import hashlib
import io
from typing import IO, Any

import blake3

from media.errors import IntegrityError
from media.files import CHUNK

from .chunks import mismatch

__all__ = ["CheckedReader", "CheckedOpener", "open_checked"]


class CheckedReader(io.RawIOBase):
    """A read-only stream that hashes what passes and raises IntegrityError at EOF."""

    def __init__(
        self,
        raw: IO[bytes],
        digest: str | None,
        size: int,
        name: str,
        b3: str | None = None,
        closes_raw: bool = True,
    ):
        self._raw = raw
        self._closes_raw = closes_raw  # False: the caller goes on with ``raw`` (rewound)
        # a BLAKE3 digest recorded at commit is checked instead of the sha256 (faster)
        self._digest = digest
        self._b3 = b3
        self._size = size
        self._name = name
        self._h: Any = blake3.blake3() if b3 is not None else hashlib.sha256()
        self._n = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._raw.read(len(b))
        if not data:
            self._finish()
            return 0
        n = len(data)
        b[:n] = data
        self._h.update(data)
        self._n += n
        if self._n > self._size:
            raise IntegrityError(f"{self._name}: longer than its recorded {self._size} bytes")
        return n

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(CHUNK):
                chunks.append(chunk)
            return b"".join(chunks)
        buf = bytearray(size)
        n = self.readinto(buf)
        return bytes(buf[:n])

    def _finish(self) -> None:
        if self._n != self._size:
            raise IntegrityError(
                f"{self._name}: {self._n} bytes stored, its manifest says {self._size}"
            )
        if self._b3 is not None:
            if self._h.hexdigest() != self._b3:
                raise IntegrityError(f"{self._name}: {mismatch(self._digest, self._b3)}")
        elif self._digest is not None and self._h.hexdigest() != self._digest:
            raise IntegrityError(f"{self._name}: stored bytes do not match sha256 {self._digest}")

    def close(self) -> None:
        try:
            if self._closes_raw:
                self._raw.close()
        finally:
            super().close()


#: why a draft's file fails its check at upload (the default of :func:`open_checked`)
DRAFT_CHANGED = "its file changed after it was added to the draft; add it again"


class CheckedOpener:
    """Opens a draft entry's file for upload (see :func:`open_checked`); ``size`` lets a
    backend tell a whole blob already stored from a torn one."""

    def __init__(
        self, content: str | Any, digest: str, size: int, name: str, why: str = DRAFT_CHANGED
    ):
        self.content, self.digest, self.size, self.name = content, digest, size, name
        self.why = why

    def __call__(self) -> IO[bytes]:
        return open_checked(self.content, self.digest, self.size, self.name, self.why)


def open_checked(
    content: str | Any, digest: str, size: int, name: str, why: str = DRAFT_CHANGED
) -> IO[bytes]:
    """Open a draft entry's file for upload; the stream raises at EOF if it changed since
    it was added (so a blob is never published under the wrong digest).  ``why``: what a
    mismatch means, put after ``name`` in the error (``""``: nothing; a copy between stores
    says it itself)."""
    try:
        raw = open(content, "rb") if isinstance(content, str) else content()
    except FileNotFoundError:
        raise FileNotFoundError(
            f"cannot commit {name}: its file {content if isinstance(content, str) else ''} is "
            "gone since it was added to the draft; add it again"
        ) from None
    return CheckedReader(raw, digest, size, f"{name} ({why})" if why else name)
