"""A committed ``Table`` as a dataset for a training loop: rows by index, batch plans, reads
that run ahead of the caller.

``version.dataset("train")`` gives a :class:`Dataset`: ``len(ds)`` rows and ``ds[i]`` a dict of
column -> cell (audio cells are lazy ``Audio``), which is all a map-style dataset needs for
``torch.utils.data.DataLoader`` (torch is never imported here).  ``ds.batches(...)`` plans an
epoch as lists of row indices, from the stored JSON only (no audio file is opened to plan),
in an order fixed by the version's digest, a seed and the epoch; ``ds.iter_batches(plan)``
reads the rows of the next batches in threads while the caller works on the current one.
See docs/datasets.md.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import IO, Any

import numpy as np

from media import Audio, Table, load_cell, lookup
from media.buffers import stream_of

__all__ = ["Dataset", "Batches"]

_STATE_KEYS = (
    "digest",
    "batch_size",
    "max_duration",
    "duration_column",
    "shuffle",
    "seed",
    "epoch",
    "rank",
    "world_size",
    "buckets",
    "position",
)


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"Invalid {name} {value!r}: expected an int")
    if value < low:
        raise ValueError(f"Invalid {name} {value!r}: it must be at least {low}")
    return int(value)


class Dataset:
    """The rows of the ``Table`` value ``name`` of a committed version, by index.

    ``len(ds)`` is the number of rows; ``ds[i]`` (``-len(ds) <= i < len(ds)``) is row ``i`` as
    a dict of column -> cell, media cells lazy (an ``Audio`` reads its file, checked, when
    asked for samples).  Made by ``version.dataset(name)``.
    """

    def __init__(self, artifact: Any, name: str):
        if getattr(artifact, "is_draft", True):
            raise ValueError("a dataset needs a committed version; commit the draft first")
        try:
            table = artifact.get(name)
        except LookupError:
            tables = [n for n in artifact.value_names() if _is_table_entry(artifact, n)]
            raise ValueError(
                f"no table named {name!r} in {artifact.qualified_name}; tables: "
                f"{', '.join(tables) or '(none)'}"
            ) from None
        if not isinstance(table, Table):
            raise ValueError(
                f"{artifact.qualified_name}/{name} is a value of type {type(table).__name__}, "
                "not a Table; dataset() takes the name of a Table value"
            )
        self.artifact = artifact
        self.name = name
        self.columns: list[str] = list(table.columns)
        self.digest: str = artifact.digest
        # the stored JSON rows: cells are decoded one row at a time, when asked for
        self._rows: list[list[Any]] = table.stored_rows() or []
        self._durations: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        return (
            f"Dataset({self.artifact.qualified_name}/{self.name}, rows={len(self)}, "
            f"columns={self.columns})"
        )

    def __len__(self) -> int:
        return len(self._rows)

    def __reduce__(self) -> tuple[Any, tuple[Any, str, str, str, str]]:
        # a DataLoader worker started by "spawn" gets the dataset pickled: it opens the store
        # again by URL (storage options come from the environment, as for open_store)
        store = self.artifact.store
        ref = self.artifact.qualified_name
        return _reopen, (type(store), store.url, ref, self.name, self.digest)

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict of column -> cell (media cells are lazy)."""
        return self._row(self._index(i), self.artifact)

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
        """Rows ``indices`` (what torch's DataLoader asks for a whole batch at once)."""
        return [self[i] for i in indices]

    def _index(self, i: Any) -> int:
        if isinstance(i, bool) or not isinstance(i, Integral):
            raise TypeError(f"Invalid row index {i!r}: expected an int (rows are numbered)")
        n = len(self._rows)
        if not -n <= i < n:
            raise IndexError(f"row {i} is out of range: {self.name} has {n} rows")
        return int(i) % n

    def _row(self, i: int, source: Any) -> dict[str, Any]:
        row = self._rows[i]
        out = {}
        for col, cell in zip(self.columns, row):
            try:
                out[col] = load_cell(cell, source)
            except ValueError as exc:  # same type; the message says which cell of what
                exc.args = (
                    f"{self.artifact.qualified_name}/{self.name}: row {i}, column {col!r}: {exc}",
                )
                raise exc.with_traceback(None) from None
        return out

    # -- planning -----------------------------------------------------------------------
    def durations(self, column: str | None = None) -> np.ndarray:
        """Seconds per row from the stored JSON of ``column`` (no file is opened).

        ``column`` is an audio column (its JSON's ``frames / sample_rate``) or a column of
        numbers (seconds); by default the table's only audio column.
        """
        column = self._duration_column(column)
        got = self._durations.get(column)
        if got is None:
            j = self.columns.index(column)
            out = np.empty(len(self._rows), dtype=np.float64)
            for i, row in enumerate(self._rows):
                out[i] = _seconds(row[j], i, column, self)
            got = self._durations[column] = out
            got.setflags(write=False)
        return got

    def _duration_column(self, column: str | None) -> str:
        if column is not None:
            if column not in self.columns:
                raise ValueError(f"no column {column!r} in {self.name}; columns: {self.columns}")
            return column
        audio = [c for j, c in enumerate(self.columns) if _is_audio_json(self._first_cell(j))]
        if len(audio) != 1:
            raise ValueError(
                f"{self.name} has {len(audio)} audio columns ({audio}); pass duration_column= "
                f"one of {self.columns} (an audio column or a column of seconds)"
            )
        return audio[0]

    def _first_cell(self, j: int) -> Any:
        """The stored JSON of the first cell of column ``j`` that is not None (else None)."""
        for row in self._rows:
            if row[j] is not None:
                return row[j]
        return None

    def batches(
        self,
        batch_size: int | None = None,
        *,
        shuffle: bool = True,
        seed: int = 0,
        epoch: int = 0,
        rank: int = 0,
        world_size: int = 1,
        max_duration: float | None = None,
        duration_column: str | None = None,
        buckets: int = 10,
    ) -> Batches:
        """Plan one epoch for one rank: an iterable of lists of row indices.

        Two modes:

        * ``batch_size`` alone: batches of ``batch_size`` rows (the last may be shorter);
        * ``max_duration`` (seconds): rows of similar duration together, as many as fit
          ``max_duration`` in total (and at most ``batch_size`` rows, when given).  Durations
          come from the stored JSON (``duration_column``, default the only audio column):
          rows are sorted by duration into ``buckets`` groups of equal size, shuffled within
          each, packed, and the batches shuffled.  A row longer than ``max_duration`` is a
          batch of its own.

        The order depends only on the version's digest, ``seed`` and ``epoch``.  For a given
        ``world_size`` the ranks get disjoint batches that together hold every row once;
        rank ``r`` gets every ``world_size``-th row (count mode) or batch (duration mode), so
        the ranks' batch counts differ by at most one.  The plan's :meth:`Batches.state_dict`
        resumes it exactly (:meth:`resume`).
        """
        if batch_size is None and max_duration is None:
            raise ValueError(
                "batches() needs a batching mode: batch_size=N (N rows per batch) or "
                "max_duration=SECONDS (rows of similar duration, up to SECONDS per batch)"
            )
        if batch_size is not None:
            batch_size = _int("batch_size", batch_size, 1)
        if max_duration is not None:
            if isinstance(max_duration, bool) or not isinstance(max_duration, (int, float)):
                raise TypeError(f"Invalid max_duration {max_duration!r}: expected seconds")
            if not (math.isfinite(max_duration) and max_duration > 0):
                raise ValueError(
                    f"Invalid max_duration {max_duration!r}: give a positive number of seconds"
                )
            max_duration = float(max_duration)
            duration_column = self._duration_column(duration_column)
            self.durations(duration_column)  # a row without a duration fails here, not later
        elif duration_column is not None:
            raise ValueError("duration_column= is used with max_duration=; pass both or neither")
        if not isinstance(shuffle, bool):
            raise TypeError(f"Invalid shuffle {shuffle!r}: expected True or False")
        seed = _int("seed", seed, 0)
        epoch = _int("epoch", epoch, 0)
        world_size = _int("world_size", world_size, 1)
        rank = _int("rank", rank, 0)
        if rank >= world_size:
            raise ValueError(f"Invalid rank {rank}: ranks are 0..{world_size - 1}")
        buckets = _int("buckets", buckets, 1)
        return Batches(
            self,
            dict(
                digest=self.digest,
                batch_size=batch_size,
                max_duration=max_duration,
                duration_column=duration_column,
                shuffle=shuffle,
                seed=seed,
                epoch=epoch,
                rank=rank,
                world_size=world_size,
                buckets=buckets,
                position=0,
            ),
        )

    def resume(self, state: dict[str, Any]) -> Batches:
        """The plan a :meth:`Batches.state_dict` was taken from, at the batch that was next."""
        if not isinstance(state, dict) or set(state) != set(_STATE_KEYS):
            raise ValueError(
                f"Invalid state {state!r}: give what Batches.state_dict() returned (keys "
                f"{', '.join(_STATE_KEYS)})"
            )
        if state["digest"] != self.digest:
            raise ValueError(
                f"this state was saved for another version (digest {str(state['digest'])[:12]}"
                f"...), not {self.artifact.qualified_name} ({self.digest[:12]}...)"
            )
        params = {k: state[k] for k in _STATE_KEYS if k not in ("digest", "position")}
        plan = self.batches(**params)
        position = _int("position", state["position"], 0)
        if position > len(plan):
            raise ValueError(f"Invalid position {position}: the plan has {len(plan)} batches")
        plan.position = position
        return plan

    def plan(self, p: dict[str, Any]) -> list[list[int]]:
        """The batches (lists of row indices) of the plan with parameters ``p``."""
        n = len(self._rows)
        key = f"{p['digest']}:{p['seed']}:{p['epoch']}".encode()
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:16], "big"))
        order = rng.permutation(n) if p["shuffle"] else np.arange(n)
        size, world, rank = p["batch_size"], p["world_size"], p["rank"]
        if p["max_duration"] is None:
            mine = order[rank::world].tolist()
            return [mine[i : i + size] for i in range(0, len(mine), size)]
        d = self.durations(p["duration_column"])
        by_length = order[np.argsort(d[order], kind="stable")]
        plan: list[list[int]] = []
        for group in np.array_split(by_length, min(p["buckets"], max(n, 1))):
            if p["shuffle"]:
                group = rng.permutation(group)
            batch: list[int] = []
            total = 0.0
            for i in group.tolist():
                if batch and (total + d[i] > p["max_duration"] or len(batch) == size):
                    plan.append(batch)
                    batch, total = [], 0.0
                batch.append(i)
                total += d[i]
            if batch:
                plan.append(batch)
        if p["shuffle"]:
            plan = [plan[i] for i in rng.permutation(len(plan))]
        return plan[rank::world]

    # -- reading ahead ------------------------------------------------------------------
    def iter_batches(
        self, batches: Batches, *, prefetch: int = 2, workers: int = 8
    ) -> Iterator[list[dict[str, Any]]]:
        """The rows of each batch of ``batches``, read ``prefetch`` batches ahead of the caller.

        Threads (``workers``) read the media files of the next batches, each checked against
        its digest, while the caller works on the current one; the rows' media cells hold
        those bytes (``numpy()`` reads nothing more).  ``batches.state_dict()`` taken in the
        loop body names the batch after the one just yielded, whatever was read ahead.
        (To build a new version from rows, take them from ``ds[i]`` or the table: their
        clips are then references to this version's files.)
        """
        if not isinstance(batches, Batches) or batches.dataset is not self:
            raise TypeError("Invalid batches: give a plan made by this dataset's batches()")
        prefetch = _int("prefetch", prefetch, 0)
        workers = _int("workers", workers, 1)
        plan = batches.batch_list()
        start = batches.position
        with ThreadPoolExecutor(workers, thread_name_prefix="dataset-read") as pool:
            pending: deque[Any] = deque()
            nxt = start

            def submit() -> None:
                # a batch in `workers` parts (a task per row costs more than a row locally)
                nonlocal nxt
                rows = plan[nxt]
                if hasattr(self.artifact, "read_many"):  # a version: one batched read
                    pending.append([pool.submit(self._read_batch, rows)])
                    nxt += 1
                    return
                step = -(-len(rows) // workers)
                parts = [rows[j : j + step] for j in range(0, len(rows), step)]
                pending.append([pool.submit(self._read_rows, part) for part in parts])
                nxt += 1

            k = start
            try:
                while k < len(plan):
                    while nxt < len(plan) and nxt <= k + prefetch:  # batch k and the next ones
                        submit()
                    futures = pending.popleft()
                    rows = [row for f in futures for row in f.result()]
                    k += 1
                    batches.position = k
                    yield rows
            finally:
                for futures in pending:
                    for f in futures:
                        f.cancel()

    def _read_batch(self, indices: list[int]) -> list[dict[str, Any]]:
        """Rows ``indices`` with their media files read (and checked) in one batched read
        of the version (coalesced ranged reads of its packs, several at a time)."""
        wanted = {i: [f for cell in self._rows[i] for f in _files_of(cell)] for i in indices}
        files = self.artifact.read_many([f for fs in wanted.values() for f in fs])
        rows = []
        for i in indices:
            if not wanted[i]:
                rows.append(self._row(i, self.artifact))
                continue
            mine = {f: files[f] for f in wanted[i]}
            rows.append(self._row(i, _Read(self.artifact, mine)))
        return rows

    def _read_rows(self, indices: list[int]) -> list[dict[str, Any]]:
        return [self._read_row(i) for i in indices]

    def _read_row(self, i: int) -> dict[str, Any]:
        """Row ``i`` with its media files read (and checked) now."""
        row = self._rows[i]
        files: dict[tuple[str, str | None, int | None], bytes] = {}
        for cell in row:
            for path, sha, size in _files_of(cell):
                with self.artifact.open_media(path, sha, size) as f:
                    # (a BytesIO of bytes gives them back without a copy)
                    files[(path, sha, size)] = (
                        f.getvalue() if isinstance(f, io.BytesIO) else f.read()
                    )
        if not files:
            return self._row(i, self.artifact)
        return self._row(i, _Read(self.artifact, files))


def _reopen(store_type: Any, url: str, ref: str, name: str, digest: str) -> Dataset:
    # (the store's class comes pickled: artifacts.store imports this module's users)
    ds = store_type.open(url).artifact(ref).dataset(name)
    if ds.digest != digest:  # (a version never changes; a store replaced at the URL might)
        raise ValueError(f"{url}: {ref} is not the version this dataset was made from")
    return ds


class Batches:
    """One epoch's plan for one rank, from :meth:`Dataset.batches`: iterate for lists of row
    indices.

    ``len()`` is the number of batches; iterating continues from :attr:`position` (the
    number of batches already handed out), so a second loop after a ``break`` goes on where
    the first stopped.  :meth:`state_dict` and :meth:`Dataset.resume` restore it exactly.
    """

    def __init__(self, dataset: Dataset, params: dict[str, Any]):
        self.dataset = dataset
        self.params = params  #: the plan's parameters (with the version's digest)
        self._cache: list[list[int]] | None = None
        self.position = 0

    def batch_list(self) -> list[list[int]]:
        """Every batch of this plan (computed once)."""
        if self._cache is None:
            self._cache = self.dataset.plan(self.params)
        return self._cache

    def __len__(self) -> int:
        return len(self.batch_list())

    def __iter__(self) -> Iterator[list[int]]:
        plan = self.batch_list()
        while self.position < len(plan):
            batch = plan[self.position]
            self.position += 1  # before the yield: a state taken in the loop body is next
            yield list(batch)

    def __repr__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("digest", "position")}
        args = ", ".join(f"{k}={v!r}" for k, v in shown.items() if v is not None)
        return f"Batches({args}, position={self.position}/{len(self)})"

    def state_dict(self) -> dict[str, Any]:
        """The plan's parameters and position, as JSON-safe values (for a checkpoint)."""
        return {**self.params, "position": self.position}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Move to the position of ``state``, which must come from a plan with the same
        parameters (else ``ValueError``)."""
        other = self.dataset.resume(state)
        if other.params != self.params:
            diff = sorted(k for k in self.params if other.params[k] != self.params[k])
            raise ValueError(
                f"this state is for another plan: it differs in {', '.join(diff)}; make the "
                "plan with Dataset.resume(state) instead"
            )
        self.position = other.position


class _Read:
    """A media source holding files already read and checked, each handed out once; anything
    else goes to the artifact (reading is all it does)."""

    def __init__(self, artifact: Any, files: dict[tuple[str, str | None, int | None], bytes]):
        self.artifact = artifact
        self.files = files
        self.qualified_name = artifact.qualified_name

    def open_media(
        self, path: str, sha256: str | None = None, size: int | None = None
    ) -> IO[bytes]:
        data = self.files.pop((path, sha256, size), None)
        if data is None:  # (asked again: read again, checked again)
            return self.artifact.open_media(path, sha256, size)
        # handed out once: the samples are built on this buffer, not on a copy of it
        return stream_of(data)


def _files_of(cell: Any) -> Iterator[tuple[str, str | None, int | None]]:
    """The media files (path, sha256, size) a cell's JSON names at its top level."""
    if isinstance(cell, dict) and isinstance(cell.get("path"), str) and "_type" in cell:
        sha, size = cell.get("sha256"), cell.get("size")
        yield (
            cell["path"],
            sha if isinstance(sha, str) else None,
            (size if isinstance(size, int) else None),
        )


