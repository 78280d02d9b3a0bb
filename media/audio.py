"""``Audio``: a clip of audio, lossless from arrays, kept as it is from files."""

from __future__ import annotations

import errno
import io
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Literal

import numpy as np

from . import _audio_seq, _samples, _wav, _window, registry
from .errors import IntegrityError
from .value import Media

__all__ = ["Audio"]

ALLOWED_DTYPES = _samples.ALLOWED_DTYPES
MAX_CHANNELS = _samples.MAX_CHANNELS
MAX_SAMPLE_RATE = _samples.MAX_SAMPLE_RATE
dtype_name = _samples.dtype_name


class Audio(Media):
    """An audio clip.

    ``Audio(array, sample_rate, caption)`` keeps a 1-D (mono) or 2-D (frames x channels)
    array of float32, float64, int16 or int32 losslessly: it is written as WAV FLOAT,
    DOUBLE, PCM_16 or PCM_32 (or FLAC for int16 with ``format="flac"``) and ``numpy()``
    returns the same dtype, shape and bits after any round trip.  ``Audio(path)`` keeps a file
    that soundfile reads (WAV, FLAC, OGG, MP3, ...) exactly as it is, reading only its header
    (an MP3 is decoded once too: its header only estimates the number of frames).
    """

    artifact_type: ClassVar[str] = "audio-file"
    _media_kind: ClassVar[str] = "audio"
    FORMATS: ClassVar[tuple[str, ...]] = ("wav", "flac")

    def __init__(
        self,
        data_or_path: Any,
        sample_rate: int | None = None,
        caption: str | None = None,
        *,
        format: Literal["wav", "flac"] = "wav",
    ) -> None:
        super().__init__()
        _samples.check_caption(caption)
        if format not in self.FORMATS:
            raise ValueError(
                f"Unknown format {format!r}: Audio writes arrays as one of {self.FORMATS}"
            )
        self._caption = caption
        self._array: np.ndarray | None = None
        self._format = format
        if isinstance(data_or_path, np.ndarray):
            self._init_array(data_or_path, sample_rate, format)
        elif isinstance(data_or_path, (str, os.PathLike)):
            self._init_path(os.fspath(data_or_path), sample_rate)
        elif hasattr(data_or_path, "read"):
            data = data_or_path.read()
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError("Invalid file object: it must be opened in binary mode ('rb')")
            self._init_bytes(bytes(data), sample_rate, getattr(data_or_path, "name", "<file>"))
        else:
            raise TypeError(
                f"Invalid data_or_path of type {type(data_or_path).__name__}: give a NumPy "
                "array (with sample_rate), a path to an audio file, or a binary file object"
            )

    # -- construction ---------------------------------------------------------------------
    def _init_array(self, array: np.ndarray, sample_rate: Any, format: str) -> None:
        # WAV bytes are made at once: they are the one copy of the samples (the array becomes
        # a read-only view of them), so adding the clip has nothing left to encode
        in_file = format == "wav" and array.nbytes <= _wav.MAX_DATA and sys.byteorder == "little"
        self._array = _samples.check_array(array, copy=not in_file)
        self._sample_rate = _samples.check_sample_rate(sample_rate)
        self._frames = int(self._array.shape[0])
        self._channels = 1 if self._array.ndim == 1 else int(self._array.shape[1])
        self._ndim = self._array.ndim
        self._dtype = dtype_name(self._array.dtype)
        if format == "flac" and self._dtype not in _samples.FLAC_DTYPES:
            raise ValueError(
                f"FLAC keeps {', '.join(_samples.FLAC_DTYPES)} samples losslessly, not "
                f"{self._dtype}; use format='wav' (the default) for this array"
            )
        if format == "flac":
            _samples.check_flac(self._frames, self._channels, self._sample_rate)
        self._extension = format
        if in_file:
            data = _wav.encode(self._array, self._sample_rate)
            self._set_bytes(data, "wav")
            self._array = _samples.samples_view(data, self._array.shape, self._dtype)
            self._view_of_file = True

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if state.get("_view_of_file"):
            state["_array"] = None  # rebuilt from the bytes: a pickle carries the samples once
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if state.get("_view_of_file"):
            shape = (self._frames,) if self._ndim == 1 else (self._frames, self._channels)
            self._array = _samples.samples_view(self._file.data, shape, self._dtype)  # type: ignore[union-attr]

    def _materialize(self) -> None:
        assert self._array is not None
        data = _samples.encode(self._array, self._sample_rate, self._format)
        self._set_bytes(data, self._format)

    def _init_path(self, path: str, sample_rate: Any) -> None:
        if not os.path.isfile(path):
            if os.path.isdir(path):
                raise IsADirectoryError(
                    errno.EISDIR,
                    f"{path!r} is a folder, not an audio file: give the path of one file in it "
                    "(one Audio per file)",
                    path,
                )
            raise FileNotFoundError(errno.ENOENT, f"audio file not found: {path!r}", path)
        read_at = os.stat(path)
        self._read_info(path, path)
        self._set_local_file(os.path.abspath(path), self._extension, read_at)
        self._check_given_rate(sample_rate, path)

    def _init_bytes(self, data: bytes, sample_rate: Any, name: str) -> None:
        self._read_info(io.BytesIO(data), name)
        self._set_bytes(data, self._extension)
        self._check_given_rate(sample_rate, name)

    def _check_given_rate(self, sample_rate: Any, name: str) -> None:
        if sample_rate is not None and _samples.check_sample_rate(sample_rate) != self._sample_rate:
            raise ValueError(
                f"sample_rate={sample_rate!r} contradicts {name!r}, whose header says "
                f"{self._sample_rate}; leave sample_rate out for files (it is read from them)"
            )

    def _read_info(self, file: Any, name: str, stored: bool = False) -> None:
        info = _samples.read_info(file, name, stored)
        self._sample_rate, self._frames, self._channels = info[:3]
        self._ndim, self._dtype, self._extension = info[3:]

    @classmethod
    def from_json(cls, json_obj: dict[str, Any], source_artifact: Any) -> Audio:
        """Rebuild a clip from audio-file JSON; samples are read only by :meth:`numpy`.

        Metadata missing from the JSON (as in JSON written by the wandb client) is read from
        the file's header, on first use.
        """
        self = cls.__new__(cls)
        Media.__init__(self)
        self._caption = json_obj.get("caption")
        self._array = None
        self._format = "wav"
        path = json_obj["path"]
        ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else "bin"
        self._set_source_file(source_artifact, path, json_obj["sha256"], json_obj.get("size"), ext)
        said = _samples.info_from_json(json_obj, ext)
        if isinstance(said, _samples.Info):
            self._sample_rate, self._frames, self._channels, self._ndim, self._dtype = said[:5]
        else:  # read from the header on first use; what the JSON does say must agree
            self._sample_rate = None
            self._json_meta = said
        return self

    def _ensure_meta(self) -> None:
        if self._sample_rate is None:
            with self.open() as f:
                try:
                    self._read_info(f, self._describe(), stored=True)
                except ValueError as exc:  # stored bytes that are not audio
                    raise IntegrityError(f"{self._describe()}: {exc}") from None
            header = (self._sample_rate, self._frames, self._channels, self._dtype)
            try:
                _samples.check_json_meta(getattr(self, "_json_meta", {}), header)
            except IntegrityError as exc:
                self._sample_rate = None
                raise IntegrityError(f"{self._describe()}: {exc}") from None

    def _describe(self) -> str:
        src = self.source_file()
        if not src:
            return repr(self)
        where = getattr(src[0], "qualified_name", None)  # an artifact names itself
        return f"{where}/{src[1]}" if isinstance(where, str) else src[1]

    # -- metadata -------------------------------------------------------------------------
    @property
    def caption(self) -> str | None:
        """The caption, or ``None``."""
        return self._caption

    @property
    def sample_rate(self) -> int:
        """Samples per second per channel."""
        self._ensure_meta()
        return self._sample_rate

    @property
    def channels(self) -> int:
        """Number of channels."""
        self._ensure_meta()
        return self._channels

    @property
    def frames(self) -> int:
        """Number of frames (samples per channel)."""
        self._ensure_meta()
        return self._frames

    @property
    def duration(self) -> float:
        """Length in seconds."""
        self._ensure_meta()
        return self._frames / self._sample_rate

    @property
    def dtype(self) -> str:
        """Name of the NumPy dtype :meth:`numpy` returns."""
        self._ensure_meta()
        return self._dtype

    @property
    def ndim(self) -> int:
        """1 if :meth:`numpy` returns a 1-D mono array, 2 for frames x channels."""
        self._ensure_meta()
        return self._ndim

    def file_is_set(self) -> bool:
        """Whether the clip has its media (a file, or an array to write as one)."""
        return self._file is not None or self._array is not None

    # -- samples --------------------------------------------------------------------------
    def numpy(
        self, start: int | None = None, stop: int | None = None, *, dtype: str | None = None
    ) -> np.ndarray:
        """The samples of frames ``[start, stop)``: shape ``(frames,)`` for mono or
        ``(frames, channels)``, a new array.

        ``start`` and ``stop`` default to the whole clip (``0 <= start <= stop <= frames``,
        else ``ValueError``).  ``dtype=None`` gives the dtype the clip is stored with;
        ``"float32"``, ``"float64"``, ``"int16"`` or ``"int32"`` convert exactly as
        ``soundfile.read(dtype=...)`` does.  A window of a stored clip reads only the bytes
        it needs where the format allows (a WAV header and the window's bytes; FLAC's seek
        points), and those bytes are checked by the source it comes from.
        """
        want = _window.check_dtype(dtype)
        self._ensure_meta()
        frames = self._frames
        if start is None and stop is None and type(frames) is int and frames >= 0:
            a, b = 0, frames  # (what check_range gives, without its checks' cost)
        else:
            a, b = _window.check_range(start, stop, frames)
        out = want or self._dtype
        if self._array is not None:
            samples = self._array[a:b]
            if out == self._dtype:
                return samples.copy()
            two_d = samples.reshape(b - a, self._channels)
            samples = _window.convert(two_d, out, self._sample_rate)
        else:
            said = (self._sample_rate, self._channels, self._frames if self._whole_file else None)
            if (a, b) == (0, self._frames) and self._whole_file:
                file = self._current()
                samples = _window.read_whole(file, out, said, self._describe, self._dtype)
            else:
                fa, fb = self._file_range(a, b)
                reader = _window.reader_for(self._current())
                samples = _window.read(reader, fa, fb, out, said, self._describe(), self._dtype)
        if self._ndim == 1:
            samples = samples[:, 0]
        flags = samples.flags
        if not (flags.writeable and flags.c_contiguous):
            samples = np.ascontiguousarray(samples).copy()
        return samples

    #: whether the clip is its whole file (a segment is a window of one)
    _whole_file: ClassVar[bool] = True

    def _file_range(self, start: int, stop: int) -> tuple[int, int]:
        """Frames of the file that frames ``[start, stop)`` of the clip are."""
        return start, stop

    def segment(self, start: int, stop: int) -> Audio:
        """An :class:`Audio` of frames ``[start, stop)`` of this clip, a view of its file.

        Same sample rate, channels, dtype and caption; ``segment.numpy()`` equals
        ``clip.numpy(start, stop)``.  Added to an artifact it stores this clip's file (once,
        however many segments of it are added; not at all when the file is already an entry
        of the store) and JSON that names the file and the range, so that loaded again it
        reads only its window.  See :class:`media.AudioSegment`.
        """
        # (through the registry: media.segment imports this module)
        return registry.lookup("audio-segment")(self, start, stop)

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self, run_or_artifact: Any) -> dict[str, Any]:
        """audio-file JSON: path, sha256, size, sample_rate, duration, channels, frames,
        dtype, ndim and caption (``null`` when none)."""
        obj = super().to_json(run_or_artifact)
        self._ensure_meta()
        obj.update(self._meta_json())
        return obj

    def _meta_json(self) -> dict[str, Any]:
        """The clip's fields of its JSON (audio-file and audio-segment write the same ones)."""
        return {
            "sample_rate": self._sample_rate,
            "duration": self._frames / self._sample_rate,
            "channels": self._channels,
            "frames": self._frames,
            "dtype": self._dtype,
            "ndim": self._ndim,
            "caption": self._caption,
        }

    @classmethod
    def seq_to_json(
        cls, seq: Sequence[Audio], run: Any, key: str, step: int | str
    ) -> dict[str, Any]:
        """JSON of a list of clips logged under one key: binds each clip to ``run`` first."""
        return _audio_seq.seq_to_json(cls.check_seq(seq, key), run, key, step)

    @classmethod
    def check_seq(cls, seq: Iterable[Any], key: str) -> list[Audio]:
        """The clips of a list to log under ``key`` in the ``audio`` form, checked.

        That form is read as whole files by every reader (the wandb client too), so it
        holds whole clips only: a segment raises ``ValueError`` (log it under its own key).
        """
        return _audio_seq.check_seq(_audio_seq.clips(seq, Audio), key)

    @classmethod
    def seq_from_json(cls, json_obj: dict[str, Any], source: Any) -> list[Audio]:
        """The clips of an ``audio`` seq JSON (as written by :meth:`seq_to_json`)."""
        return _audio_seq.seq_from_json(json_obj, source)

    @classmethod
    def durations(cls, audio_list: Iterable[Audio]) -> list[float]:
        """Duration in seconds of each clip."""
        return [a.duration for a in _audio_seq.clips(audio_list, Audio)]

    @classmethod
    def sample_rates(cls, audio_list: Iterable[Audio]) -> list[int]:
        """Sample rate of each clip."""
        return [a.sample_rate for a in _audio_seq.clips(audio_list, Audio)]

    @classmethod
    def captions(cls, audio_list: Iterable[Audio]) -> list[str] | Literal[False]:
        """``False`` when no clip has a caption, else each caption with ``""`` for none."""
        return _audio_seq.captions(_audio_seq.clips(audio_list, Audio))

    # -- equality -------------------------------------------------------------------------
    def _eq_key(self) -> Any:
        return (self.caption, self.sample_rate, self.channels, self.ndim, self.dtype)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return False  # not NotImplemented: numpy would answer with an array of bools
        assert isinstance(other, Audio)
        if self._eq_key() != other._eq_key() or self.frames != other.frames:
            return False
        if self._sha256 is not None and self._sha256 == other._sha256:
            return True
        return self.numpy().tobytes() == other.numpy().tobytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        if self._sample_rate is None:
            return f"Audio(<not yet read: {self._describe()}>, caption={self._caption!r})"
        return (
            f"Audio({self._dtype}, {self._sample_rate} Hz, {self._channels} ch, "
            f"{self._frames / self._sample_rate:.3f} s, caption={self._caption!r})"
        )
