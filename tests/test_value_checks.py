"""What a draft, a table and a run check of the values written to them: a custom type's JSON
against its schema, a media file still in use, a value name shared by two values; the
equality of types without ``_eq_key``; and the messages of a few misuses."""

from __future__ import annotations

import concurrent.futures
import re

import numpy as np
import pytest

import media
from artifacts import Artifact, Run, open_store
from media import Audio, Table, Value


class Point(Value):
    """A type written the wandb way: a tag, to_json and from_json; no schema, no _eq_key."""

    artifact_type = "checks-point"

    def __init__(self, x, y):
        self.x, self.y = x, y

    def to_json(self, run_or_artifact):
        return {"_type": "checks-point", "x": self.x, "y": self.y}

    @classmethod
    def from_json(cls, json_obj, source_artifact):
        return cls(json_obj["x"], json_obj["y"])


class Label(Value):
    artifact_type = "checks-label"
    json_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["_type", "text"],
        "properties": {"_type": {"const": "checks-label"}, "text": {"type": "string"}},
    }

    def __init__(self, text):
        self.text = text

    def to_json(self, run_or_artifact):
        return {"_type": "checks-label", "text": self.text}

    @classmethod
    def from_json(cls, json_obj, source_artifact):
        return cls(json_obj["text"])

    def _eq_key(self):
        return self.text


class BadLabel(Label):
    """A to_json that breaks the schema it registered."""

    artifact_type = "checks-bad-label"
    json_schema = dict(
        Label.json_schema,
        properties={"_type": {"const": "checks-bad-label"}, "text": {"type": "string"}},
    )

    def to_json(self, run_or_artifact):
        return {"_type": "checks-bad-label", "text": 7}


class WrongTag(Value):
    """A to_json that writes another type's tag (it would be read back as a Point)."""

    artifact_type = "checks-wrong-tag"

    def to_json(self, run_or_artifact):
        return {"_type": "checks-point", "x": 1, "y": 2}

    @classmethod
    def from_json(cls, json_obj, source_artifact):
        return cls()


@pytest.fixture
def types(own_registry):
    for cls in (Point, Label, BadLabel, WrongTag):
        media.register(cls)


def clip(seed: int = 0) -> Audio:
    return Audio(np.random.default_rng(seed).standard_normal(50).astype(np.float32), 8000)


def state(draft: Artifact) -> dict:
    return {p: dict(e) for p, e in draft._entries.items()}


# -- 1. a custom type's JSON is checked when it is written -----------------------------------
BAD_FIELD = (
    r"invalid 'checks-bad-label' JSON at \$\.text: 7 is not of type 'string'"
    r".*BadLabel\.to_json.*BadLabel\.json_schema"
)
WRONG_TAG = (
    r"at \$\._type: .*WrongTag\.to_json returned '_type' 'checks-point', "
    r"but WrongTag's artifact_type is 'checks-wrong-tag'"
)


def test_add_refuses_json_that_breaks_the_types_schema_and_leaves_the_draft(types, tmp_path):
    draft = Artifact("d", "dataset")
    draft.add(clip(), "a")
    before = state(draft)
    with pytest.raises(media.SchemaError, match=BAD_FIELD):
        draft.add(BadLabel("x"), "b")
    with pytest.raises(media.SchemaError, match=WRONG_TAG):
        draft.add(WrongTag(), "w")
    assert state(draft) == before
    draft.add(Label("fine"), "ok")
    v = open_store(tmp_path / "store").commit(draft)
    assert sorted(v.value_names()) == ["a", "ok"]
    assert v.get("ok") == Label("fine")


def test_add_many_and_table_cells_are_checked_too(types):
    draft = Artifact("d", "dataset")
    draft.add(clip(), "a")
    before = state(draft)
    with pytest.raises(media.SchemaError, match=BAD_FIELD):
        draft.add_many([("c", clip(1)), ("b", BadLabel("x"))])
    with pytest.raises(media.SchemaError, match=WRONG_TAG):
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            draft.add_many({"c": clip(2), "w": WrongTag()}, pool)
    table = Table(["clip", "label"], [[clip(3), Label("ok")], [clip(4), BadLabel("x")]])
    with pytest.raises(media.SchemaError, match=r"in row 1, column 'label' of a table: 7 is not"):
        draft.add(table, "t")
    with pytest.raises(media.SchemaError, match=WRONG_TAG):
        draft.add(Table(["w"], [[WrongTag()]]), "t")
    assert state(draft) == before  # not even the media of the clips before the bad cell


