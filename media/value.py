"""``Value``, the base of every type that writes itself to JSON, and ``Media``, a value
backed by one file; plus the small protocols through which values reach stores and runs.

How values travel
-----------------
``value.to_json(target)`` returns a JSON-serializable dict.  A :class:`Media` value hands its
file to the target through the **target protocol** (:class:`MediaTarget`): the target stores
the file wherever it keeps files and returns the path, relative to the JSON, under which it
did so.  A run folder and an artifact draft are both targets; so is anything else with a
``store_media`` method.

``cls.from_json(json_obj, source)`` rebuilds a value.  Media files are read lazily through
the **source protocol** (:class:`MediaSource`): ``source.open_media(path, sha256, size)``
opens the file stored at ``path`` relative to the JSON's folder and checks its bytes.  A
committed artifact is a source; so is :class:`FolderSource`, a plain folder (a run folder or
a folder written by another tool).

A source may also have the optional method
``source.read_media_range(path, offset, length, sha256=None, size=None) -> bytes``: bytes
``offset`` to ``offset + length`` of that file (fewer only where the file ends first), which
the source guarantees are the stored file's bytes (checked against what it recorded of the
file, or read from the file itself).  A window of a clip (``Audio.numpy(start, stop)``, a
segment) uses it to read only the bytes it needs; from a source without it, the window is
cut from the whole file, read and checked through ``open_media``.  And the optional method
``source.read_media(path, sha256=None, size=None)``: the whole file's checked bytes as one
buffer that is the caller's own (an array built on it may be changed), which a whole clip is
read with (from a source without it: through ``open_media``).

Neither protocol knows about the other side's implementation: a new store or run needs no
change here, and a new value type needs no change in the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import IO, Any, ClassVar, NamedTuple, Protocol, runtime_checkable

import schemas

from . import registry
from .errors import IntegrityError, SchemaError
from .files import (
    CHUNK,
    FolderSource,
    InMemory,
    LocalFile,
    SourceFile,
    hash_stream,
)
from .paths import atomic_write, check_relpath, join_inside

__all__ = [
    "Value",
    "Media",
    "ArtifactSource",
    "MediaTarget",
    "MediaSource",
    "RunFolder",
    "FolderSource",
]


class ArtifactSource(NamedTuple):
    """Where a value was loaded from: the source (an artifact) and the entry name."""

    artifact: Any
    name: str | None


@runtime_checkable
class MediaTarget(Protocol):
    """Something a :class:`Media` value can write its file to (a run, an artifact draft)."""

    def store_media(self, media: Media) -> str:
        """Store ``media``'s file (or a reference to it) and return its relative path."""
        ...


@runtime_checkable
class MediaSource(Protocol):
    """Something stored media files can be read from (a committed artifact, a folder)."""

    def open_media(
        self, path: str, sha256: str | None = None, size: int | None = None
    ) -> IO[bytes]:
        """Open the file at relative ``path`` for binary reading.

        ``sha256`` and ``size``, when given, are what the caller expects; a source that can
        check them raises :class:`media.IntegrityError` on a mismatch.  A missing file
        raises ``FileNotFoundError``.
        """
        ...


@runtime_checkable
class RunFolder(Protocol):
    """What ``Media.bind_to_run`` needs of a run: a local folder, ``dir``."""

    dir: str


