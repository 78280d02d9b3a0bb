"""How values show themselves as HTML: in a notebook (``_repr_html_``) and in the preview page.

Pictures are PNGs drawn here with NumPy and encoded with ``zlib``: a waveform (per-column min
and max) and a mel spectrogram (dB re the clip's peak).  We draw them ourselves rather than
depend on matplotlib or PIL because the pictures are simple, the page must not need a plotting
stack to be installed, and the tests can decode and check every pixel.  Axes, tick labels and
the dB scale are SVG text laid over the picture, so they stay sharp at any zoom.

Media reach the HTML through a *sink*: ``sink(data, extension) -> url``.  The default,
:func:`data_uri`, embeds the bytes (a notebook cell must carry its media); the preview page
passes one that writes files beside the page.  All text from values is escaped with
``html.escape``.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import struct
import zlib
from collections.abc import Callable
from typing import Any

import numpy as np

from . import registry

__all__ = [
    "png",
    "waveform_png",
    "mel_spectrogram",
    "spectrogram_png",
    "data_uri",
    "player_source",
    "audio_html",
    "table_html",
    "value_html",
    "TABLE_ROWS",
]

Sink = Callable[[bytes, str], str]
WAVE_W, WAVE_H = 400, 64
SPEC_W, SPEC_H = 400, 128
N_MELS = 64
CELL_W, CELL_H = 200, 36
TABLE_ROWS = 20  # a table's notebook display shows this many rows and counts the rest
_MIME = {"wav": "audio/wav", "flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mpeg"}
_MIME["png"] = "image/png"
# formats and sample types that Chromium, Firefox and Safari all play as they are
_PLAYABLE_WAV_DTYPES = ("int16", "int32", "float32")
_BG = np.array([248, 249, 252], np.uint8)
_FG = np.array([37, 99, 200], np.uint8)
# a short version of the viridis colour map: dark blue (quiet) to yellow (loud)
_CMAP = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64
)
DB_RANGE = 80.0


def e(text: Any) -> str:
    """``text`` escaped for HTML text and attribute values."""
    return html.escape(str(text), quote=True)


# -- pictures -----------------------------------------------------------------------------
def png(rgb: np.ndarray) -> bytes:
    """Encode an ``(height, width, 3)`` uint8 array as a PNG file (8-bit RGB, no filter)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or 0 in rgb.shape:
        raise ValueError(f"Invalid image shape {rgb.shape}: expected (height, width, 3)")
    h, w, _ = rgb.shape
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rgb.reshape(h, w * 3)], axis=1)

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(raw.tobytes(), 6)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _mono(samples: np.ndarray) -> np.ndarray:
    """Samples of any dtype as float64 in [-1, 1], channels mixed down."""
    x = samples.astype(np.float64)
    if samples.dtype.kind == "i":
        x /= float(2 ** (8 * samples.dtype.itemsize - 1))
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] else np.zeros(x.shape[0])
    return x


def waveform_png(samples: np.ndarray, width: int = WAVE_W, height: int = WAVE_H) -> bytes:
    """A PNG of the clip's waveform: per-column min/max, scaled to the clip's peak."""
    x = _mono(samples)
    img = np.empty((height, width, 3), np.uint8)
    img[:] = _BG
    mid = (height - 1) / 2
    img[int(round(mid)), :] = [210, 214, 222]
    if x.size:
        n = x.size
        if n >= width:
            starts = np.linspace(0, n, width + 1).astype(np.int64)[:-1]
            lo, hi = np.minimum.reduceat(x, starts), np.maximum.reduceat(x, starts)
        else:
            idx = (np.arange(width) * n) // width
            lo = hi = x[idx]
        peak = float(np.max(np.abs(x))) or 1.0
        top = np.round(mid - hi / peak * (mid - 1)).astype(np.int64)
        bottom = np.round(mid - lo / peak * (mid - 1)).astype(np.int64)
        rows = np.arange(height)[:, None]
        img[(rows >= top[None, :]) & (rows <= bottom[None, :])] = _FG
    return png(img)