def test_run_log_checks_custom_values(types, tmp_path):
    run = Run(dir=tmp_path / "run")
    with pytest.raises(media.SchemaError, match=BAD_FIELD):
        run.log({"label": BadLabel("x")})
    with pytest.raises(media.SchemaError, match=WRONG_TAG):
        run.log({"t": Table(["w"], [[WrongTag()]])})
    run.log({"label": Label("ok"), "p": Point(1, 2)})
    (row,) = run.history()
    assert row["label"] == Label("ok") and (row["p"].x, row["p"].y) == (1, 2)


def test_json_is_judged_as_it_is_stored(own_registry, tmp_path):
    @media.register
    class Pair(Value):
        artifact_type = "checks-pair"
        json_schema = {
            "type": "object",
            "required": ["_type", "xy"],
            "properties": {"_type": {"const": "checks-pair"}, "xy": {"type": "array"}},
        }

        def __init__(self, xy):
            self.xy = tuple(xy)

        def to_json(self, run_or_artifact):
            return {"_type": "checks-pair", "xy": self.xy}  # a tuple: stored as a list

        @classmethod
        def from_json(cls, json_obj, source_artifact):
            return cls(json_obj["xy"])

    draft = Artifact("d", "dataset")
    draft.add(Pair((1, 2)), "p")
    assert open_store(tmp_path / "store").commit(draft).get("p") == Pair((1, 2))


def test_an_unregistered_type_is_still_stored_as_it_is(own_registry, tmp_path):
    class Loose(Point):
        artifact_type = "checks-loose"  # no schema anywhere: kept, read back opaque

        def to_json(self, run_or_artifact):
            return {"_type": "checks-loose", "x": self.x}

    draft = Artifact("d", "dataset")
    draft.add(Loose(1, 2), "l")
    got = open_store(tmp_path / "store").commit(draft).get("l")
    assert isinstance(got, media.OpaqueValue) and got.json == {"_type": "checks-loose", "x": 1}


# -- 2. a file that a value uses is not removed ---------------------------------------------
def test_remove_refuses_a_media_file_that_a_value_uses(tmp_path):
    store = open_store(tmp_path / "store")
    draft = Artifact("x", "dataset")
    draft.add(clip(), "c")
    draft.add(Table(["clip"], [[clip(1)]]), "t")
    draft.add_file(__file__, "notes.py")
    v0 = store.commit(draft)
    c_media = v0.get("c").source_file()[1]
    t_media = v0.get("t")["clip"][0].source_file()[1]

    draft = v0.new_draft()
    before = state(draft)
    with pytest.raises(
        ValueError,
        match=re.escape(
            f"cannot remove {c_media!r} from x:draft: it is the media of 'c.audio-file.json'; "
            "remove the value instead (draft.remove('c'))"
        ),
    ):
        draft.remove(c_media)
    with pytest.raises(ValueError, match=r"is the media of 't\.table\.json'"):
        draft.remove(t_media)
    with pytest.raises(ValueError, match=r"cannot remove 'media' .* is the media of "):
        draft.remove("media")  # a folder of media files
    assert state(draft) == before
    draft.remove("notes.py")  # a file no value uses goes
    draft.remove("c")  # the value goes, and its media with it
    assert c_media not in draft and t_media in draft
    v1 = store.commit(draft)
    assert v1.get("t")["clip"][0] == clip(1)