class Value:
    """Base of every value that can be written to JSON and read back.

    A subclass sets ``artifact_type`` (its type tag, the ``"_type"`` of its JSON), implements
    :meth:`to_json` and :meth:`from_json`, and is registered with :func:`media.register`.
    A type whose tag has no document in :mod:`schemas` carries its JSON Schema as the class
    attribute ``json_schema``.  Equality compares :meth:`_eq_key` of two values of the same
    class; a value never equals an object of another class.
    """

    artifact_type: ClassVar[str] = ""
    json_schema: ClassVar[dict[str, Any] | None] = None
    artifact_source: ArtifactSource | None = None

    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """Return this value's JSON form; media files go to ``run_or_artifact``."""
        raise NotImplementedError

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> Value:
        """Rebuild a value from its (already validated) JSON form."""
        raise NotImplementedError

    @classmethod
    def init_from_json(
        cls, json_obj: dict[str, Any], source_artifact: Any, name: str | None = None
    ) -> Value:
        """Validate ``json_obj``, dispatch on its ``"_type"`` and rebuild the value.

        The result's ``artifact_source`` is ``ArtifactSource(source_artifact, name)`` (``None``
        when ``source_artifact`` is ``None``).  Raises :class:`media.UnknownTypeError` for an
        unknown tag and :class:`media.SchemaError` naming the failing field for invalid JSON.
        """
        if not isinstance(json_obj, dict):
            raise SchemaError("?", "$", f"expected a JSON object, got {type(json_obj).__name__}")
        tag = json_obj.get("_type")
        if not isinstance(tag, str):
            raise SchemaError("?", "$._type", "missing, or not a string")
        target_cls = registry.lookup(tag)
        try:
            schemas.validate(json_obj, tag)
            obj = target_cls.from_json(json_obj, source_artifact)
        except RecursionError:
            raise SchemaError(tag, "$", "nested too deeply to read") from None
        obj.artifact_source = (
            ArtifactSource(source_artifact, name) if source_artifact is not None else None
        )
        return obj

    @classmethod
    def type_mapping(cls) -> dict[str, type[Value]]:
        """Type tag -> class for every built-in and registered type."""
        return registry.type_mapping()

    @classmethod
    def with_suffix(cls, name: str, filetype: str = "json") -> str:
        """``name`` with ``.<artifact_type>.<filetype>`` appended, unless it already ends so.

        A class without a type tag (``Value`` itself) raises ``TypeError``.
        """
        if not cls.artifact_type:
            raise TypeError(
                f"{cls.__qualname__} has no artifact_type (type tag), so no suffix: call "
                "with_suffix on a value type, e.g. Audio.with_suffix(name); a custom type "
                "sets the class attribute artifact_type"
            )
        suffix = f".{cls.artifact_type}.{filetype}"
        return name if name.endswith(suffix) else name + suffix

    def _eq_key(self) -> Any:
        """What equality compares; subclasses return their content.

        The default is the instance's attributes, except where it was loaded from
        (``artifact_source``): two values of one class with equal attributes are equal, as a
        type registered the wandb way (no ``_eq_key``) expects after a round trip.
        """
        key = dict(getattr(self, "__dict__", {}))
        for cls in type(self).__mro__:  # attributes in __slots__ too
            slots = cls.__dict__.get("__slots__", ())
            for name in (slots,) if isinstance(slots, str) else slots:
                if name not in ("__dict__", "__weakref__") and hasattr(self, name):
                    key.setdefault(name, getattr(self, name))
        key.pop("artifact_source", None)
        return key

    # -- display --------------------------------------------------------------------------
    def to_html(self) -> str | None:
        """An HTML fragment that shows this value, or ``None`` (the default) to be shown as
        its type and JSON.  The hook of custom types: the preview page (``artifacts view``)
        and the notebook display both call it.  The fragment must be self-contained (media
        as ``data:`` URIs, e.g. :func:`media.display.data_uri`) and must escape every text
        it shows (``html.escape``); it is inserted as is.  ``Audio`` and ``Table`` are shown
        by :mod:`media.display` itself."""
        return None

    def _repr_html_(self) -> str:
        """The notebook display (Jupyter calls this): see :mod:`media.display`."""
        from . import display  # lazily: the display code is only needed when showing

        return display.notebook(display.value_html(self))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False  # not NotImplemented: numpy would answer with an array of bools
        if other is self:
            return True
        mine, theirs = self._eq_key(), other._eq_key()  # type: ignore[attr-defined]
        try:
            return bool(mine == theirs)
        except (ValueError, TypeError):  # arrays among the attributes: no single bool
            return _same(mine, theirs)

    __hash__ = None  # type: ignore[assignment]  # values are compared by (mutable) content


def _same(a: Any, b: Any) -> bool:
    """Equality of two equality keys whose ``==`` gives no single bool (NumPy arrays inside
    dicts, lists or tuples): arrays are equal with equal shapes and elements; anything else
    that still cannot say is unequal (never an exception)."""
    if a is b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if hasattr(a, "__array__") and hasattr(b, "__array__"):
        import numpy  # (only here: a custom value holding arrays)

        try:
            return bool(numpy.array_equal(a, b))
        except (ValueError, TypeError):
            return False
    try:
        return bool(a == b)
    except (ValueError, TypeError):
        return False


registry.accept_subclasses_of(Value)

#: types whose ``to_json`` is tested against their schemas (the built-in ones, set by
#: :mod:`media`): their JSON is not checked again on every write, which keeps adding many
#: clips fast
TRUSTED_JSON: set[type] = set()


def trust_json_of(*types: type) -> None:
    """Mark ``types`` (exactly these classes, not their subclasses) as writing valid JSON."""
    TRUSTED_JSON.update(types)


