"""The compiled validator (jsonschema-rs) never accepts a JSON value that jsonschema refuses,
and does vouch for the forms the project writes (else it would speed nothing up)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema.validators import Draft202012Validator

import schemas


def fast_says_valid(tag, obj):
    """The compiled validator's answer (``False`` also for "cannot read it as JSON")."""
    compiled = schemas._validator(tag)
    assert compiled.fast is not None
    return schemas._fast_valid(compiled, obj)


VALID = {
    "audio-file": {
        "_type": "audio-file",
        "path": "media/audio/0123456789abcdef0123.wav",
        "sha256": "0" * 64,
        "size": 44,
        "sample_rate": 16000,
        "duration": 0.5,
        "channels": 1,
        "frames": 8000,
        "dtype": "float32",
        "ndim": 1,
        "caption": None,
    },
    "alias": {
        "_type": "alias",
        "artifact": "clips",
        "alias": "best",
        "version": "v3",
        "updated_at": "2026-01-01T00:00:00.000000Z",
    },
    "store": {"_type": "store", "format": 1},
    "table": {"_type": "table", "columns": ["a", "b"], "data": [[1, "x"], [2, None]]},
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False)
    | st.sampled_from([0, 1, 1.0, True, False, "", "v3", "float32", "a/../b", "0" * 64, -1])
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@pytest.mark.parametrize("tag", sorted(VALID))
def test_the_written_forms_take_the_fast_path(tag):
    assert fast_says_valid(tag, VALID[tag])
    assert schemas.is_valid(VALID[tag], tag)


@given(
    tag=st.sampled_from(sorted(VALID)),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["set", "delete"]),
            st.sampled_from(
                ["_type", "path", "sha256", "size", "sample_rate", "duration", "channels"]
                + ["dtype", "ndim", "caption", "alias", "version", "format", "columns", "data"]
                + ["other"]
            ),
            json_values,
        ),
        max_size=3,
    ),
)
def test_fast_path_never_accepts_what_jsonschema_refuses(tag, edits):
    obj = copy.deepcopy(VALID[tag])
    for op, key, value in edits:
        if op == "set":
            obj[key] = value
        else:
            obj.pop(key, None)
    schema = schemas.load(tag)
    validator = Draft202012Validator(schema)
    if fast_says_valid(tag, obj):
        assert validator.is_valid(obj), obj
        schemas.validate(obj, tag)
    elif not validator.is_valid(obj):
        with pytest.raises(schemas.SchemaError, match=f"invalid '{tag}' JSON at"):
            schemas.validate(obj, tag)


def test_what_the_compiled_validator_cannot_read_is_left_to_jsonschema():
    # a NumPy scalar is no JSON value: jsonschema decides, as it did alone
    import numpy as np

    obj = {"_type": "store", "format": np.int64(1)}
    assert not fast_says_valid("store", obj)
    assert schemas.is_valid(obj, "store") is True  # jsonschema takes it as an integer
    obj["format"] = np.int64(2)
    with pytest.raises(schemas.SchemaError, match=r"invalid 'store' JSON at \$\.format"):
        schemas.validate(obj)


def test_a_tuple_is_checked_as_the_json_array_it_is_written_as():
    # (jsonschema alone refused tuples; json.dumps writes them as arrays, which is what a
    # schema describes, and the compiled validator reads them so)
    assert schemas.is_valid({"_type": "table", "columns": ("a",), "data": [[1]]}, "table")
    assert not schemas.is_valid({"_type": "table", "columns": (1,), "data": [[1]]}, "table")


def test_the_compiled_validator_agrees_with_jsonschema_on_lenient_cases():
    import jsonschema_rs

    for schema, obj in [({"type": "integer"}, 1.0), ({"const": 1}, True), ({"enum": [1, 2]}, 1.0)]:
        python = Draft202012Validator(schema).is_valid(obj)
        assert jsonschema_rs.Draft202012Validator(schema).is_valid(obj) == python
