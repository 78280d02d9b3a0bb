"""BLAKE3 digests of a draft's new files, computed on a background thread while the files
are being added, so that the commit finds them ready.

A file held in memory gets its BLAKE3 digest (:func:`artifacts.odb.chunks.file_digest`,
recorded in its manifest entry at commit) here as soon as it enters a draft.  The files of
about :data:`BATCH` bytes go to one thread as one task: the hash function releases the GIL,
and the thread that adds files spends most of its time in sha256 (which releases it too),
so on a second core the digests cost the adds no time, where the commit would otherwise
compute them after the last add.

What this computes is derived data, keyed by the file's sha256 (its content address): the
commit uses a digest found here for the file with that sha256, and computes the ones not
found itself.  Nothing here is ever wrong for a key, only possibly missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from .chunks import file_digest
from .pools import Pool

__all__ = ["Ahead", "BATCH"]

#: bytes of files handed to the thread as one task (a task costs a wake-up of the thread)
BATCH = 2 << 20


class Ahead:
    """The BLAKE3 digests of files added to one draft (sha256 digest -> BLAKE3 hex)."""

    __slots__ = ("_todo", "_size", "_tasks", "_known")

    def __init__(self) -> None:
        self._todo: list[tuple[str, Any]] = []  # not handed to the thread yet
        self._size = 0
        self._tasks: list[Future[dict[str, str]]] = []
        self._known: dict[str, str] = {}

    def add(self, digest: str, content: bytes | bytearray) -> None:
        """Hash ``content`` (whose sha256 is ``digest``) soon, on the background thread."""
        if digest in self._known:
            return
        self._todo.append((digest, content))
        self._size += len(content)
        if self._size >= BATCH:
            self._hand_over()

    def settle(self) -> Mapping[str, str]:
        """Wait for every file added so far to be hashed; the digests known (read-only).

        Called before the draft lets go of its bytes (a spill to disk: the tasks keep
        them in memory until hashed) and by the commit.
        """
        self._hand_over()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            # a task that failed (no memory) leaves its files to the commit's own hashing
            if task.exception() is None:
                self._known.update(task.result())
        return self._known

    def _hand_over(self) -> None:
        if self._todo:
            todo, self._todo, self._size = self._todo, [], 0
            self._tasks.append(_HASHER.soon(_digests, todo))


def _digests(todo: list[tuple[str, Any]]) -> dict[str, str]:
    return {digest: file_digest(content) for digest, content in todo}


#: the one thread of the process that hashes added files
_HASHER = Pool(1, "draft-blake3")