def checked_json(value: Value, target: Any) -> dict[str, Any]:
    """``value.to_json(target)``, checked unless ``value`` is of a built-in type.

    What a custom type's ``to_json`` returns must be a JSON object whose ``"_type"`` is the
    class's ``artifact_type`` and which matches that tag's schema (its ``json_schema``, or the
    derived one); else :class:`SchemaError` names the class, the field and what to fix, so a
    value that could never be read back is refused when it is written.  A type with no schema
    at all (never registered) is only checked for its tag: it is read back as an
    :class:`media.OpaqueValue`.
    """
    obj = value.to_json(target)
    if type(value) not in TRUSTED_JSON:
        check_written_json(type(value), obj)
    return obj


def check_written_json(cls: type, obj: Any) -> None:
    """Refuse ``obj`` as what ``cls.to_json`` wrote (see :func:`checked_json`)."""
    tag = cls.artifact_type
    where = f"{cls.__module__}.{cls.__qualname__}.to_json"
    if not isinstance(obj, dict):
        raise SchemaError(
            tag,
            "$",
            f"{where} returned a {type(obj).__name__}, not a dict: return a JSON object "
            f"such as {{'_type': {tag!r}, ...}}",
        )
    if obj.get("_type") != tag:
        raise SchemaError(
            tag,
            "$._type",
            f"{where} returned '_type' {obj.get('_type')!r}, but {cls.__qualname__}'s "
            f"artifact_type is {tag!r}: return {{'_type': self.artifact_type, ...}} (another "
            "type's tag would be read back as that other type)",
        )
    try:
        if schemas.is_valid(obj, tag):
            return
    except LookupError:
        return  # no schema: an unregistered type, kept as is and read back opaque
    try:  # judged as it is stored and read back: tuples become lists
        stored = json.loads(json.dumps(obj))
    except (TypeError, ValueError, RecursionError):
        stored = obj  # (not JSON at all: the writer says so, or the schema does here)
    if stored is not obj and schemas.is_valid(stored, tag):
        return
    try:
        schemas.validate(stored, tag)
    except SchemaError as exc:
        if cls.__dict__.get("json_schema") is not None:
            schema = f"{cls.__qualname__}.json_schema"
        else:
            schema = f"the schema registered for {tag!r}"
        raise SchemaError(
            tag,
            exc.field,
            f"{exc.reason} (in what {where} returned: it must match {schema}, or it could "
            "not be read back; fix to_json or the schema)",
        ) from None


