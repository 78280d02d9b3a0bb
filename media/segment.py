"""``AudioSegment``: frames ``[start, stop)`` of a recording, stored as a range of its file.

A segment is made by ``clip.segment(start, stop)``.  Its file is the recording's file: adding
it to an artifact stores that file (once, however many segments of it are added; not at all
when the store already holds it) and JSON of its own type, ``audio-segment``, that names the
file and the range.  The tag is deliberately not ``audio-file``: a reader that knows only
whole clips (the wandb client) finds no type for it instead of playing the whole recording.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import schemas

from . import _window
from .audio import Audio
from .paths import check_relpath, join_inside
from .value import Media, RunFolder

__all__ = ["AudioSegment"]

_SAME = object()


class AudioSegment(Audio):
    """Frames ``[start, stop)`` of a recording (an :class:`Audio`), without copying it.

    ``AudioSegment(clip, start, stop)`` is ``clip.segment(start, stop)``.  It is an
    :class:`Audio` with the recording's sample rate, channels, dtype and caption and
    ``stop - start`` frames; ``numpy(a, b)`` reads frames ``[start + a, start + b)`` of the
    recording's file, and only those where the format allows.  ``start`` and ``stop`` are
    frames of the recording; :attr:`recording` is the whole clip.  The file methods of
    :class:`Media` (``open``, ``sha256``, ``size``, ``local_path``) are the recording's file.
    """

    artifact_type: ClassVar[str] = "audio-segment"
    _whole_file: ClassVar[bool] = False

    def __init__(self, clip: Audio, start: int, stop: int) -> None:
        if not isinstance(clip, Audio):
            raise TypeError(f"Invalid clip {clip!r}: a segment is a range of an Audio clip")
        a, b = _window.check_range(start, stop, clip.frames, "segment")
        Media.__init__(self)
        base = clip._start if isinstance(clip, AudioSegment) else 0
        # the recording's file, made once (an array clip is encoded here, and keeps it)
        self._file = clip._current()
        self._extension = clip._extension
        self._sha256, self._size = clip._sha256, clip._size
        self._recording: Audio | None = clip._recording if isinstance(clip, AudioSegment) else clip
        self._start, self._stop = base + a, base + b
        self._caption = clip._caption
        self._format = clip._format
        self._sample_rate, self._channels = clip._sample_rate, clip._channels
        self._ndim, self._dtype = clip._ndim, clip._dtype
        self._frames = b - a
        self._array = None if clip._array is None else clip._array[a:b]

    # -- the range ------------------------------------------------------------------------
    @property
    def start(self) -> int:
        """First frame of the recording in the segment."""
        return self._start

    @property
    def stop(self) -> int:
        """Frame of the recording just after the segment."""
        return self._stop

    @property
    def recording(self) -> Audio:
        """The whole clip this segment is a range of (loaded lazily from its file)."""
        if self._recording is None:
            f = self._current()
            obj = {"_type": "audio-file", "path": f.path, "sha256": f.sha256}  # type: ignore[union-attr]
            if f.size is not None:  # type: ignore[union-attr]
                obj["size"] = f.size  # type: ignore[union-attr]
            self._recording = Audio.from_json(obj, f.source)  # type: ignore[union-attr]
        return self._recording

    def _file_range(self, start: int, stop: int) -> tuple[int, int]:
        return self._start + start, self._start + stop

    def _hash(self) -> None:
        if self._recording is not None:  # hashed once, by the recording
            self._sha256, self._size = self._recording.sha256, self._recording.size
        else:
            super()._hash()

    # -- runs -----------------------------------------------------------------------------
    def bind_to_run(
        self, run: RunFolder, key: str, step: int | str, id_: str | None = None
    ) -> None:
        """Copy the recording's file into the run folder once, named by its digest.

        Every segment of one recording logged to a run shares that file
        (``<media subdir>/recordings/<sha256[:20]>.<ext>``); ``key``, ``step`` and ``id_``
        are checked as for any media but do not name it.
        """
        if not isinstance(getattr(run, "dir", None), (str, os.PathLike)):
            raise TypeError(
                f"Invalid run {run!r}: bind_to_run needs a run (an object whose .dir is the "
                "run's local folder, such as artifacts.Run)"
            )
        if not isinstance(key, str):
            raise TypeError(f"Invalid run key {key!r}: expected a str")
        check_relpath(key, "run key")
        rel = f"{self.get_media_subdir()}/recordings/{self.sha256[:20]}.{self._extension}"
        check_relpath(rel, "media file name")
        run_dir = os.fspath(run.dir)
        dest = join_inside(run_dir, rel, "media path")
        if not (os.path.isfile(dest) and os.path.getsize(dest) == self.size):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            self._copy_to(dest)
        self._run_dir = os.path.realpath(run_dir)
        self._run_path = rel

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """audio-segment JSON: the recording's file (path, sha256, size), the range (start,
        stop) and the segment's sample_rate, duration, channels, frames, dtype, ndim and
        caption."""
        obj = Media.to_json(self, run_or_artifact)
        obj.update(start=self._start, stop=self._stop, **self._meta_json())
        return obj

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> AudioSegment:
        """Rebuild a segment from audio-segment JSON; it reads only its window, when asked."""
        start, stop, frames = json_obj["start"], json_obj["stop"], json_obj["frames"]
        if stop - start != frames or start > stop:
            raise schemas.SchemaError(
                cls.artifact_type,
                "$.frames",
                f"frames {frames} is not stop - start ({stop} - {start})",
            )
        if json_obj["ndim"] == 1 and json_obj["channels"] != 1:
            raise schemas.SchemaError(cls.artifact_type, "$.ndim", "ndim 1 needs channels 1")
        self = cls.__new__(cls)
        Media.__init__(self)
        path = json_obj["path"]
        ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else "bin"
        self._set_source_file(source_artifact, path, json_obj["sha256"], json_obj["size"], ext)
        self._recording = None
        self._array = None
        self._format = "wav"
        self._start, self._stop = start, stop
        self._caption = json_obj.get("caption")
        self._sample_rate, self._channels = json_obj["sample_rate"], json_obj["channels"]
        self._frames, self._dtype, self._ndim = frames, json_obj["dtype"], json_obj["ndim"]
        return self

    # -- equality -------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False
        assert isinstance(other, AudioSegment)
        if self._eq_key() != other._eq_key() or self.frames != other.frames:
            return False
        if self._sha256 is not None and (self._sha256, self._start) == (
            other._sha256,
            other._start,
        ):
            return True  # the same frames of the same file
        return self.numpy().tobytes() == other.numpy().tobytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        src = self.source_file()
        of = self._describe() if src else "a clip in memory"
        return (
            f"AudioSegment(frames {self._start}..{self._stop} of {of}, "
            f"{self._dtype}, {self._sample_rate} Hz, {self._channels} ch, "
            f"caption={self._caption!r})"
        )
