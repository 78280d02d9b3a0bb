"""``schemas``: one JSON Schema 2020-12 document per JSON form, ``load``, ``validate``."""

from __future__ import annotations

import json
import os
from importlib import resources

import jsonschema
import numpy as np
import pytest
from jsonschema.validators import Draft202012Validator

import artifacts
import media
import schemas
from artifacts import Artifact, Run
from media import Audio, Table

DOCUMENTED = [
    "alias",
    "audio",
    "audio-file",
    "float",
    "history-row",
    "lineage",
    "manifest",
    "store",
    "table",
]


def test_every_documented_form_has_a_schema():
    assert set(DOCUMENTED) <= set(schemas.tags())
    assert schemas.tags() == sorted(schemas.tags())
    files = {p.name for p in resources.files("schemas").iterdir()}
    for tag in DOCUMENTED:
        assert f"{tag}.schema.json" in files


def _properties(document, where="$"):
    """(json path, property schema) of every property, at any depth."""
    if isinstance(document, dict):
        for name, prop in document.get("properties", {}).items():
            yield f"{where}.{name}", prop
        for key, sub in document.items():
            if key != "properties":
                yield from _properties(sub, f"{where}/{key}")
            else:
                for name, prop in sub.items():
                    yield from _properties(prop, f"{where}.{name}")
    elif isinstance(document, list):
        for i, sub in enumerate(document):
            yield from _properties(sub, f"{where}[{i}]")


@pytest.mark.parametrize("tag", DOCUMENTED)
def test_each_document_is_a_described_2020_12_schema(tag):
    document = schemas.load(tag)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"] == f"urn:media-artifacts:schema:{tag}"
    assert document["title"] and document["description"]
    Draft202012Validator.check_schema(document)
    if tag == "history-row":  # rows are plain objects keyed by _step, with no type tag
        assert document["required"] == ["_step"]
    else:
        assert document["properties"]["_type"]["const"] == tag
        assert "_type" in document["required"]
    undescribed = [path for path, prop in _properties(document) if not prop.get("description")]
    assert undescribed == [], f"{tag}: properties without a description: {undescribed}"
    raw = resources.files("schemas").joinpath(f"{tag}.schema.json").read_text(encoding="utf-8")
    assert json.loads(raw) == document


def test_load_returns_a_copy():
    document = schemas.load("audio-file")
    document["required"].append("nonsense")
    assert "nonsense" not in schemas.load("audio-file")["required"]
    schemas.validate({"_type": "audio-file", "path": "a.wav", "sha256": "0" * 64})


@pytest.mark.parametrize("tag", ["nope", "", "../audio", "a/b", ".hidden", "audio\\file", None, 3])
def test_load_of_an_unknown_tag_is_a_lookup_error(tag):
    with pytest.raises(LookupError, match=r"no JSON schema for type tag"):
        schemas.load(tag)  # type: ignore[arg-type]


# -- validate -----------------------------------------------------------------------------
CLIP = {"_type": "audio-file", "path": "media/audio/a.wav", "sha256": "a" * 64}


def test_validate_picks_the_schema_from_the_type_tag():
    schemas.validate(CLIP)
    schemas.validate(dict(CLIP, caption=None, size=10, sample_rate=8000, extra="kept"))
    schemas.validate({"_step": 0, "x": 1}, "history-row")


@pytest.mark.parametrize(
    "obj, tag, field, reason",
    [
        (dict(CLIP, size="10"), None, "$.size", "'10' is not of type 'integer'"),
        (dict(CLIP, sha256="xyz"), None, "$.sha256", "'xyz' is not of the required form"),
        (dict(CLIP, path="../up.wav"), None, "$.path", "'../up.wav' is not of the required form"),
        (dict(CLIP, caption=["a"]), None, "$.caption", "['a'] is not of type 'string', 'null'"),
        (
            {"_type": "audio", "count": 1, "audio": [dict(CLIP, sha256="0")]},
            None,
            "$.audio[0].sha256",
            "'0' is not of the required form",
        ),
        ({"_type": "audio", "count": -1, "audio": []}, None, "$.count", "-1 is less than"),
        ({"_type": "table", "columns": ["a"], "data": [1]}, None, "$.data[0]", "1 is not of type"),
        ({"_step": -1}, "history-row", "$._step", "-1 is less than the minimum of 0"),
        ({"x": 1}, "history-row", "$", "'_step' is a required property"),
    ],
)
def test_validate_names_the_failing_field(obj, tag, field, reason):
    with pytest.raises(schemas.SchemaError) as err:
        schemas.validate(obj, tag)
    exc = err.value
    expected_tag = tag or obj["_type"]
    assert (exc.tag, exc.field) == (expected_tag, field)
    assert exc.reason.startswith(reason)
    assert str(exc) == f"invalid {expected_tag!r} JSON at {field}: {exc.reason}"


