"""A fast yes-or-"ask jsonschema" check for the simple schemas the project's forms use.

``check(schema, obj)`` returns ``True`` only when ``obj`` surely satisfies ``schema``;
``False`` means "not sure": the caller then runs jsonschema, which decides and names the
failing field.  It understands a subset of JSON Schema 2020-12 and is stricter than it
(``1.0`` is not an integer here, ``const`` and ``enum`` compare types exactly);
:func:`supported` tells whether a document uses only that subset.  jsonschema walks a
small object in about 0.2 ms; this takes a few microseconds, which matters when thousands
of values are loaded.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["supported", "check"]

_ANNOTATIONS = {"$schema", "$id", "$comment", "title", "description", "default", "examples"}
_KEYWORDS = {
    "type",
    "const",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "propertyNames",
    "items",
    "minItems",
    "maxItems",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "anyOf",
}
_SCALARS = (str, int, float, bool, type(None))
_TYPES: dict[str, Any] = {
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
    "string": lambda x: type(x) is str,
    "integer": lambda x: type(x) is int,
    "number": lambda x: type(x) in (int, float),
    "boolean": lambda x: type(x) is bool,
    "null": lambda x: x is None,
}


def supported(schema: Any) -> bool:
    """Whether :func:`check` understands every keyword of ``schema`` (recursively)."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict):
        return False
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key not in _KEYWORDS:
            return False
        if key == "type":
            names = value if isinstance(value, list) else [value]
            if not all(n in _TYPES for n in names):
                return False
        elif key in ("const", "enum"):
            items = value if key == "enum" else [value]
            if not isinstance(items, list) or not all(isinstance(v, _SCALARS) for v in items):
                return False
        elif key == "properties":
            if not all(supported(s) for s in value.values()):
                return False
        elif key in ("additionalProperties", "propertyNames", "items"):
            if not supported(value):
                return False
        elif key == "anyOf":
            if not all(supported(s) for s in value):
                return False
        elif key == "pattern":
            re.compile(value)
    return True


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def check(schema: Any, x: Any) -> bool:
    """``True`` when ``x`` surely satisfies ``schema`` (a :func:`supported` document)."""
    if schema is True:
        return True
    if schema is False:
        return False
    t = schema.get("type")
    if t is not None:
        if isinstance(t, list):
            if not any(_TYPES[n](x) for n in t):
                return False
        elif not _TYPES[t](x):
            return False
    if "const" in schema and not _same(x, schema["const"]):
        return False
    if "enum" in schema and not any(_same(x, v) for v in schema["enum"]):
        return False
    tx = type(x)
    if tx is dict:
        for key in schema.get("required", ()):
            if key not in x:
                return False
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        names = schema.get("propertyNames")
        for key, value in x.items():
            sub = props.get(key)
            if sub is not None:
                if not check(sub, value):
                    return False
            elif extra is not True and not check(extra, value):
                return False
            if names is not None and not check(names, key):
                return False
    elif tx is list:
        if "minItems" in schema and len(x) < schema["minItems"]:
            return False
        if "maxItems" in schema and len(x) > schema["maxItems"]:
            return False
        items = schema.get("items")
        if items is not None and items is not True:
            if not all(check(items, v) for v in x):
                return False
    elif tx is str:
        if "minLength" in schema and len(x) < schema["minLength"]:
            return False
        if "maxLength" in schema and len(x) > schema["maxLength"]:
            return False
        if "pattern" in schema and not re.search(schema["pattern"], x):
            return False
    elif tx is int or tx is float:
        if "minimum" in schema and not x >= schema["minimum"]:
            return False
        if "maximum" in schema and not x <= schema["maximum"]:
            return False
    if "anyOf" in schema and not any(check(s, x) for s in schema["anyOf"]):
        return False
    return True
