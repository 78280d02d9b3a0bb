"""Process-wide thread pools of the object database, made when first needed.

A pool is made again in a forked child (a DataLoader worker): the parent's pool has no
threads there, and a task given to it would wait forever.  Once the interpreter is
exiting, pools take no new tasks; :func:`soon` then runs the task in the calling thread
(a read or a commit may run in an atexit handler).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

__all__ = ["Pool", "soon"]


class Pool:
    """A thread pool of ``workers`` threads named ``name``, made by the first :meth:`get`."""

    def __init__(self, workers: int, name: str):
        self.workers, self.name = workers, name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forget)

    def get(self) -> ThreadPoolExecutor:
        """The pool (made now if this process has none yet)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
            return self._pool

    def soon(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """``fn(*args)`` on the pool (see :func:`soon`)."""
        return soon(self.get(), fn, *args)

    def _forget(self) -> None:
        self._pool = None
        self._lock = threading.Lock()


def soon(pool: Executor, fn: Callable[..., Any], *args: Any) -> Future[Any]:
    """``fn(*args)`` on ``pool``, or at once in this thread when the interpreter is exiting
    (pools take no new tasks then)."""
    try:
        return pool.submit(fn, *args)
    except RuntimeError:
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args))
        except BaseException as exc:  # raised by result(), as from a pool
            done.set_exception(exc)
        return done
