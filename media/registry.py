"""The registry of value types: a dict from type tag to class.

Built-in types are registered explicitly in :mod:`media`; installed plugins are found
through the entry-point group ``media.types`` (entry-point name = tag, value =
``module:Class``) and loaded lazily, the first time a lookup misses or the whole mapping is
asked for.  A tag names a wire format: nothing read from stored data is ever imported.
"""

from __future__ import annotations

import re
import threading
import warnings
from importlib.metadata import entry_points
from typing import Any

import schemas

from .errors import PluginWarning, UnknownTypeError

__all__ = ["register", "lookup", "type_mapping", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "media.types"
TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")  # no ".": entries end .<tag>.json
#: tags of the library's own JSON forms that are not value types (``audio`` is the list of
#: clips a run logs under one key): a class registered under one would be checked, and read
#: back, as that form
RESERVED_TAGS = frozenset(
    {"alias", "audio", "float", "history-row", "lineage", "manifest", "pack-index", "store"}
)

# (a leaf: this module imports no value type; media.value hands it the base class, which
# every registered type must subclass, when it is imported, as ``media`` always does)
_base: list[type] = []
_types: dict[str, type[Any]] = {}
_lock = threading.RLock()
_entry_points_seen: set[str] = set()
_derived: set[str] = set()  # tags whose schema register() derived (no json_schema given)
_broken: dict[str, str] = {}  # tag -> why its installed plugin could not be loaded


def derived_schema(tag: str) -> dict:
    """The schema of a type registered without one: an object whose ``"_type"`` is ``tag``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"{tag} (derived: only the type tag is checked)",
        "type": "object",
        "required": ["_type"],
        "properties": {"_type": {"const": tag}},
    }


def accept_subclasses_of(base: type) -> None:
    """Set the base class of every value type (called once, by :mod:`media.value`)."""
    _base[:] = [base]


def base() -> type:
    """The base class of every value type (``media.Value``)."""
    return _base[0]


def register(cls: type[Any], *, replace: bool = False) -> type[Any]:
    """Register ``cls`` under its ``artifact_type`` tag and return it (usable as a decorator).

    The same class twice is a no-op; a different class under a taken tag raises
    ``ValueError`` unless ``replace=True``.  The class's JSON Schema is its class attribute
    ``json_schema`` when set, else the built-in one of its tag; a class with neither (the
    wandb way: ``artifact_type``, ``to_json``, ``from_json``) gets a derived schema that
    checks only that ``"_type"`` is its tag.
    """
    if not (isinstance(cls, type) and _base and issubclass(cls, _base[0])):
        raise TypeError(f"Invalid media type {cls!r}: register() takes a subclass of media.Value")
    tag = cls.__dict__.get("artifact_type")
    if not isinstance(tag, str) or not TAG_RE.match(tag):
        raise ValueError(
            f"Invalid type tag {tag!r} on {cls.__qualname__}: set the class attribute "
            "artifact_type to 1-64 characters of a-z, 0-9, '_' or '-'"
        )
    if tag in RESERVED_TAGS:
        raise ValueError(
            f"type tag {tag!r} of {cls.__qualname__} names one of the library's own JSON forms "
            f"({', '.join(sorted(RESERVED_TAGS))}); choose another artifact_type, e.g. "
            f"'{tag}-{cls.__name__.lower()}'"
        )
    with _lock:
        current = _types.get(tag)
        if current is cls:
            return cls
        if current is not None and not replace:
            raise ValueError(
                f"type tag {tag!r} is already registered to "
                f"{current.__module__}.{current.__qualname__}; choose another artifact_type "
                f"for {cls.__module__}.{cls.__qualname__} (a tag names one wire format)"
            )
        document = cls.__dict__.get("json_schema")
        if document is not None:
            problem = schemas.schema_problem(document)
            if problem is not None:
                raise ValueError(
                    f"Invalid json_schema on {cls.__module__}.{cls.__qualname__}: {problem}. "
                    "Fix the class attribute json_schema (a JSON Schema 2020-12 document, "
                    f"e.g. {{'type': 'object', 'required': ['_type'], 'properties': "
                    f"{{'_type': {{'const': {tag!r}}}}}}}), or leave it out to get a schema "
                    "that checks only '_type'"
                )
            # a schema derived for an earlier class of this tag gives way to a real one
            schemas.register_schema(tag, document, replace=tag in _derived)
            _derived.discard(tag)
        else:
            try:
                schemas.load(tag)
            except LookupError:
                schemas.register_schema(tag, derived_schema(tag))
                _derived.add(tag)
        _types[tag] = cls
    return cls


def _load_entry_points(tag: str | None) -> None:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if (tag is not None and ep.name != tag) or ep.name in _entry_points_seen:
            continue
        with _lock:
            if ep.name in _entry_points_seen:
                continue
            _entry_points_seen.add(ep.name)
            try:
                cls = ep.load()
                if getattr(cls, "artifact_type", None) != ep.name:
                    raise ValueError(
                        f"entry point name {ep.name!r} differs from the class's "
                        f"artifact_type {getattr(cls, 'artifact_type', None)!r}"
                    )
                register(cls)
                _broken.pop(ep.name, None)
            except Exception as exc:  # a broken plugin must not break every other type
                _broken[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
                warnings.warn(
                    f"media type plugin {ep.name!r} ({ep.value}) could not be loaded: {exc}",
                    PluginWarning,
                    stacklevel=3,
                )


def lookup(tag: str) -> type[Any]:
    """Return the class registered for ``tag``, loading an installed plugin if needed.

    Raises :class:`media.UnknownTypeError` listing the known tags.
    """
    cls = _types.get(tag) if isinstance(tag, str) else None
    if cls is None and isinstance(tag, str):
        _load_entry_points(tag)
        cls = _types.get(tag)
    if cls is None:
        known = sorted(type_mapping())
        raise UnknownTypeError(
            tag, known, broken=_broken.get(tag) if isinstance(tag, str) else None
        )
    return cls


def type_mapping() -> dict[str, type[Any]]:
    """A copy of the registry, tag -> class, including every installed plugin."""
    _load_entry_points(None)
    with _lock:
        return dict(sorted(_types.items()))
