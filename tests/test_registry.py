"""The registry of value types: built-ins, ``register``, unknown tags, installed plugins."""

from __future__ import annotations

import importlib.resources
import inspect
import sys
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import media
import schemas
from media import Audio, Media, OpaqueValue, Table, UnknownTypeError, Value, registry

FAKE_DIST = Path(__file__).parent / "fake_dist"
FAKE_MODULE = "fake_media_plugin_types"


@pytest.fixture
def fake_plugin(own_registry, monkeypatch):
    """The fake distribution in tests/fake_dist on sys.path, as if it were installed."""
    assert (FAKE_DIST / "fake_media_plugin-0.1.dist-info" / "entry_points.txt").is_file()
    sys.modules.pop(FAKE_MODULE, None)
    monkeypatch.syspath_prepend(str(FAKE_DIST))
    yield
    sys.modules.pop(FAKE_MODULE, None)


def _new_type(tag: str, name: str = "Custom") -> type[Value]:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["_type"],
        "properties": {"_type": {"const": tag}},
    }
    return type(name, (Value,), {"artifact_type": tag, "json_schema": schema})


# -- built-ins ----------------------------------------------------------------------------
def test_type_mapping_has_every_builtin_under_its_tag():
    mapping = Value.type_mapping()
    assert mapping["audio-file"] is Audio
    assert mapping["table"] is Table
    assert Audio.artifact_type == "audio-file"
    assert Table.artifact_type == "table"
    assert mapping == media.type_mapping()
    assert list(mapping) == sorted(mapping)


def test_type_mapping_is_a_copy():
    mapping = Value.type_mapping()
    mapping["audio-file"] = Table
    del mapping["table"]
    assert Value.type_mapping()["audio-file"] is Audio
    assert "table" in Value.type_mapping()


def _public_value_classes() -> set[type]:
    found = set()
    for module_name, module in list(sys.modules.items()):
        if module_name != "media" and not module_name.startswith("media."):
            continue
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Value)
                and obj.__module__ == module_name
                and not name.startswith("_")
            ):
                found.add(obj)
    return found


def test_all_classes_registered():
    """Every public Value subclass defined in media/ is registered, except the bases and
    OpaqueValue (JSON of a type no plugin knows, deliberately without a tag)."""
    classes = _public_value_classes()
    assert {Audio, Table, Value, Media, OpaqueValue} <= classes
    registered = set(Value.type_mapping().values())
    missing = classes - registered - {Value, Media, OpaqueValue}
    assert not missing, f"not registered: {sorted(c.__qualname__ for c in missing)}"
    assert set(media.BUILTIN_TYPES) <= registered
    assert OpaqueValue not in registered


def test_every_registered_tag_has_a_schema():
    for tag in Value.type_mapping():
        assert schemas.load(tag)["type"] == "object"


# -- register -----------------------------------------------------------------------------
def test_register_same_class_twice_is_a_noop(own_registry):
    before = Value.type_mapping()
    assert media.register(Audio) is Audio
    assert media.register(Audio) is Audio
    assert Value.type_mapping() == before


def test_register_a_different_class_under_a_taken_tag_is_refused(own_registry):
    impostor = type("Impostor", (Audio,), {"artifact_type": "audio-file"})
    with pytest.raises(ValueError, match=r"type tag 'audio-file' is already registered to "):
        media.register(impostor)
    assert Value.type_mapping()["audio-file"] is Audio
    with pytest.raises(ValueError, match="Impostor") as err:
        media.register(impostor)
    assert "media.audio.Audio" in str(err.value)


def test_register_replace_and_decorator_use(own_registry):
    Custom = media.register(_new_type("custom-x"))
    assert Value.type_mapping()["custom-x"] is Custom
    Other = _new_type("custom-x", "Other")
    assert media.register(Other, replace=True) is Other
    assert media.lookup("custom-x") is Other


def test_register_refuses_what_is_not_a_value_type(own_registry):
    with pytest.raises(TypeError, match=r"Invalid media type .*subclass of media.Value"):
        media.register(dict)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Invalid media type"):
        media.register(Audio(np.zeros(2, "int16"), 8))  # type: ignore[arg-type]


@pytest.mark.parametrize("tag", ["", "Upper", "-dash-first", "a/b", "x" * 65, None, "tag\n"])
def test_register_refuses_bad_tags(own_registry, tag):
    cls = type("Bad", (Value,), {"artifact_type": tag})
    with pytest.raises(ValueError, match=r"Invalid type tag .* set the class attribute"):
        media.register(cls)


def test_the_library_s_own_json_forms_are_reserved_tags(own_registry):
    # every built-in schema is a registered value type or one of the reserved forms
    files = importlib.resources.files("schemas").iterdir()
    builtin = {f.name[: -len(".schema.json")] for f in files if f.name.endswith(".schema.json")}
    assert builtin == set(media.registry.RESERVED_TAGS) | {"audio-file", "audio-segment", "table"}
    for tag in sorted(media.registry.RESERVED_TAGS):
        # "audio" is the list of clips a run logs under one key: a plugin's values with that
        # tag were checked against, and read back as, that list
        cls = type("Sound", (Value,), {"artifact_type": tag})
        with pytest.raises(ValueError, match=f"type tag '{tag}' of Sound names one of the"):
            media.register(cls)
        assert Value.type_mapping().get(tag) is not cls