# -- 3. a value name shared by two values ----------------------------------------------------
def test_a_short_name_of_two_values_is_refused_listing_the_full_names(tmp_path):
    draft = Artifact("x", "dataset")
    draft.add(clip(), "clip")
    draft.add(Table(["n"], [[1]]), "clip")
    draft.add(clip(1), "other")
    v = open_store(tmp_path / "store").commit(draft)
    both = (
        r"'clip' names 2 values in x:v0: 'clip\.audio-file\.json', 'clip\.table\.json'; "
        "give the full name"
    )
    with pytest.raises(ValueError, match=both):
        v.get("clip")
    with pytest.raises(ValueError, match=both):
        v.get_entry("clip")
    assert v.get("clip.audio-file.json") == clip()
    assert v.get("clip.table.json") == Table(["n"], [[1]])
    assert v.get("other") == clip(1)  # one value of that name: found as before
    assert v.value_names() == ["clip.audio-file.json", "clip.table.json", "other"]
    assert len(v.dataset("clip.table.json")) == 1
    with pytest.raises(
        ValueError, match=r"no table named 'nope' in x:v0; tables: clip\.table\.json"
    ):
        v.dataset("nope")
    draft = v.new_draft()
    with pytest.raises(ValueError, match=r"'clip' names 2 values in x:draft"):
        draft.remove("clip")
    media_path = v.get("clip.audio-file.json").source_file()[1]
    with pytest.raises(ValueError, match=r"instead \(draft\.remove\('clip\.audio-file\.json'\)\)"):
        draft.remove(media_path)  # the name that removes the value: its full one
    draft.remove("clip.table.json")
    draft.remove("clip")  # one left: the name is no longer shared
    assert sorted(draft._entries) == sorted(
        p
        for p in v.manifest.entries
        if not p.startswith("clip.") and p != v.get("clip.audio-file.json").source_file()[1]
    )


# -- 4. equality of types without _eq_key ----------------------------------------------------
class WithArray(Point):
    def __init__(self, x, y):
        super().__init__(np.asarray(x), y)


class Slotted(Value):
    __slots__ = ("n",)
    artifact_type = "checks-slotted"

    def __init__(self, n):
        self.n = n


def test_values_without_eq_key_compare_by_content_and_never_raise(types, tmp_path):
    p = Point(1, 2)
    assert p == p and p == Point(1, 2) and not p != Point(1, 2)
    assert p != Point(1, 3) and p != 5 and not p == (1, 2)
    assert WithArray([1, 2], "a") == WithArray([1, 2], "a")
    assert WithArray([1, 2], "a") != WithArray([1, 3], "a")
    assert WithArray([1, 2], "a") != WithArray([1, 2, 3], "a")
    assert Slotted(1) == Slotted(1) and Slotted(1) != Slotted(2)  # __slots__ count too
    with pytest.raises(TypeError, match="unhashable"):
        hash(p)  # compared by content, which may change: no hash to disagree with ==
    assert Table(["p"], [[p]]) == Table(["p"], [[Point(1, 2)]])
    assert Table(["p"], [[p]]) != Table(["p"], [[Point(2, 2)]])
    draft = Artifact("x", "dataset")
    draft.add(p, "p")
    draft.add(Table(["p"], [[p]]), "t")
    v = open_store(tmp_path / "store").commit(draft)
    assert v.get("p") == p  # where it was loaded from is not part of the value
    assert v.get("t") == Table(["p"], [[Point(1, 2)]])


# -- 5. messages -----------------------------------------------------------------------------
def test_a_folder_given_for_a_file_is_named_a_folder(tmp_path):
    with pytest.raises(
        IsADirectoryError, match=r"is a folder: add_file adds one file; use add_dir"
    ):
        Artifact("x", "dataset").add_file(tmp_path)
    with pytest.raises(IsADirectoryError, match=r"is a folder, not an audio file"):
        Audio(str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"no such file to add"):
        Artifact("x", "dataset").add_file(tmp_path / "missing")


def test_with_suffix_of_a_class_without_a_tag_says_so():
    with pytest.raises(TypeError, match=r"Value has no artifact_type .* Audio\.with_suffix"):
        Value.with_suffix("x")
    assert Audio.with_suffix("x") == "x.audio-file.json"


def test_an_invalid_json_schema_is_named_with_its_class_and_fix(own_registry):
    class BadSchema(Point):
        artifact_type = "checks-bad-schema"
        json_schema = {"type": "notatype"}

    with pytest.raises(ValueError) as caught:
        media.register(BadSchema)
    message = str(caught.value)
    assert "Invalid json_schema on test_value_checks." in message and "BadSchema" in message
    assert "at $.type: 'notatype' is not valid" in message and "'string'" in message
    assert "Failed validating" not in message and "metaschema" not in message
    assert "checks-bad-schema" not in media.type_mapping()


def test_to_json_of_an_unbound_clip_names_what_binds_it(tmp_path):
    run = Run(dir=tmp_path / "run")
    with pytest.raises(
        ValueError,
        match=r"log it with run\.log\(\{key: value\}\).*value\.bind_to_run\(run, key, step\)",
    ) as caught:
        clip().to_json(run)
    assert "media.bind_to_run" not in str(caught.value)
