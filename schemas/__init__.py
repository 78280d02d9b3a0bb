"""JSON Schema documents (2020-12) for every JSON form media-artifacts writes.

Each form has a type tag (its ``"_type"``) and a document ``<tag>.schema.json`` in this
package.  Plugins add the schema of their own tag with :func:`register_schema`.

This package depends on nothing else of the project: :class:`SchemaError` is defined here
and re-exported by :mod:`media`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from importlib import resources
from typing import Any, NamedTuple

import jsonschema
import jsonschema_rs
import referencing
from jsonschema.validators import Draft202012Validator

__all__ = [
    "SchemaError",
    "load",
    "validate",
    "is_valid",
    "quick_validator",
    "register_schema",
    "schema_problem",
    "tags",
]


class SchemaError(ValueError):
    """A JSON object does not match the schema of its type.

    ``tag`` is the type tag, ``field`` the JSON path of the failing field (``"$"`` for the
    object itself) and ``reason`` what is wrong with it.
    """

    def __init__(self, tag: str, field: str, reason: str):
        self.tag = tag
        self.field = field
        self.reason = reason
        super().__init__(f"invalid {tag!r} JSON at {field}: {reason}")


_lock = threading.Lock()
_extra: dict[str, dict[str, Any]] = {}


class _Compiled(NamedTuple):
    """The validators of one tag: a compiled one (jsonschema-rs) answers "valid?" fast;
    the Python one (jsonschema) names the failing field when the answer is no."""

    python: Draft202012Validator
    fast: Any  # a jsonschema_rs validator, or None when it cannot compile the document


_validators: dict[str, _Compiled] = {}


def tags() -> list[str]:
    """Every tag with a schema: the built-in documents and the registered ones, sorted."""
    built_in = [
        p.name[: -len(".schema.json")]
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".schema.json")
    ]
    return sorted(set(built_in) | set(_extra))


def load(tag: str) -> dict[str, Any]:
    """Return the schema document for ``tag`` (a copy: changing it changes nothing here).

    Raises ``LookupError`` when no document exists for ``tag``.
    """
    return json.loads(json.dumps(_load(tag)))


def _load(tag: str) -> dict[str, Any]:
    if tag in _extra:
        return _extra[tag]
    if not isinstance(tag, str) or not tag or "/" in tag or "\\" in tag or tag.startswith("."):
        raise LookupError(f"no JSON schema for type tag {tag!r}")
    res = resources.files(__name__).joinpath(f"{tag}.schema.json")
    if not res.is_file():
        raise LookupError(f"no JSON schema for type tag {tag!r}; known tags: {', '.join(tags())}")
    return json.loads(res.read_text(encoding="utf-8"))


def register_schema(tag: str, document: dict[str, Any], *, replace: bool = False) -> None:
    """Make ``document`` the schema of ``tag`` (used for plugin types).

    The document must itself be a valid JSON Schema 2020-12; registering the same document
    twice is a no-op, a different document for a tag that already has one raises
    ``ValueError`` unless ``replace=True`` (which replaces a registered, not a built-in, one).
    """
    Draft202012Validator.check_schema(document)
    with _lock:
        try:
            current = _load(tag)
        except LookupError:
            current = None
        if current is not None and current != document and not (replace and tag in _extra):
            raise ValueError(f"type tag {tag!r} already has a different JSON schema")
        _extra[tag] = document
        _validators.pop(tag, None)


def schema_problem(document: Any) -> str | None:
    """What makes ``document`` an invalid JSON Schema 2020-12, in one line (where, and what
    is wrong), or ``None`` when it is valid."""
    if not isinstance(document, dict):
        return f"it is a {type(document).__name__}, not a dict (a JSON object)"
    error = jsonschema.exceptions.best_match(
        Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(document)
    )
    if error is None:
        return None
    where = _field(error)
    hint = ""
    if error.path and error.path[-1] == "type" and error.validator == "anyOf":
        hint = (
            " (a type is 'array', 'boolean', 'integer', 'null', 'number', 'object' or "
            "'string', or a list of them)"
        )
    return f"at {where}: {error.message}{hint}"


def _validator(tag: str) -> _Compiled:
    v = _validators.get(tag)
    if v is None:
        with _lock:
            v = _validators.get(tag)
            if v is None:
                document = _load(tag)
                documents = _documents()
                python = Draft202012Validator(document, registry=_registry(documents))
                try:
                    registry = jsonschema_rs.Registry(documents)
                    fast = jsonschema_rs.Draft202012Validator(document, registry=registry)
                except (ValueError, jsonschema_rs.ReferencingError):
                    fast = None  # (a plugin's document the compiled validator refuses)
                v = _validators[tag] = _Compiled(python, fast)
    return v


def _documents() -> list[tuple[str, dict[str, Any]]]:
    """``($id, document)`` of every schema that has an ``$id``."""
    out = []
    for tag in tags():
        document = _load(tag)
        if "$id" in document:
            out.append((document["$id"], document))
    return out


def _registry(documents: list[tuple[str, dict[str, Any]]]) -> referencing.Registry:
    """All documents by their ``$id``, so that one schema can ``$ref`` another."""
    resources_ = [(i, referencing.Resource.from_contents(d)) for i, d in documents]
    return referencing.Registry().with_resources(resources_)


def _field(error: jsonschema.ValidationError) -> str:
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validate(obj: Any, tag: str | None = None) -> None:
    """Validate ``obj`` against the schema of ``tag`` (default: ``obj["_type"]``).

    Raises :class:`SchemaError` naming the failing field; a missing or unknown tag is a
    :class:`SchemaError` too.
    """
    if tag is None:
        if not isinstance(obj, dict):
            raise SchemaError("?", "$", f"expected a JSON object, got {type(obj).__name__}")
        tag = obj.get("_type")
        if not isinstance(tag, str):
            raise SchemaError("?", "$._type", "missing or not a string")
    try:
        validator = _validator(tag)
    except LookupError as exc:
        raise SchemaError(tag, "$._type", str(exc)) from None
    if _fast_valid(validator, obj):
        return
    error = jsonschema.exceptions.best_match(validator.python.iter_errors(obj))
    if error is not None:
        raise SchemaError(tag, _field(error), _reason(error))


def is_valid(obj: Any, tag: str) -> bool:
    """Whether ``obj`` matches the schema of ``tag`` (no message: see :func:`validate`).

    Raises ``LookupError`` for a tag without a schema.
    """
    validator = _validator(tag)
    if _fast_valid(validator, obj):
        return True
    return bool(validator.python.is_valid(obj))


def quick_validator(document: dict[str, Any]) -> Callable[[Any], bool]:
    """A quick check against ``document`` (a schema that may ``$ref`` the built-in ones):
    a function of a JSON object that says ``True`` only when the compiled validator
    (jsonschema-rs) finds it valid.  ``False`` means "not known to be valid" (no compiled
    validator, or it said no): the caller then checks another way and says why.  Compile
    once, call often."""
    try:
        fast = jsonschema_rs.Draft202012Validator(
            document, registry=jsonschema_rs.Registry(_documents())
        )
    except (ValueError, jsonschema_rs.ReferencingError):
        fast = None
    compiled = _Compiled(None, fast)  # type: ignore[arg-type]
    return lambda obj: _fast_valid(compiled, obj)


def _fast_valid(validator: _Compiled, obj: Any) -> bool:
    """The compiled validator's yes; ``False`` means "ask jsonschema" (it also says no for
    Python objects it cannot read as JSON, such as tuples or NumPy scalars)."""
    if validator.fast is None:
        return False
    try:
        return bool(validator.fast.is_valid(obj))
    except (ValueError, TypeError, OverflowError, RecursionError):
        return False


def _reason(error: jsonschema.ValidationError) -> str:
    if error.validator == "pattern":
        what = error.schema.get("description", "")
        return f"{error.instance!r} is not of the required form" + (f": {what}" if what else "")
    return error.message
