"""The fast validation path never accepts what jsonschema refuses, and does vouch for the
forms the project writes (else it would speed nothing up)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema.validators import Draft202012Validator

import schemas
from schemas import _fast

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
    schema = schemas.load(tag)
    assert _fast.supported(schema)
    assert _fast.check(schema, VALID[tag])


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
    if _fast.check(schema, obj):
        assert validator.is_valid(obj), obj
        schemas.validate(obj, tag)
    elif not validator.is_valid(obj):
        with pytest.raises(schemas.SchemaError, match=f"invalid '{tag}' JSON at"):
            schemas.validate(obj, tag)


def test_unsupported_keywords_are_left_to_jsonschema():
    assert not _fast.supported({"type": "object", "patternProperties": {"^a": {}}})
    assert not _fast.supported({"$ref": "urn:media-artifacts:schema:audio-file"})
    assert not _fast.supported({"const": {"a": 1}})
    assert _fast.supported({"type": ["string", "null"], "maxLength": 3})


def test_fast_path_is_strict_where_json_schema_is_lenient():
    # jsonschema takes 1.0 as an integer and True == 1 in some contexts; the fast path
    # says "not sure" and lets jsonschema decide
    assert not _fast.check({"type": "integer"}, 1.0)
    assert Draft202012Validator({"type": "integer"}).is_valid(1.0)
    assert not _fast.check({"const": 1}, True)
    assert not _fast.check({"enum": [1, 2]}, 1.0)
    assert _fast.check({"enum": [1, 2]}, 2)
