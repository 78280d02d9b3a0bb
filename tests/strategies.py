"""Hypothesis strategies for the built-in value types, registered for ``st.from_type``.

Importing this module registers ``audios()`` for :class:`media.Audio`, ``segments()`` for
:class:`media.AudioSegment` and ``tables()`` for :class:`media.Table`, so
``st.from_type(media.Value)`` draws from every built-in type.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as npst

from media import Audio, AudioSegment, Table

__all__ = [
    "DTYPES",
    "audio_arrays",
    "audios",
    "captions",
    "sample_rates",
    "scalars",
    "segments",
    "tables",
]

DTYPES = ("float32", "float64", "int16", "int32")
MAX_CHANNELS = 8


def _elements(dtype: str) -> st.SearchStrategy:
    """Every sample a lossless file can hold: finite floats (with -0.0 and subnormals) or
    the whole integer range."""
    if dtype.startswith("float"):
        return st.floats(
            width=np.dtype(dtype).itemsize * 8,
            allow_nan=False,
            allow_infinity=False,
            allow_subnormal=True,
        )
    info = np.iinfo(dtype)
    return st.integers(int(info.min), int(info.max))


@st.composite
def audio_arrays(draw, max_frames: int = 300) -> np.ndarray:
    """A 1-D mono or 2-D frames x channels array of one of :data:`DTYPES`.

    2-D arrays have 1..8 channels and either no frames or at least as many frames as
    channels (Audio refuses more channels than frames as a channels-first array).
    """
    dtype = draw(st.sampled_from(DTYPES))
    if draw(st.booleans()):
        shape: tuple[int, ...] = (draw(st.integers(0, max_frames)),)
    else:
        channels = draw(st.integers(1, MAX_CHANNELS))
        frames = draw(st.one_of(st.just(0), st.integers(channels, max(channels, max_frames))))
        shape = (frames, channels)
    return draw(npst.arrays(np.dtype(dtype), shape, elements=_elements(dtype)))


def sample_rates() -> st.SearchStrategy[int]:
    """Sample rates from 1 Hz to 384 kHz, with the common ones drawn more often."""
    return st.one_of(st.sampled_from([8000, 16000, 22050, 44100, 48000]), st.integers(1, 384000))


def captions() -> st.SearchStrategy[str | None]:
    """``None`` or any Unicode text (no lone surrogates: they are not text)."""
    return st.one_of(st.none(), st.text())


@st.composite
def audios(draw, max_frames: int = 300) -> Audio:
    """An :class:`Audio` clip made from an array (see :func:`audio_arrays`)."""
    array = draw(audio_arrays(max_frames))
    return Audio(array, sample_rate=draw(sample_rates()), caption=draw(captions()))


@st.composite
def segments(draw, max_frames: int = 300) -> AudioSegment:
    """A segment of a clip made from an array: any range of it, sometimes a range of a range."""
    clip = draw(audios(max_frames))
    start = draw(st.integers(0, clip.frames))
    segment = clip.segment(start, draw(st.integers(start, clip.frames)))
    if draw(st.booleans()):
        start = draw(st.integers(0, segment.frames))
        segment = segment.segment(start, draw(st.integers(start, segment.frames)))
    return segment


def scalars() -> st.SearchStrategy:
    """JSON scalars a table cell may hold (finite floats: JSON has no NaN)."""
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    )


@st.composite
def tables(draw) -> Table:
    """A :class:`Table` of 1..4 uniquely named columns and 0..3 rows of scalar, Audio and
    AudioSegment cells."""
    columns = draw(st.lists(st.text(max_size=10), min_size=1, max_size=4, unique=True))
    cell = st.one_of(scalars(), audios(max_frames=40), segments(max_frames=40))
    rows = draw(st.lists(st.lists(cell, min_size=len(columns), max_size=len(columns)), max_size=3))
    return Table(columns=columns, data=rows)


# a segment is an Audio: from_type(Audio) (and from_type(Value), which takes the most
# general registered types) draws both
st.register_type_strategy(Audio, st.one_of(audios(), segments()))
st.register_type_strategy(AudioSegment, segments())
st.register_type_strategy(Table, tables())