def test_register_derives_a_schema_when_none_is_given(own_registry):
    cls = type("NoSchema", (Value,), {"artifact_type": "no-schema-here"})
    media.register(cls)  # the wandb way: the schema only checks the tag
    assert Value.type_mapping()["no-schema-here"] is cls
    schemas.validate({"_type": "no-schema-here", "anything": [1]}, "no-schema-here")
    with pytest.raises(media.SchemaError, match=r"\$\._type"):
        schemas.validate({"_type": "other"}, "no-schema-here")


def test_registered_type_loads_through_init_from_json(own_registry):
    class Point(Value):
        artifact_type: ClassVar[str] = "test-point"
        json_schema: ClassVar[dict[str, Any]] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["_type", "x"],
            "properties": {"_type": {"const": "test-point"}, "x": {"type": "integer"}},
        }

        def __init__(self, x: int):
            self.x = x

        def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
            return {"_type": self.artifact_type, "x": self.x}

        @classmethod
        def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> Value:
            return cls(json_obj["x"])

        def _eq_key(self) -> Any:
            return self.x

    media.register(Point)
    got = Value.init_from_json({"_type": "test-point", "x": 3}, None)
    assert got == Point(3) and got != Point(4)
    with pytest.raises(media.SchemaError, match=r"invalid 'test-point' JSON at \$\.x"):
        Value.init_from_json({"_type": "test-point", "x": "3"}, None)


# -- unknown tags -------------------------------------------------------------------------
def test_unknown_type_error_lists_known_tags_in_order_and_the_entry_point_group():
    with pytest.raises(UnknownTypeError) as err:
        media.lookup("no-such-type")
    exc = err.value
    assert isinstance(exc, ValueError) and isinstance(exc, media.MediaError)
    assert exc.tag == "no-such-type"
    known = sorted(Value.type_mapping())
    assert exc.known == known
    assert f"known tags: {', '.join(known)}." in str(exc)
    assert "'no-such-type'" in str(exc)
    assert "entry-point group 'media.types'" in str(exc)
    assert media.ENTRY_POINT_GROUP == "media.types"


def test_init_from_json_with_an_unknown_tag_raises_unknown_type_error():
    with pytest.raises(UnknownTypeError, match=r"unknown media type tag 'martian'; known tags: "):
        Value.init_from_json({"_type": "martian", "x": 1}, None)


@pytest.mark.parametrize("tag", [None, 3, ["audio-file"]])
def test_lookup_of_a_non_string_tag(tag):
    with pytest.raises(UnknownTypeError, match="known tags: .*audio-file"):
        media.lookup(tag)  # type: ignore[arg-type]


# -- plugins through entry points ---------------------------------------------------------
def test_plugin_is_found_lazily_when_a_lookup_misses(fake_plugin):
    assert "fake-tone" not in registry._types
    assert FAKE_MODULE not in sys.modules
    cls = media.lookup("fake-tone")
    assert cls.__module__ == FAKE_MODULE and cls.__name__ == "Tone"
    assert registry._types["fake-tone"] is cls
    # only the entry point that was asked for is loaded
    assert "fake-missing" not in registry._entry_points_seen
    tone = Value.init_from_json({"_type": "fake-tone", "hz": 440}, None)
    assert tone == cls(440)
    assert schemas.load("fake-tone")["required"] == ["_type", "hz"]
    with pytest.raises(media.SchemaError, match=r"invalid 'fake-tone' JSON at \$\.hz"):
        Value.init_from_json({"_type": "fake-tone", "hz": -1}, None)


def test_type_mapping_loads_every_plugin_and_warns_about_broken_ones(fake_plugin):
    with pytest.warns(media.PluginWarning) as record:
        mapping = Value.type_mapping()
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert messages[0].startswith("media type plugin 'fake-mislabelled' ")
    assert "differs from the class's artifact_type 'fake-other'" in messages[0]
    assert messages[1].startswith("media type plugin 'fake-missing' ")
    assert "fake_media_plugin_types:NoSuchClass" in messages[1]
    assert mapping["fake-tone"].__name__ == "Tone"
    assert "fake-other" not in mapping and "fake-missing" not in mapping
    assert mapping["audio-file"] is Audio
    # a broken plugin is reported once, not on every call
    assert "fake-tone" in Value.type_mapping()
    with pytest.raises(UnknownTypeError) as err:
        media.lookup("fake-missing")
    assert "fake-tone" in err.value.known


def test_the_fake_plugin_is_not_installed_outside_its_fixture():
    assert "fake-tone" not in Value.type_mapping()