def _is_audio_json(cell: Any) -> bool:
    """Whether a cell's stored JSON is a clip: a whole file, a segment, or a registered
    subclass of Audio (known from the tag alone: nothing is decoded)."""
    tag = cell.get("_type") if isinstance(cell, dict) else None
    if tag in ("audio-file", "audio-segment"):
        return True
    if not isinstance(tag, str):
        return False
    try:
        cls = lookup(tag)
    except Exception:  # an unknown or broken type is not an audio column
        return False
    return isinstance(cls, type) and issubclass(cls, Audio)


def _is_table_entry(artifact: Any, name: str) -> bool:
    try:
        return artifact.get_entry(name).path.endswith(".table.json")
    except LookupError:
        return False


def _seconds(cell: Any, i: int, column: str, ds: Dataset) -> float:
    if isinstance(cell, dict):
        frames, rate = cell.get("frames"), cell.get("sample_rate")
        if isinstance(frames, int) and isinstance(rate, int) and rate > 0:
            return frames / rate
        got = cell.get("duration")
    else:
        got = cell
    if isinstance(got, (int, float)) and not isinstance(got, bool) and math.isfinite(got):
        if got >= 0:
            return float(got)
    if cell is None:
        why = ": the cell is empty (None); drop the rows without audio, or"
    elif _is_audio_json(cell):
        why = (
            " in its stored JSON (audio JSON without frames and sample_rate, as the wandb "
            "client writes it);"
        )
    else:
        shown = repr(cell) if len(repr(cell)) <= 60 else repr(cell)[:57] + "..."
        why = f": it holds {shown}, not audio or a number of seconds (finite, at least 0);"
    raise ValueError(
        f"{ds.artifact.qualified_name}/{ds.name}: row {i}, column {column!r} has no duration"
        f"{why} add a column of durations in seconds and pass duration_column= its name"
    )
