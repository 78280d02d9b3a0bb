"""The ``audio`` form: a list of clips logged under one key (``Audio.seq_to_json``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import schemas

from .value import Value

__all__ = ["captions", "check_seq", "clips", "seq_from_json", "seq_to_json"]


def clips(audio_list: Iterable[Any], audio_cls: type) -> list[Any]:
    """``audio_list`` as a list, every item an ``audio_cls`` (else ``TypeError``)."""
    out = list(audio_list)
    for clip in out:
        if not isinstance(clip, audio_cls):
            raise TypeError(f"Invalid item {clip!r} in an audio list: expected Audio")
    return out


def check_seq(clips: list[Any], key: str) -> list[Any]:
    """``clips`` if each is a whole clip: the form is read as whole files by every reader."""
    for clip in clips:
        if clip.artifact_type != "audio-file":
            raise ValueError(
                f"Invalid clip {clip!r} in the list logged as {key!r}: a list of clips is "
                "written in the audio form, which readers take as whole files; log each "
                f"{clip.artifact_type} under its own key, or in a Table"
            )
    return clips


def captions(clips: list[Any]) -> list[str] | Literal[False]:
    """``False`` when no clip has a caption, else each caption with ``""`` for none."""
    found = [a.caption for a in clips]
    if all(c is None for c in found):
        return False
    return ["" if c is None else c for c in found]


def seq_to_json(clips: list[Any], run: Any, key: str, step: int | str) -> dict[str, Any]:
    """The ``audio`` JSON of checked ``clips``, each bound to ``run`` first."""
    for clip in clips:
        clip.ensure_bound(run, key, step)
    obj: dict[str, Any] = {
        "_type": "audio",
        "count": len(clips),
        "audio": [clip.to_json(run) for clip in clips],
        "sampleRates": [a.sample_rate for a in clips],
        "durations": [a.duration for a in clips],
    }
    found = captions(clips)
    if found:
        obj["captions"] = found
    return obj


def seq_from_json(json_obj: dict[str, Any], source: Any) -> list[Any]:
    """The clips of an ``audio`` seq JSON, validated first."""
    schemas.validate(json_obj, "audio")
    return [Value.init_from_json(item, source) for item in json_obj["audio"]]