class Media(Value):
    """A value backed by one file.

    The file is held in memory, in a local file, or behind a source (lazily).  ``sha256``
    and ``size`` are computed by streaming, once.  ``bind_to_run`` copies the file into a
    run folder; ``to_json(target)`` hands it to a :class:`MediaTarget`.
    """

    _media_kind: ClassVar[str] = "file"

    def __init__(self) -> None:
        self._file: InMemory | LocalFile | SourceFile | None = None
        self._sha256: str | None = None
        self._size: int | None = None
        self._extension: str = "bin"
        self._run_dir: str | None = None
        self._run_path: str | None = None

    # -- the file -------------------------------------------------------------------------
    def _set_bytes(self, data: bytes, extension: str) -> None:
        self._file = InMemory(data)
        self._extension = extension
        self._size = len(data)
        self._sha256 = None

    def _set_local_file(
        self, path: str, extension: str, read_at: os.stat_result | None = None
    ) -> None:
        """Keep ``path`` as the media file; ``read_at`` is its ``os.stat`` from before the
        value read facts from it (a header), so a change before it is hashed is refused."""
        self._file = LocalFile(path, read_at)
        self._extension = extension
        self._sha256 = self._size = None

    def _set_source_file(
        self, source: Any, path: str, sha256: str, size: int | None, extension: str
    ) -> None:
        self._file = SourceFile(source, path, sha256, size)
        self._extension = extension
        self._sha256 = sha256
        self._size = size

    def _materialize(self) -> None:
        """Create the file of a value that makes it lazily (an Audio made from an array)."""
        raise ValueError(f"{type(self).__name__} has no file set")

    def _current(self) -> InMemory | LocalFile | SourceFile:
        if self._file is None:
            self._materialize()
        return self._file  # type: ignore[return-value]

    def _hash(self) -> None:
        f = self._current()
        if isinstance(f, InMemory):
            self._sha256 = hashlib.sha256(f.data).hexdigest()
            self._size = len(f.data)
            return
        if isinstance(f, LocalFile):
            f.check_unchanged(self)
        with self.open() as stream:
            digest, size = hash_stream(stream)
        if isinstance(f, LocalFile):
            f.check_unchanged(self)  # (changed while it was hashed)
        if self._sha256 is not None and digest != self._sha256:
            raise IntegrityError(f"{self!r}: file bytes do not match sha256 {self._sha256}")
        self._sha256, self._size = digest, size

    @property
    def sha256(self) -> str:
        """Hex sha256 of the media file."""
        if self._sha256 is None:
            self._hash()
        return self._sha256  # type: ignore[return-value]

    @property
    def size(self) -> int:
        """Size of the media file in bytes."""
        if self._size is None:
            self._hash()
        return self._size  # type: ignore[return-value]

    @property
    def extension(self) -> str:
        """File extension of the media file, without the dot (``"wav"``)."""
        return self._extension

    def open(self) -> IO[bytes]:
        """Open the media file for binary reading (checked against its digest when stored)."""
        return self._current().open()

    def local_path(self) -> str | None:
        """A local file with exactly the media bytes, or ``None`` when there is none."""
        return self._current().local_path()

    def in_memory_bytes(self) -> bytes | None:
        """The media bytes when they are held in memory, else ``None``."""
        f = self._current()
        return f.data if isinstance(f, InMemory) else None

    def source_file(self) -> tuple[Any, str] | None:
        """``(source, path)`` when the bytes live behind a source (a loaded value)."""
        f = self._current()
        return (f.source, f.path) if isinstance(f, SourceFile) else None

    def file_is_set(self) -> bool:
        """Whether the value has a media file."""
        return self._file is not None

    # -- runs -----------------------------------------------------------------------------
    @classmethod
    def get_media_subdir(cls) -> str:
        """Folder, relative to a run or artifact root, where this type's files go."""
        return f"media/{cls._media_kind}"

    def is_bound(self) -> bool:
        """Whether :meth:`bind_to_run` has placed the file in a run folder."""
        return self._run_path is not None

    def bind_to_run(
        self, run: RunFolder, key: str, step: int | str, id_: str | None = None
    ) -> None:
        """Copy the file into ``<run.dir>/<media subdir>/<key>_<step>_<id>.<ext>``.

        ``id_`` defaults to the first 20 hex digits of the sha256.  ``key`` may contain
        ``/`` (sub-folders) but never leaves the run folder: absolute keys, ``..``,
        backslashes and NUL raise ``ValueError`` before anything is written.
        """
        if not isinstance(key, str):
            raise TypeError(f"Invalid run key {key!r}: expected a str")
        if not isinstance(getattr(run, "dir", None), (str, os.PathLike)):
            raise TypeError(
                f"Invalid run {run!r}: bind_to_run needs a run (an object whose .dir is the "
                "run's local folder, such as artifacts.Run)"
            )
        check_relpath(key, "run key")
        if id_ is None:
            id_ = self.sha256[:20]
        for what, part in (("step", step), ("id_", id_)):
            text = str(part)
            if not text or "/" in text or "\\" in text or "\x00" in text:
                raise ValueError(
                    f"Invalid {what} {part!r}: it becomes part of a file name, so it may not be "
                    "empty or contain '/', '\\' or NUL"
                )
        rel = f"{self.get_media_subdir()}/{key}_{step}_{id_}.{self._extension}"
        check_relpath(rel, "media file name")
        run_dir = os.fspath(run.dir)
        dest = join_inside(run_dir, rel, "run key")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        self._copy_to(dest)
        self._run_dir = os.path.realpath(run_dir)
        self._run_path = rel

    def ensure_bound(self, run: RunFolder, key: str, step: int | str) -> None:
        """:meth:`bind_to_run` unless the file is already bound to this run."""
        run_dir = getattr(run, "dir", None)
        if not isinstance(run_dir, (str, os.PathLike)) or self.bound_path(run_dir) is None:
            self.bind_to_run(run, key, step)  # (a TypeError for a target that is no run)

    def bound_path(self, run_dir: str) -> str | None:
        """Path of the bound file relative to ``run_dir``, or ``None`` if bound elsewhere."""
        if self._run_path is None or self._run_dir != os.path.realpath(run_dir):
            return None
        return self._run_path

    def _copy_to(self, dest: str) -> None:
        """Write the media bytes to local file ``dest`` atomically (temp file, then rename)."""

        def fill(out: IO[bytes]) -> None:
            data = self.in_memory_bytes()
            if data is not None:
                out.write(data)
            else:
                with self.open() as src:
                    shutil.copyfileobj(src, out, CHUNK)

        atomic_write(dest, fill)

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """``{"_type", "path", "sha256", "size"}``; the file goes to ``run_or_artifact``."""
        store_media = getattr(run_or_artifact, "store_media", None)
        if not callable(store_media):  # (isinstance with the Protocol is 10x slower)
            raise TypeError(
                f"Invalid target {run_or_artifact!r}: to_json needs a run or an artifact "
                "draft (an object with store_media(media) -> path)"
            )
        path = store_media(self)
        return {"_type": self.artifact_type, "path": path, "sha256": self.sha256, "size": self.size}

    def _eq_key(self) -> Any:
        return self.sha256
