"""``Run``: a local run folder with a history of logged values and artifact lineage."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import schemas
from media import Audio, Media, Table, Value
from media.paths import atomic_write, check_relpath, join_inside
from media.value import checked_json

from .draft import Artifact
from .history import (
    FLOAT_TAG,
    HISTORY,
    HistoryWarning,
    encode_float,
    end_torn_line,
    load_row,
    open_append,
    read_history,
    read_jsonl,
)
from .names import check_artifact_name
from .store import Store, open_store
from .version import Version

__all__ = ["Run", "read_history", "load_row", "HistoryWarning"]

LINEAGE = "lineage.jsonl"


_LOGGABLE = (
    "log numbers, strings, None, lists and dicts of them, a value (Audio, Table, a "
    "registered type), or a list of values of one type"
)


def _json_scalar(value: Any, key: str, where: str = "") -> Any:
    """The JSON of a plain value logged under ``key``: NaN and infinities in the ``float``
    form (strict JSON has no such numbers); ``where`` is the path inside the value."""
    if isinstance(value, float):
        return encode_float(value)
    if value is None or isinstance(value, (str, bool, int)):
        return value
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "shape", None) == ():
        return _json_scalar(item(), key, where)
    if isinstance(value, (list, tuple)):
        return [_json_scalar(v, key, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        if value.get("_type") == FLOAT_TAG:
            raise ValueError(
                f"Invalid value for {key!r}{where}: a dict tagged '_type': {FLOAT_TAG!r} is how "
                "the history writes NaN and infinities; log the float itself"
            )
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"Invalid key {k!r} in the value of {key!r}: keys must be str")
            out[k] = _json_scalar(v, key, f"{where}[{k!r}]")
        return out
    if isinstance(value, Value):
        raise TypeError(
            f"Invalid value for {key!r}: {type(value).__name__} at {where} is inside a list "
            f"or dict of plain values; {_LOGGABLE} (or put values in a Table)"
        )
    at = f" at {where}" if where else ""
    raise TypeError(
        f"Invalid value for {key!r}: {type(value).__name__}{at} cannot be logged; {_LOGGABLE}"
    )


def _value_list(value: Any, key: str) -> type | None:
    """The value type of a list of values logged under ``key`` (``Audio`` for any clips);
    ``None`` for anything else.  A list mixing values with other things, or values of
    different types, raises ``TypeError`` naming the first element that differs."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    first = next((i for i, v in enumerate(value) if isinstance(v, Value)), None)
    if first is None:
        return None  # plain JSON: checked by _json_scalar
    kind = Audio if isinstance(value[first], Audio) else type(value[first])
    for i, v in enumerate(value):
        if not isinstance(v, kind) or (kind is not Audio and type(v) is not kind):
            raise TypeError(
                f"Invalid list logged as {key!r}: element {i} is {_describe(v)} but element "
                f"{first} is {_describe(value[first])}; a list logged under one key holds "
                "values of one type (all Audio, all Table, all of one registered type) or "
                "only plain values (numbers, strings, None, lists and dicts of them): log the "
                "others under their own key, or put mixed cells in a Table"
            )
    return kind


def _describe(v: Any) -> str:
    if isinstance(v, Value):
        name = type(v).__name__
        return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"
    text = repr(v)
    return f"{type(v).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


