"""Bulk ingest: add many values to one draft, with the heavy work in any Executor.

``draft.add_many(items, executor=None)`` (a thin method over :func:`add_many`) takes
``(name, value)`` pairs or a mapping of name to value.  A value is any :class:`media.Value`
(an :class:`media.Audio` made from an array or a path, a :class:`media.Table`, any
:class:`media.Media`), or a callable with no arguments that returns one, such as
``functools.partial(Audio, path)``: a callable runs in the executor, so loading and
decoding happen there too.

What runs in the executor: building values from callables, encoding media files and
hashing them (sha256 and size).  What runs in the calling process: adding the prepared
values to the draft, which then has nothing left to compute.  Any
``concurrent.futures.Executor`` works:

* ``None`` (the default): everything in the calling thread;
* ``ThreadPoolExecutor``: hashing releases the GIL, so threads help with large files;
* ``ProcessPoolExecutor``: values and callables must pickle (``functools.partial`` of a
  module-level function does, a lambda does not);
* a Dask cluster: ``distributed.Client(...).get_executor()``.  Workers read paths
  themselves, so files given by path must be visible to the workers *and* to the calling
  process (which copies them into the store at commit): a shared file system.

On any error nothing is added: the draft is left as it was.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Iterable, Mapping
from typing import Any

from media import Media, Value

from .errors import ReadOnlyError
from .manifest import ManifestEntry
from .names import check_entry_name

__all__ = ["add_many", "prepare"]


def add_many(
    draft: Any,
    items: Mapping[str, Any] | Iterable[tuple[str, Any]],
    executor: concurrent.futures.Executor | None = None,
    *,
    overwrite: bool = False,
    batch_size: int | None = None,
) -> list[ManifestEntry]:
    """Add every ``(name, value)`` of ``items`` to ``draft``; see the module documentation.

    Values are prepared (built, encoded, hashed) in ``executor`` in batches of
    ``batch_size`` (default: about 16 batches, at most 128 values each), about two batches
    per worker at a time, and added in order in the calling process as they come back;
    a value is dropped once added (a large draft spills the bytes it holds, see
    ``Artifact.spill_at``), so memory holds a few batches, not all of them.  Returns the
    manifest entries of the values' JSON, in the order of ``items``.  Raises
    ``TypeError``/``ValueError`` for bad items or names before any work is submitted; on
    any error, from the executor or while adding, the draft is left unchanged.
    """
    if not getattr(draft, "is_draft", False):
        raise ReadOnlyError(
            f"{draft.qualified_name} is committed and read-only; call new_draft() to make "
            "a draft of the next version"
        )
    pairs = _pairs(items)
    if batch_size is None:
        batch_size = max(1, min(128, -(-len(pairs) // 16)))
    elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"Invalid batch_size {batch_size!r}: give a positive int")
    starts = range(0, len(pairs), batch_size)
    batches = [[v for _, v in pairs[i : i + batch_size]] for i in starts]
    window = 2 * _workers(executor)  # batches in flight: the rest wait to be submitted
    futures: dict[int, concurrent.futures.Future[list[Value]]] = {}
    added: list[ManifestEntry] = []
    try:
        with draft.all_or_nothing():
            for k, start in enumerate(starts):
                # one batch at a time, added then dropped (the draft spills their bytes)
                if executor is None:
                    prepared = _prepare_batch(batches[k])
                else:
                    for j in range(k, min(k + window, len(batches))):
                        if j not in futures:
                            futures[j] = executor.submit(_prepare_batch, batches[j])
                    prepared = futures.pop(k).result()
                batches[k] = []
                names = [name for name, _ in pairs[start : start + batch_size]]
                for name, value in zip(names, prepared, strict=True):
                    added.append(draft.add(value, name, overwrite=overwrite))
    except BaseException:
        for f in futures.values():
            f.cancel()
        raise
    return added


def _workers(executor: Any) -> int:
    """How many batches ``executor`` runs at once (a guess when it does not say)."""
    n = getattr(executor, "_max_workers", None)  # ThreadPoolExecutor, ProcessPoolExecutor
    if isinstance(n, int) and n > 0:
        return n
    try:  # a dask.distributed client's executor: the cluster's threads
        client = getattr(executor, "_client")  # noqa: B009 (dask's executor has no public one)
        return max(1, sum(client.nthreads().values()))
    except Exception:
        return os.cpu_count() or 1


def prepare(value: Any) -> Value:
    """Build (if ``value`` is a callable), encode and hash one value; return it.

    This is what runs in the executor.  The media files of the value (an Audio's file, the
    media cells of a Table) get their bytes and sha256 computed, so adding the value to a
    draft afterwards computes nothing.
    """
    if callable(value) and not isinstance(value, Value):
        value = value()
    if not isinstance(value, Value):
        raise TypeError(
            f"Invalid value {value!r}: add_many takes media values (Audio, Table, a "
            "registered type) or callables with no arguments that return one"
        )
    for media in _media_of(value):
        media.sha256  # noqa: B018  (encodes, then hashes; both are cached on the value)
    return value


def _prepare_batch(values: list[Any]) -> list[Value]:
    return [prepare(v) for v in values]


def _media_of(value: Value) -> Iterable[Media]:
    if isinstance(value, Media):
        if value.source_file() is None:  # a loaded value's bytes are already hashed
            yield value
        return
    media = getattr(value, "media", None)
    if callable(media):
        for m in media():
            if isinstance(m, Media) and m.source_file() is None:
                yield m


def _pairs(items: Any) -> list[tuple[str, Any]]:
    if isinstance(items, Mapping):
        pairs = list(items.items())
    elif isinstance(items, (str, bytes)) or not isinstance(items, Iterable):
        raise TypeError(
            f"Invalid items {items!r}: give a mapping of name to value, or (name, value) pairs"
        )
    else:
        pairs = []
        for item in items:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError(f"Invalid item {item!r}: expected a (name, value) pair")
            pairs.append(item)
    seen: dict[str, int] = {}
    for i, (name, value) in enumerate(pairs):
        check_entry_name(name)
        if name in seen:
            raise ValueError(
                f"the name {name!r} is given twice (items {seen[name]} and {i}); names must "
                "be unique"
            )
        seen[name] = i
        if not isinstance(value, Value) and not callable(value):
            raise TypeError(
                f"Invalid value {value!r} for {name!r}: add_many takes media values (Audio, "
                "Table, a registered type) or callables with no arguments that return one"
            )
    return pairs