def _hz_to_mel(f: Any) -> Any:
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def _mel_to_hz(m: Any) -> Any:
    return 700.0 * (10.0 ** (np.asarray(m, np.float64) / 2595.0) - 1.0)


#: the longest FFT frame of a spectrogram (frames stay 32 ms long up to 256 kHz)
MAX_FFT = 8192


def _pow2(n: float) -> int:
    """The smallest power of two >= ``n`` (1 for ``n`` <= 1)."""
    return 1 << int(math.ceil(math.log2(max(1.0, n))))


def mel_spectrogram(
    samples: np.ndarray, sample_rate: int, width: int = SPEC_W, n_mels: int = N_MELS
) -> tuple[np.ndarray, np.ndarray]:
    """``(db, centres)``: mel band energies in dB re the loudest (``n_mels x width``, from
    ``-DB_RANGE`` to 0, lowest band first) and each band's centre frequency in Hz.

    Frames of about 32 ms (a power of two, Hann window) are taken at ``width`` evenly spaced
    points; triangular filters are evenly spaced on the HTK mel scale from 0 Hz to Nyquist.
    """
    x = _mono(samples)
    peak = float(np.abs(x).max()) if x.size else 0.0
    if peak > 0:
        x = x / peak  # (dB re the loudest: the scale cancels, and power cannot overflow)
    n_fft = max(256, _pow2(0.032 * sample_rate))
    # no longer than the clip (padded to 256) nor than MAX_FFT: at radio rates (MHz) a
    # 32 ms frame would ask for gigabytes, for a preview 400 pixels wide
    n_fft = min(n_fft, MAX_FFT, max(256, _pow2(x.size)))
    if x.size < n_fft:
        x = np.concatenate([x, np.zeros(n_fft - x.size)])
    starts = np.linspace(0, x.size - n_fft, width).astype(np.int64)
    frames = x[starts[:, None] + np.arange(n_fft)[None, :]] * np.hanning(n_fft)[None, :]
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # width x bins
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(0.0, float(_hz_to_mel(sample_rate / 2)), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs[None, :] - lo) / np.maximum(mid - lo, 1e-9)
    fall = (hi - freqs[None, :]) / np.maximum(hi - mid, 1e-9)
    bank = np.maximum(0.0, np.minimum(rise, fall))  # n_mels x bins
    # a band narrower than one FFT bin catches none: give it its nearest bin
    empty = bank.sum(axis=1) == 0
    bank[empty, np.searchsorted(freqs, edges[1:-1][empty]).clip(0, freqs.size - 1)] = 1.0
    energy = bank @ power.T  # n_mels x width
    top = float(energy.max())
    if top <= 0:
        return np.full(energy.shape, -DB_RANGE), edges[1:-1]
    db = 10 * np.log10(np.maximum(energy / top, 10 ** (-DB_RANGE / 10)))
    return db, edges[1:-1]


def _colours(level: np.ndarray) -> np.ndarray:
    stops = np.linspace(0, 1, len(_CMAP))
    img = np.stack([np.interp(level, stops, _CMAP[:, c]) for c in range(3)], axis=-1)
    return np.round(img).astype(np.uint8)