def test_pattern_errors_quote_the_description():
    with pytest.raises(schemas.SchemaError, match=r"Lowercase hex SHA-256"):
        schemas.validate(dict(CLIP, sha256="A" * 64))


@pytest.mark.parametrize(
    "obj, message",
    [
        ("x", r"invalid '\?' JSON at \$: expected a JSON object, got str"),
        ({}, r"invalid '\?' JSON at \$\._type: missing or not a string"),
        ({"_type": None}, r"at \$\._type: missing or not a string"),
        ({"_type": "martian"}, r"invalid 'martian' JSON at \$\._type: no JSON schema for type tag"),
    ],
)
def test_validate_without_a_usable_tag(obj, message):
    with pytest.raises(schemas.SchemaError, match=message):
        schemas.validate(obj)


def test_schema_error_is_a_value_error_shared_with_media():
    assert issubclass(schemas.SchemaError, ValueError)
    assert media.SchemaError is schemas.SchemaError
    exc = schemas.SchemaError("t", "$.x", "bad")
    assert (exc.tag, exc.field, exc.reason, str(exc)) == (
        "t",
        "$.x",
        "bad",
        "invalid 't' JSON at $.x: bad",
    )


def test_schemas_depends_on_nothing_else_of_the_project():
    import ast

    source = resources.files("schemas").joinpath("__init__.py").read_text(encoding="utf-8")
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"media", "artifacts"}


# -- register_schema ----------------------------------------------------------------------
@pytest.fixture
def isolated_schemas(monkeypatch):
    monkeypatch.setattr(schemas, "_extra", dict(schemas._extra))
    monkeypatch.setattr(schemas, "_validators", dict(schemas._validators))


DOC = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["_type", "n"],
    "properties": {"_type": {"const": "test-count"}, "n": {"type": "integer"}},
}


def test_register_schema(isolated_schemas):
    schemas.register_schema("test-count", DOC)
    schemas.register_schema("test-count", json.loads(json.dumps(DOC)))  # same: a no-op
    assert "test-count" in schemas.tags()
    assert schemas.load("test-count") == DOC
    schemas.validate({"_type": "test-count", "n": 1})
    with pytest.raises(schemas.SchemaError, match=r"invalid 'test-count' JSON at \$\.n"):
        schemas.validate({"_type": "test-count", "n": 1.5})
    with pytest.raises(ValueError, match=r"type tag 'test-count' already has a different JSON"):
        schemas.register_schema("test-count", dict(DOC, required=["_type"]))
    with pytest.raises(ValueError, match=r"type tag 'audio-file' already has a different JSON"):
        schemas.register_schema("audio-file", DOC)


def test_register_schema_refuses_an_invalid_document(isolated_schemas):
    with pytest.raises(jsonschema.SchemaError):
        schemas.register_schema("test-bad", {"type": "no-such-type"})
    assert "test-bad" not in schemas.tags()


# -- everything the project writes validates ----------------------------------------------
def test_every_json_file_a_run_and_a_store_write_validates(tmp_path):
    store = artifacts.open_store(str(tmp_path / "store"))
    run = Run(dir=tmp_path / "run", store=store)
    clip = Audio(np.zeros(8, np.int16), 8, caption="c")
    table = Table(["clip", "n"], [[clip, 1]])
    run.log({"clip": clip, "clips": [clip, Audio(np.ones(3, np.float32), 3)], "table": table})
    draft = Artifact("clips", type="dataset")
    draft.add(clip, "clip")
    draft.add(table, "table")
    run.log_artifact(draft, aliases=["best"])
    run.use_artifact("clips:best")
    seen = set()
    for dirpath, _, filenames in os.walk(tmp_path):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if name.endswith(".jsonl"):
                with open(path, encoding="utf-8") as f:
                    objs = [json.loads(line) for line in f]
            elif name.endswith(".json"):
                with open(path, encoding="utf-8") as f:
                    objs = [json.load(f)]
            else:
                continue
            for obj in objs:
                tag = obj.get("_type", "history-row" if "_step" in obj else None)
                assert tag is not None, path
                schemas.validate(obj, tag)
                seen.add(tag)
                for value in obj.values():
                    if isinstance(value, dict) and "_type" in value:
                        schemas.validate(value)
                        seen.add(value["_type"])
    assert {"store", "manifest", "alias", "lineage", "history-row", "audio-file", "audio"} <= seen
    assert "table" in seen
    for blob_json in ("clip.audio-file.json", "table.table.json"):
        schemas.validate(json.loads(store.artifact("clips:v0").read_bytes(blob_json)))