class Run:
    """A run: logs values to ``<dir>/history.jsonl`` and artifacts to a store.

    ``Run(dir=None, store=None)``: ``dir`` defaults to ``./runs/<id>``; ``store`` (a
    :class:`Store` or URL) defaults to the embedded store, opened when first needed.
    Media are copied into ``<dir>/media/<kind>/`` when logged.

    A new run never writes into another run's folder: a ``dir`` that already holds a run
    (its ``history.jsonl`` or ``lineage.jsonl``) raises :class:`FileExistsError`, unless
    ``resume=True``, which continues that run: steps go on from its last one and it keeps
    its id (the one its lineage recorded, or ``id``).  ``resume=True`` on a folder without a
    run starts one there (wandb's ``resume="allow"``; ``"allow"`` is the same);
    ``resume="must"`` raises :class:`FileNotFoundError` instead, so that a mistyped folder
    does not start a new run.
    """

    def __init__(
        self,
        dir: str | os.PathLike[str] | None = None,
        store: Store | str | None = None,
        id: str | None = None,
        *,
        resume: bool | str = False,
    ):
        if resume not in (False, True, "allow", "must"):
            raise ValueError(
                f"Invalid resume {resume!r}: give False (a new run), True or 'allow' (continue "
                "the run in dir, or start one), or 'must' (continue it; none is an error)"
            )
        if id is not None:
            check_artifact_name(id)
        self.id = id or (time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:8])
        self.dir = os.path.abspath(
            os.fspath(dir) if dir is not None else os.path.join("runs", self.id)
        )
        held = [f for f in (HISTORY, LINEAGE) if os.path.isfile(os.path.join(self.dir, f))]
        if held and not resume:
            raise FileExistsError(
                f"{self.dir} already holds a run ({held[0]}); a new run does not write into "
                "another's folder: give a new dir (or none, for ./runs/<id>), or "
                "Run(dir=..., resume=True) to continue that run"
            )
        if resume == "must" and not held:
            what = "holds no run" if os.path.isdir(self.dir) else "does not exist"
            raise FileNotFoundError(
                f"No run to resume in {self.dir}: the folder {what} (no {HISTORY} or "
                f"{LINEAGE}); check the path, or drop resume='must' to start a new run there"
            )
        if resume and id is None and LINEAGE in held:
            ids = [r["run"] for r in read_jsonl(os.path.join(self.dir, LINEAGE), "lineage", False)]
            self.id = ids[-1] if ids else self.id
        os.makedirs(self.dir, exist_ok=True)
        if store is not None and not isinstance(store, (Store, str, os.PathLike)):
            raise TypeError(f"Invalid store {store!r}: give a Store, a store URL or None")
        self._store_arg = store
        self._store: Store | None = store if isinstance(store, Store) else None
        self._start = time.time()
        self._finished = False
        rows = read_history(self.dir, load_values=False, warn=False)
        self._step = rows[-1]["_step"] + 1 if rows else 0
        end_torn_line(os.path.join(self.dir, HISTORY))

    @property
    def store(self) -> Store:
        """The store artifacts are logged to and used from."""
        if self._store is None:
            self._store = open_store(self._store_arg)  # type: ignore[arg-type]
        return self._store

    @property
    def step(self) -> int:
        """The step the next ``log`` call uses by default."""
        return self._step

    def __repr__(self) -> str:
        return f"<Run {self.id} at {self.dir}>"

    def _repr_html_(self) -> str:
        """The notebook display: plots of the logged numbers, media across steps."""
        from .preview import run_html

        return run_html(self.dir)

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.finish()

    def _check_open(self) -> None:
        if self._finished:
            raise RuntimeError(f"run {self.id} is finished; start a new Run to log more")

    # -- target protocol ------------------------------------------------------------------
    def store_media(self, media: Media) -> str:
        """Target protocol: the path of a media file bound to this run."""
        path = media.bound_path(self.dir)
        if path is None:
            raise ValueError(
                f"{media!r} is not bound to run {self.id}: log it with run.log({{key: value}}), "
                "which binds it, or call value.bind_to_run(run, key, step) on it first"
            )
        return path

    def keep_files_of(self, obj: Any) -> None:
        """Copy the files an opaque value's JSON refers to into the run folder, same paths.

        Called by ``obj.to_json(run)`` for a :class:`media.OpaqueValue` logged again (read
        from another run's history or an artifact).  Paths its source lacks are left alone.
        """
        source = obj.source
        if not hasattr(source, "open_media"):
            return
        for path in obj.paths():
            try:
                dest = join_inside(self.dir, path, "media path")
                if os.path.exists(dest):
                    continue  # already here (logged again into the run it came from)
                with source.open_media(path) as f:
                    data = f.read()
            except (FileNotFoundError, IsADirectoryError, ValueError):
                continue
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            atomic_write(dest, lambda out, data=data: out.write(data))

    # -- logging --------------------------------------------------------------------------
    def log(self, data: Mapping[str, Any], step: int | None = None) -> dict[str, Any]:
        """Append one history line: ``run.log({"loss": 0.1, "clip": Audio(...)})``.

        Media are copied into the run folder; a list of Audio is written in the ``audio``
        seq form, a list of other values (all of one type) as the list of their JSON, and
        read back as a list.  NaN and infinities are written in the ``float`` form (lines
        stay strict JSON) and read back as the floats.  ``step`` defaults to one more than
        the last; it may repeat the last step (as in wandb, the step's row then holds the
        keys of every call, a key logged twice keeping its last value) but never go back.
        Returns the line as written.
        """
        self._check_open()
        if not isinstance(data, Mapping):
            raise TypeError(f"Invalid data {data!r}: log() takes a dict of key -> value")
        if step is None:
            step = self._step
        if isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(f"Invalid step {step!r}: give an int >= 0")
        if step < self._step - 1:
            raise ValueError(
                f"Invalid step {step}: the last logged step is {self._step - 1}; steps never "
                "go back (log at that step again, or at a later one)"
            )
        row: dict[str, Any] = {
            "_type": "history-row",
            "_step": step,
            "_timestamp": time.time(),
            "_runtime": time.time() - self._start,
        }
        for key in data:  # every key is checked before any media file is written
            if not isinstance(key, str):
                raise TypeError(f"Invalid key {key!r}: history keys are str")
            if key.startswith("_"):
                raise ValueError(f"Invalid key {key!r}: keys starting with '_' are reserved")
            check_relpath(key, "run key")
            # media files are named <key>_<step>_<20 hex id>.<ext>: that name must fit too
            if len(f"{key.rsplit('/', 1)[-1]}_{step}_{'0' * 20}.xxxxxxxx".encode()) > 255:
                if isinstance(data[key], (Media, Table, list, tuple)):
                    raise ValueError(
                        f"Invalid run key {key!r}: its media file names "
                        "'<key>_<step>_<id>.<ext>' would be longer than 255 bytes"
                    )
        kinds = {}
        for key, value in data.items():  # refuse what cannot be logged before binding media
            kinds[key] = kind = _value_list(value, key)
            if kind is Audio:
                Audio.check_seq(value, key)
            elif kind is None and not isinstance(value, Value):
                _json_scalar(value, key)
        for key, value in data.items():
            row[key] = self._encode(value, key, step, kinds[key])
        schemas.validate(row, "history-row")
        try:
            line = json.dumps(row, ensure_ascii=False, sort_keys=True, allow_nan=False) + "\n"
        except ValueError:  # a value's own JSON holds NaN: it has no float form to use
            bad = next(k for k in data if not _strict(row[k]))
            raise ValueError(
                f"Invalid value for {bad!r}: its JSON holds NaN or infinity, which JSON has "
                "not; give the value finite numbers (or None), or log the number under its "
                "own key (the history keeps NaN there)"
            ) from None
        fd = open_append(os.path.join(self.dir, HISTORY))
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        self._step = step + 1
        return row

    def _encode(self, value: Any, key: str, step: int, kind: type | None) -> Any:
        if kind is Audio:
            return Audio.seq_to_json(value, self, key, step)
        if kind is not None:
            return [self._encode(v, key, step, None) for v in value]
        if isinstance(value, Media):
            value.ensure_bound(self, key, step)
            return checked_json(value, self)
        if isinstance(value, Table):
            value.bind_to_run(self, key, step)
            return value.to_json(self)
        if isinstance(value, Value):
            return checked_json(value, self)
        return _json_scalar(value, key)

    def history(self) -> list[dict[str, Any]]:
        """The rows logged so far, with values rebuilt (media lazy, read from the folder)."""
        return read_history(self.dir)

    # -- artifacts ------------------------------------------------------------------------
    def log_artifact(self, draft: Artifact, aliases: Iterable[str] = ()) -> Artifact:
        """Commit ``draft`` to the run's store, recording that this run logged it."""
        self._check_open()
        committed = self.store.commit(draft, aliases, run_id=self.id)
        self._lineage("logged", committed)
        return committed

    def use_artifact(self, ref: str | Version) -> Version:
        """The committed artifact ``ref``, recording that this run used it.

        ``ref`` is a reference (``"clips:latest"``, looked up in the run's store) or a
        committed version (``store.artifact(...)``, ``store.commit(...)``), whose use is
        recorded in the store that holds it.
        """
        self._check_open()
        if isinstance(ref, Version):
            # looked up again: a version deleted since it was loaded is not recorded as used
            artifact = ref.store.artifact(ref.qualified_name)
            if artifact.digest != ref.digest:
                raise ValueError(
                    f"Invalid artifact {ref.qualified_name}: the store now holds other content "
                    "under that version; load it again (store.artifact(...)) and use that"
                )
            self._lineage("used", artifact, artifact.store)
            return ref
        if isinstance(ref, Artifact):
            raise TypeError(
                f"Invalid artifact {ref!r}: a draft is not committed; use a committed version "
                "(run.log_artifact(draft) returns one) or a reference like 'clips:latest'"
            )
        if not isinstance(ref, str):
            raise TypeError(
                f"Invalid artifact {ref!r}: give a reference like 'clips:latest' or a committed "
                "version (store.artifact(...))"
            )
        artifact = self.store.artifact(ref)
        self._lineage("used", artifact)
        return artifact

    def _lineage(self, action: str, artifact: Artifact, store: Store | None = None) -> None:
        record = (store or self.store).record_lineage(self.id, action, artifact)
        fd = open_append(os.path.join(self.dir, LINEAGE))
        try:
            os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode())
        finally:
            os.close(fd)

    def lineage(self) -> list[dict[str, Any]]:
        """The lineage records of this run: which versions it logged and used."""
        path = os.path.join(self.dir, LINEAGE)
        if not os.path.exists(path):
            return []
        return read_jsonl(path, "lineage", warn=True)

    def finish(self) -> None:
        """End the run: further ``log`` calls raise."""
        self._finished = True


def _strict(obj: Any) -> bool:
    """Whether ``obj`` is JSON without NaN or infinities."""
    try:
        json.dumps(obj, allow_nan=False)
    except ValueError:
        return False
    return True
