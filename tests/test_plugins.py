"""The example plugin distribution (tests/plugin_example), found through its entry point.

The set-up installs it (``pip install -e tests/plugin_example``); these tests never import it
by hand: they reach its class through ``media.type_mapping()`` and ``Value.init_from_json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest

import media
import schemas
from artifacts import Artifact, Run
from media import Media, Value

TAG = "label-track"
LABELS = [(0.0, 1.25, "dog"), (1.25, 1.5, "cat"), (2.0, 2.0, "click")]


def plugin_class() -> type[Media]:
    return Value.type_mapping()[TAG]


def test_the_distribution_declares_its_entry_point():
    dist = metadata.distribution("media-plugin-example")
    (ep,) = [ep for ep in dist.entry_points if ep.group == media.ENTRY_POINT_GROUP]
    assert (ep.name, ep.value) == (TAG, "media_plugin_example:LabelTrack")


def test_found_through_the_entry_point_in_a_fresh_interpreter(tmp_path):
    (tmp_path / "labels.txt").write_text("0.0\t1.0\tdog\n")
    import hashlib

    digest = hashlib.sha256(b"0.0\t1.0\tdog\n").hexdigest()
    obj = {"_type": TAG, "path": "labels.txt", "sha256": digest, "size": 12, "count": 1}
    script = f"""
import sys, media
assert "media_plugin_example" not in sys.modules, "imported before it was asked for"
value = media.Value.init_from_json({obj!r}, media.FolderSource({str(tmp_path)!r}))
assert "media_plugin_example" in sys.modules
print(type(value).__module__, type(value).__name__, value.labels)
print(sorted(media.type_mapping()))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "media_plugin_example LabelTrack [(0.0, 1.0, 'dog')]",
        "['audio-file', 'audio-segment', 'label-track', 'table']",
    ]


def test_the_class_subclasses_media_and_ships_its_schema():
    cls = plugin_class()
    assert issubclass(cls, Media) and cls.artifact_type == TAG
    assert cls.get_media_subdir() == "media/labels"
    assert cls.with_suffix("speech") == "speech.label-track.json"
    assert media.lookup(TAG) is cls
    assert schemas.load(TAG) == cls.json_schema
    assert schemas.load(TAG)["$id"] == "urn:media-artifacts:schema:label-track"
    assert TAG in schemas.tags()
    assert media.register(cls) is cls  # the same class twice: a no-op


def test_invalid_plugin_json_names_the_field():
    bad = {"_type": TAG, "path": "../up.txt", "sha256": "0" * 64, "size": 1, "count": 1}
    with pytest.raises(media.SchemaError, match=r"invalid 'label-track' JSON at \$\.path"):
        Value.init_from_json(bad, None)
    missing = {"_type": TAG, "path": "a.txt", "sha256": "0" * 64, "size": 1}
    with pytest.raises(media.SchemaError, match=r"at \$: 'count' is a required property"):
        Value.init_from_json(missing, None)


def test_round_trip_through_an_artifact(store):
    cls = plugin_class()
    track = cls(LABELS)
    draft = Artifact("labels", "annotations")
    entry = draft.add(track, "speech")
    assert entry.path == "speech.label-track.json"
    v0 = store.commit(draft)
    got = v0.get("speech")
    assert type(got) is cls and got == track
    assert got.labels == LABELS and len(got) == 3
    assert got.artifact_source.artifact is v0 and got.artifact_source.name == "speech"
    obj = json.loads(v0.read_bytes(entry.path))
    schemas.validate(obj)
    assert obj["path"] == f"media/labels/{track.sha256[:20]}.txt"
    assert obj["count"] == 3
    assert got != cls(LABELS[:2]) and got != LABELS


def test_round_trip_through_a_run(tmp_path):
    cls = plugin_class()
    track = cls(LABELS)
    run = Run(dir=tmp_path / "run")
    row = run.log({"speech/labels": track})
    assert row["speech/labels"]["path"] == f"media/labels/speech/labels_0_{track.sha256[:20]}.txt"
    got = run.history()[0]["speech/labels"]
    assert type(got) is cls and got.labels == LABELS


def test_tag_collisions_are_refused():
    cls = plugin_class()

    class Impostor(Media):
        artifact_type = TAG
        json_schema = cls.json_schema

    with pytest.raises(ValueError) as info:
        media.register(Impostor)
    assert str(info.value) == (
        "type tag 'label-track' is already registered to media_plugin_example.LabelTrack; "
        "choose another artifact_type for "
        "test_plugins.test_tag_collisions_are_refused.<locals>.Impostor "
        "(a tag names one wire format)"
    )

    class FakeAudio(Media):
        artifact_type = "audio-file"

    with pytest.raises(ValueError, match="'audio-file' is already registered to media.audio.Audio"):
        media.register(FakeAudio)
    assert media.lookup(TAG) is cls and media.lookup("audio-file") is media.Audio


@pytest.mark.parametrize(
    ("labels", "error", "message"),
    [
        ("dog", TypeError, "Invalid labels: give a list of (start, end, label) triples"),
        ([(0, 1)], TypeError, "Invalid label 0 (0, 1): give a (start, end, label) triple"),
        ([(0, 1, "a\tb")], ValueError, "Invalid label 0 'a\\tb': a str without tabs"),
        ([(0, "1", "a")], TypeError, "Invalid end '1' of label 0: give seconds"),
        ([(2, 1, "a")], ValueError, "Invalid label 0: need 0 <= start <= end, got 2.0 and 1.0"),
    ],
)
def test_plugin_constructor_errors(labels, error, message):
    with pytest.raises(error) as info:
        plugin_class()(labels)
    assert message in str(info.value)
