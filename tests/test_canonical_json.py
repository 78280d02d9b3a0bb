"""``canonical_json`` uses one C encoder made once: it must write exactly what
``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` writes, and fail
the same way on what JSON cannot hold."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from artifacts.manifest import canonical_json

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def dumps(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@given(st.dictionaries(st.text(), values, max_size=6))
def test_same_bytes_as_json_dumps(obj):
    assert canonical_json(obj) == dumps(obj)


@given(st.lists(values, max_size=4) | scalars)
def test_same_bytes_for_what_is_not_a_dict(obj):
    assert canonical_json(obj) == dumps(obj)


def test_a_cycle_is_named():
    obj: dict = {"a": [1]}
    obj["a"].append(obj)
    with pytest.raises(ValueError, match="Circular reference"):
        canonical_json(obj)


def test_what_json_cannot_hold_is_named():
    with pytest.raises(TypeError, match="Object of type bytes is not JSON serializable"):
        canonical_json({"a": b"x"})
    with pytest.raises(TypeError, match="keys must be"):
        canonical_json({(1, 2): 3})