def spectrogram_png(
    samples: np.ndarray, sample_rate: int, width: int = SPEC_W, height: int = SPEC_H
) -> bytes:
    """A PNG of the clip's mel spectrogram (see :func:`mel_spectrogram`): low bands at the
    bottom, each band ``height // N_MELS`` pixels tall, viridis from -80 dB to 0 dB."""
    db, _ = mel_spectrogram(samples, sample_rate, width, N_MELS)
    level = (db[::-1] + DB_RANGE) / DB_RANGE
    return png(_colours(np.repeat(level, max(1, height // N_MELS), axis=0)))


def _colorbar_png(height: int) -> bytes:
    level = np.linspace(1, 0, height)[:, None].repeat(8, axis=1)
    return png(_colours(level))


def data_uri(data: bytes, extension: str) -> str:
    """The default sink: ``data`` as a base64 ``data:`` URI."""
    mime = _MIME.get(extension, "application/octet-stream")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# -- axes ---------------------------------------------------------------------------------
def _time_ticks(duration: float) -> list[float]:
    if duration <= 0:
        return [0.0]
    raw = duration / 5
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if m * step >= raw)
    return [i * step for i in range(int(duration / step + 1e-9) + 1)]


def _fmt_s(t: float) -> str:
    if t >= 60:
        return f"{int(t // 60)}:{t % 60:02.0f}"
    return f"{t:g}"


def _axes(width: int, height: int, duration: float, left: str = "", right: str = "") -> str:
    """An SVG laid over a picture placed at (40, 0): a time axis below, ``left``/``right``
    extra SVG (frequency ticks, a dB scale)."""
    w, h = width + 40 + (48 if right else 8), height + 20
    marks = []
    for t in _time_ticks(duration):
        x = 40 + (t / duration * (width - 1) if duration > 0 else 0)
        marks.append(
            f'<line x1="{x:.1f}" y1="{height}" x2="{x:.1f}" y2="{height + 4}" stroke="#445"/>'
        )
        marks.append(f'<text x="{x:.1f}" y="{height + 14}" text-anchor="middle">{_fmt_s(t)}</text>')
    marks.append(f'<text x="30" y="{height + 14}" text-anchor="end">s</text>')
    return (
        f'<svg class="axes" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        'style="position:absolute;left:0;top:0;font:10px sans-serif;fill:#445" '
        f'aria-hidden="true">{"".join(marks)}{left}{right}</svg>'
    )


def _figure(
    kind: str, src: str, alt: str, width: int, height: int, svg: str, extra: str = ""
) -> str:
    w = width + 40 + (48 if extra else 8)
    return (
        f'<div class="figure {kind}-figure" style="position:relative;width:{w}px;'
        f'height:{height + 20}px;max-width:100%;overflow:hidden">{svg}'
        f'<img class="{kind}" alt="{e(alt)}" width="{width}" height="{height}" '
        f'style="position:absolute;left:40px;top:0;margin:0" src="{e(src)}">{extra}</div>'
    )


def waveform_figure(samples: np.ndarray, rate: int, name: str, sink: Sink, w: int, h: int) -> str:
    """A waveform picture with a time axis."""
    src = sink(waveform_png(samples, w, h), "png")
    duration = samples.shape[0] / rate
    return _figure("waveform", src, f"waveform of {name}", w, h, _axes(w, h, duration))


def spectrogram_figure(samples: np.ndarray, rate: int, name: str, sink: Sink) -> str:
    """A mel spectrogram with time and frequency axes and a dB scale."""
    w, h = SPEC_W, SPEC_H
    src = sink(spectrogram_png(samples, rate, w, h), "png")
    top = float(_hz_to_mel(rate / 2))
    left, last = [], -99.0
    for hz in (0, 100, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 64000):
        if hz > rate / 2:
            break
        y = (h - 1) * (1 - float(_hz_to_mel(hz)) / top)
        if abs(y - last) < 12:
            continue
        last = y
        label = f"{hz // 1000}k" if hz >= 1000 else str(hz)
        left.append(f'<line x1="36" y1="{y:.1f}" x2="40" y2="{y:.1f}" stroke="#445"/>')
        left.append(
            f'<text x="34" y="{min(h, max(8, y + 3)):.1f}" text-anchor="end">{label}</text>'
        )
    left.append('<text x="2" y="9">Hz</text>')
    right = []
    for db in range(0, -int(DB_RANGE) - 1, -20):
        y = (h - 1) * (-db / DB_RANGE)
        right.append(f'<text x="{w + 62}" y="{min(h, max(8, y + 3)):.1f}">{db}</text>')
    right.append(f'<text x="{w + 62}" y="{h + 14}">dB</text>')
    bar = (
        f'<img class="colorbar" alt="dB scale" width="8" height="{h}" style="position:absolute;'
        f'left:{w + 50}px;top:0;margin:0" src="{e(sink(_colorbar_png(h), "png"))}">'
    )
    svg = _axes(w, h, samples.shape[0] / rate, "".join(left), "".join(right))
    alt = f"mel spectrogram of {name} (0 to {rate / 2:g} Hz, dB re peak)"
    return _figure("spectrogram", src, alt, w, h, svg, bar)


# -- players ------------------------------------------------------------------------------
def player_source(audio: Any) -> tuple[bytes, str, str | None]:
    """The bytes a browser plays for ``audio``, their extension, and a note when transcoded.

    FLAC, OGG, MP3 and WAV of int16/int32/float32 with one or two channels are played as
    stored; anything else (float64, more channels, RF64, AIFF, ...) is transcoded to 16-bit
    PCM WAV, mixed down to mono above two channels.  The stored clip is never changed.
    """
    ext = audio.extension.lower()
    segment = isinstance(audio, _type("audio-segment"))  # its file is the whole recording
    if not segment and (
        ext in ("flac", "ogg", "mp3")
        or (ext == "wav" and audio.dtype in _PLAYABLE_WAV_DTYPES and audio.channels <= 2)
    ):
        with audio.open() as f:
            data = f.read()
        if ext != "wav" or data[:4] == b"RIFF":
            return data, ext, None
    samples = audio.numpy()
    mixed = ""
    if samples.ndim == 2 and samples.shape[1] > 2:
        samples = _mono(samples)
        mixed = f", mixed down from {audio.channels} channels to mono"
    if samples.dtype.kind == "f":
        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    else:
        pcm = (samples.astype(np.int64) >> (8 * samples.dtype.itemsize - 16)).astype("<i2")
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, pcm, audio.sample_rate, format="WAV", subtype="PCM_16")
    what = f"{audio.dtype} {ext.upper()}"
    note = f"player: transcoded from {what} to 16-bit PCM WAV{mixed} (the stored clip is unchanged)"
    if segment:
        note = f"player: frames {audio.start} to {audio.stop} of the recording ({what}){mixed}"
    return buf.getvalue(), "wav", note


def audio_html(
    audio: Any,
    name: str | None = None,
    sink: Sink = data_uri,
    compact: bool = False,
    preload: str = "metadata",
) -> str:
    """A clip: its name, caption, player, metadata line, waveform and (unless ``compact``)
    mel spectrogram.  A clip that cannot be read shows why instead.  ``preload="none"``
    loads the clip only when played (a page of many clips opens without loading them)."""
    label = name if name is not None else (audio.caption or "audio")
    try:
        data, ext, note = player_source(audio)
        samples = audio.numpy()
        src = sink(data, ext)
    except Exception as exc:  # a damaged clip must not stop the page; show why
        return f'<div class="clip error"><b>{e(label)}</b>: cannot read this clip: {e(exc)}</div>'
    duration, rate = audio.duration, audio.sample_rate
    channels = audio.channels
    facts = (
        f"{duration:.3f} s · {rate} Hz · {channels} channel{'s' if channels != 1 else ''} · "
        f"{audio.dtype} {audio.extension.upper()}"
    )
    caption = audio.caption or ""
    parts = [
        f'<div class="clip{" compact" if compact else ""}" data-name="{e(label)}" '
        f'data-caption="{e(caption)}">'
    ]
    if name is not None and not compact:
        parts.append(f'<h3 class="name">{e(name)}</h3>')
    if caption:
        parts.append(f'<p class="caption">{e(caption)}</p>')
    parts.append(
        f'<audio controls preload="{e(preload)}" data-name="{e(label)}" '
        f'data-duration="{duration!r}" '
        f'src="{e(src)}"></audio>'
    )
    parts.append(f'<p class="facts">{e(facts)}</p>')
    if note:
        parts.append(f'<p class="note">{e(note)}</p>')
    w, h = (CELL_W, CELL_H) if compact else (WAVE_W, WAVE_H)
    parts.append(waveform_figure(samples, rate, label, sink, w, h))
    if not compact:
        parts.append(spectrogram_figure(samples, rate, label, sink))
    parts.append("</div>")
    return "\n".join(parts)


def value_json(value: Any, indent: int | None = 1) -> str:
    """A value's JSON as text (cut at 2000 characters), or its repr when it has none."""
    obj = getattr(value, "json", None)
    if not isinstance(obj, dict):
        try:
            obj = value.to_json(None)
        except Exception:
            return repr(value)
    text = json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 2000 else text[:2000] + " ..."


def _type(tag: str) -> type:
    """A built-in value type by its tag, through the registry (this module imports no value
    type: values import it for their notebook display)."""
    return registry.lookup(tag)


def cell_html(cell: Any, name: str, sink: Sink, preload: str = "metadata") -> str:
    """A table cell's content: a compact clip, a value's own HTML, or escaped text."""
    if isinstance(cell, _type("audio-file")):
        return audio_html(cell, name, sink, compact=True, preload=preload)
    if isinstance(cell, registry.base()):
        return value_html(cell, None, sink, inner=True)
    if isinstance(cell, str):
        return e(cell)
    return e(json.dumps(cell, ensure_ascii=False))


def table_html(
    table: Any,
    name: str | None = None,
    sink: Sink = data_uri,
    max_rows: int = TABLE_ROWS,
    changed: set[tuple[int, str]] | frozenset[tuple[int, str]] = frozenset(),
    preload: str = "metadata",
) -> str:
    """A table as a grid, players in audio cells; the first ``max_rows`` rows and a count of
    the rest.  Cells in ``changed`` (``(row, column)``) are marked ``class="changed"``."""
    head = "".join(f"<th>{e(c)}</th>" for c in table.columns)
    rows = []
    for r, row in enumerate(table.data[:max_rows]):
        cells = []
        for c, col in zip(row, table.columns):
            mark = ' class="changed"' if (r, col) in changed else ""
            label = f"{name or 'table'}[{r}].{col}"
            cells.append(f"<td{mark}>{cell_html(c, label, sink, preload)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    n, shown = len(table.data), min(len(table.data), max_rows)
    rest = f'<p class="cap">showing {shown} of {n} rows ({n - shown} more)</p>' if shown < n else ""
    title = f'<h3 class="name">{e(name)}</h3>' if name is not None else ""
    return (
        f'<div class="table" data-name="{e(name or "")}" data-caption="">{title}'
        f'<p class="facts">table: {n} rows, {len(table.columns)} columns</p>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{rest}</div>"
    )


def value_html(
    value: Any, name: str | None = None, sink: Sink = data_uri, inner: bool = False
) -> str:
    """Any value: Audio and Table as above; another type through its ``to_html()`` hook
    (see :meth:`media.Value.to_html`); otherwise its type and JSON."""
    if isinstance(value, _type("audio-file")):
        return audio_html(value, name, sink)
    if isinstance(value, _type("table")):
        return table_html(value, name, sink)
    try:
        own = value.to_html()
    except Exception as exc:  # a broken hook must not stop the page; show why
        own = f'<p class="error">to_html failed: {e(exc)}</p>'
    tag = getattr(value, "tag", None) or type(value).artifact_type
    title = f'<h3 class="name">{e(name)}</h3>' if name is not None else ""
    if own is None:
        body = f"<pre>{e(value_json(value, None if inner else 1))}</pre>"
    else:
        body = own
    if inner:
        return body
    return (
        f'<div class="value" data-name="{e(name or "")}" data-caption="">{title}'
        f'<p class="facts">{e(type(value).__name__)} ({e(tag)})</p>{body}</div>'
    )


NOTEBOOK_CSS = (
    "<style>.ma .facts,.ma .note,.ma .cap{color:#556;font-size:.85em;margin:.2em 0}"
    ".ma .caption{font-style:italic;margin:.2em 0}.ma audio{display:block;width:100%;"
    "max-width:400px}.ma td,.ma th{border:1px solid #dde;padding:.3em;vertical-align:top}"
    ".ma table{border-collapse:collapse}.ma .figure{margin-top:.3em}"
    ".ma img{image-rendering:pixelated}</style>"
)


def notebook(fragment: str) -> str:
    """``fragment`` wrapped for a notebook cell (scoped styles)."""
    return f'<div class="ma">{NOTEBOOK_CSS}{fragment}</div>'
