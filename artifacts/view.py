"""An HTML preview of artifact versions, and the comparison of two versions.

``render(artifacts)`` returns one self-contained HTML page: every audio value gets a player
(the clip embedded as a ``data:`` URI), its caption, duration, sample rate and channels, a
waveform picture and a spectrogram picture (PNG, computed with NumPy and encoded here with
``zlib``); tables become HTML tables with players in their cells.  With two artifacts the
page shows them side by side and marks what changed.  Large artifacts are capped at
``limit`` clips and the page says so.

Browsers do not all decode float64, multi-channel or RF64 WAV, nor AIFF, CAF or W64: such
clips are transcoded to 16-bit PCM WAV *for the player only* (the stored clip is untouched)
and the page says so.  All user text (names, captions, metadata, cells) is escaped.

``compare(a, b)`` lists entries added, removed and changed between two versions, and for
values the fields that changed (for audio: sample rate, duration, channels, caption, ...).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import json
import os
import re
import struct
import tempfile
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from media import Audio, AudioSegment, OpaqueValue, Table, Value

from .artifact import Artifact

__all__ = ["render", "write", "compare", "png", "waveform_png", "spectrogram_png", "DEFAULT_LIMIT"]

DEFAULT_LIMIT = 200
MAX_EMBED = 32 << 20  # a player's clip above this many bytes is not embedded
WAVE_W, WAVE_H = 480, 72
SPEC_W, SPEC_H = 480, 129  # 129 = bins of a 256-point FFT
CELL_W, CELL_H = 200, 36
N_FFT = 256
# formats and sample types that Chromium, Firefox and Safari all play as they are
_PLAYABLE = {"flac": "audio/flac", "ogg": "audio/ogg", "mp3": "audio/mpeg"}
_PLAYABLE_WAV_DTYPES = ("int16", "int32", "float32")
_AUDIO_EXT = ("wav", "flac", "ogg", "oga", "opus", "mp3", "aiff", "aif", "au", "caf", "w64")
_VALUE_JSON = re.compile(r"^(?P<base>.+)\.(?P<tag>[a-z0-9][a-z0-9_-]{0,63})\.json$")


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
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def _mono(samples: np.ndarray) -> np.ndarray:
    """Samples of any dtype as float64 in [-1, 1], channels mixed down."""
    x = samples.astype(np.float64)
    if samples.dtype.kind == "i":
        x /= float(2 ** (8 * samples.dtype.itemsize - 1))
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[1] else np.zeros(x.shape[0])
    return x


_BG = np.array([248, 249, 252], np.uint8)
_FG = np.array([37, 99, 200], np.uint8)


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


# a short version of the viridis colour map: dark blue (quiet) to yellow (loud)
_CMAP = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64
)


def spectrogram_png(samples: np.ndarray, width: int = SPEC_W, n_fft: int = N_FFT) -> bytes:
    """A PNG of the clip's spectrogram: Hann-windowed FFT magnitudes, 80 dB of range.

    Low frequencies at the bottom, Nyquist at the top; ``n_fft // 2 + 1`` rows.
    """
    x = _mono(samples)
    n = x.size
    if n < n_fft:
        x = np.concatenate([x, np.zeros(n_fft - n)])
        n = n_fft
    cols = max(1, min(width, (n - n_fft) // (n_fft // 4) + 1))
    starts = np.linspace(0, n - n_fft, cols).astype(np.int64)
    frames = x[starts[:, None] + np.arange(n_fft)[None, :]] * np.hanning(n_fft)[None, :]
    mag = np.abs(np.fft.rfft(frames, axis=1))
    top = float(mag.max())
    if top > 0:
        db = 20 * np.log10(np.maximum(mag / top, 1e-12))
        level = np.clip((db + 80) / 80, 0, 1)
    else:
        level = np.zeros_like(mag)
    level = level.T[::-1]  # bins x columns, low frequencies at the bottom
    level = level[:, (np.arange(width) * cols) // width]
    stops = np.linspace(0, 1, len(_CMAP))
    img = np.stack([np.interp(level, stops, _CMAP[:, c]) for c in range(3)], axis=-1)
    return png(np.round(img).astype(np.uint8))


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# -- players ------------------------------------------------------------------------------
def _player_source(audio: Audio) -> tuple[bytes | None, str, str | None]:
    """The bytes to embed in the player, their MIME type, and a note when transcoded."""
    ext = audio.extension.lower()
    segment = isinstance(audio, AudioSegment)  # its file is the whole recording
    if not segment and (
        ext in _PLAYABLE
        or (ext == "wav" and audio.dtype in _PLAYABLE_WAV_DTYPES and audio.channels <= 2)
    ):
        with audio.open() as f:
            data = f.read()
        if ext != "wav" or data[:4] == b"RIFF":
            if len(data) > MAX_EMBED:
                return None, "", f"not embedded: the clip is {_human(len(data))}"
            return data, _PLAYABLE.get(ext, "audio/wav"), None
    samples = audio.numpy()
    if samples.ndim == 2 and samples.shape[1] > 2:
        samples = samples.astype(np.float64).mean(axis=1) / (
            float(2 ** (8 * samples.dtype.itemsize - 1)) if samples.dtype.kind == "i" else 1.0
        )
        mixed = f", mixed down from {audio.channels} channels to mono"
    else:
        mixed = ""
    if samples.dtype.kind == "f":
        pcm = np.round(np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    else:
        shift = 8 * samples.dtype.itemsize - 16
        pcm = (samples.astype(np.int64) >> shift).astype("<i2")
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, pcm, audio.sample_rate, format="WAV", subtype="PCM_16")
    data = buf.getvalue()
    what = f"{audio.dtype} {ext.upper()}" if ext != "wav" else f"{audio.dtype} WAV"
    note = f"player: transcoded from {what} to 16-bit PCM WAV{mixed} (the stored clip is unchanged)"
    if segment:
        note = f"player: frames {audio.start} to {audio.stop} of the recording ({what}){mixed}"
    if len(data) > MAX_EMBED:
        return None, "", f"not embedded: the preview would be {_human(len(data))}"
    return data, "audio/wav", note


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clip_html(audio: Audio, name: str, compact: bool = False) -> str:
    """One clip: player, metadata, waveform (and, unless compact, spectrogram)."""
    try:
        data, mime, note = _player_source(audio)
        samples = audio.numpy()
    except Exception as exc:  # a damaged clip must not stop the page; show why
        return f'<div class="clip error"><b>{_e(name)}</b>: cannot read this clip: {_e(exc)}</div>'
    duration = audio.duration
    player = (
        f'<audio controls preload="metadata" data-name="{_e(name)}" '
        f'data-duration="{duration!r}" src="{_data_uri(data, mime)}"></audio>'
        if data is not None
        else ""
    )
    wave_w, wave_h = (CELL_W, CELL_H) if compact else (WAVE_W, WAVE_H)
    wave = (
        f'<img class="waveform" alt="waveform of {_e(name)}" width="{wave_w}" height="{wave_h}" '
        f'src="{_data_uri(waveform_png(samples, wave_w, wave_h), "image/png")}">'
    )
    caption = audio.caption
    facts = (
        f"{duration:.3f} s · {audio.sample_rate} Hz · {audio.channels} "
        f"channel{'s' if audio.channels != 1 else ''} · {audio.dtype} {audio.extension.upper()}"
    )
    parts = [f'<div class="clip{" compact" if compact else ""}">']
    if not compact:
        parts.append(f'<h3 class="name">{_e(name)}</h3>')
    if caption:
        parts.append(f'<p class="caption">{_e(caption)}</p>')
    parts += [player, f'<p class="facts">{_e(facts)}</p>']
    if note:
        parts.append(f'<p class="note">{_e(note)}</p>')
    parts.append(wave)
    if not compact:
        top = audio.sample_rate / 2
        parts.append(
            f'<img class="spectrogram" alt="spectrogram of {_e(name)} (0 to {top:g} Hz)" '
            f'title="0 to {top:g} Hz" width="{SPEC_W}" height="{SPEC_H}" '
            f'src="{_data_uri(spectrogram_png(samples), "image/png")}">'
        )
    parts.append("</div>")
    return "\n".join(parts)


# -- what an artifact holds ---------------------------------------------------------------
@dataclasses.dataclass
class _Item:
    name: str  # a value name, or the path of a file entry
    kind: str  # "audio", "table", "value", "file", "error"
    value: Any = None
    entry: str = ""  # the entry path holding it
    clips: int = 0  # audio clips in it


def _paths_in(obj: Any) -> list[str]:
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "path" and isinstance(v, str):
                out.append(v)
            else:
                out += _paths_in(v)
    elif isinstance(obj, list):
        for v in obj:
            out += _paths_in(v)
    return out


def _items(art: Artifact) -> list[_Item]:
    """The values of ``art`` (sorted by name), then its audio files that no value holds,
    then its other files."""
    entries = art.manifest.entries
    items: list[_Item] = []
    referenced: set[str] = set()
    value_paths = set()
    for path in sorted(entries):
        m = _VALUE_JSON.match(path)
        if not m:
            continue
        value_paths.add(path)
        name = m["base"]
        try:
            referenced.update(_paths_in(json.loads(art.read_bytes(path))))
            value = art.get(path)
        except Exception as exc:  # show a broken value on the page instead of failing
            items.append(_Item(name, "error", str(exc), path))
            continue
        if isinstance(value, Audio):
            items.append(_Item(name, "audio", value, path, 1))
        elif isinstance(value, Table):
            n = sum(isinstance(c, Audio) for row in value.data for c in row)
            items.append(_Item(name, "table", value, path, n))
        else:
            items.append(_Item(name, "value", value, path))
    for path in sorted(entries):
        if path in value_paths or path in referenced:
            continue
        ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        if ext in _AUDIO_EXT:
            try:
                with art.open_media(path) as f:
                    audio = Audio(f)
            except (ValueError, TypeError) as exc:
                items.append(_Item(path, "error", str(exc), path))
                continue
            items.append(_Item(path, "audio", audio, path, 1))
        else:
            items.append(_Item(path, "file", entries[path]["size"], path))
    return items


def _value_json(value: Value, indent: int | None = 1) -> str:
    if isinstance(value, OpaqueValue):
        obj = value.json
    else:
        try:
            obj = value.to_json(None)
        except Exception:
            return repr(value)
    text = json.dumps(obj, indent=indent, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= 2000 else text[:2000] + " ..."


class _Budget:
    """How many more clips the page may embed."""

    def __init__(self, limit: int):
        self.left = limit
        self.shown = 0
        self.total = 0


def _item_html(item: _Item, budget: _Budget, limit: int) -> str:
    budget.total += item.clips
    if item.kind == "audio":
        if budget.left <= 0:
            return (
                f'<div class="clip capped"><h3 class="name">{_e(item.name)}</h3>(not shown)</div>'
            )
        budget.left -= 1
        budget.shown += 1
        return _clip_html(item.value, item.name)
    if item.kind == "table":
        return _table_html(item, budget, limit)
    if item.kind == "value":
        tag = getattr(item.value, "tag", None) or type(item.value).artifact_type
        return (
            f'<div class="value"><h3 class="name">{_e(item.name)}</h3>'
            f'<p class="facts">{_e(type(item.value).__name__)} ({_e(tag)})</p>'
            f"<pre>{_e(_value_json(item.value))}</pre></div>"
        )
    if item.kind == "file":
        return (
            f'<div class="file"><span class="name">{_e(item.name)}</span> '
            f'<span class="facts">{_e(_human(item.value))}</span></div>'
        )
    return f'<div class="error"><b>{_e(item.name)}</b>: {_e(item.value)}</div>'


def _table_html(item: _Item, budget: _Budget, limit: int) -> str:
    table: Table = item.value
    head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    rows = []
    shown_rows = 0
    for row in table.data:
        n = sum(isinstance(c, Audio) for c in row)
        if shown_rows >= limit or (n and budget.left < n):
            break
        cells = []
        for c, col in zip(row, table.columns):
            if isinstance(c, Audio):
                budget.left -= 1
                budget.shown += 1
                cells.append(f"<td>{_clip_html(c, f'{item.name}[{shown_rows}].{col}', True)}</td>")
            elif isinstance(c, Value):
                cells.append(f"<td><pre>{_e(_value_json(c, None))}</pre></td>")
            elif isinstance(c, str):
                cells.append(f"<td>{_e(c)}</td>")
            else:
                cells.append(f"<td>{_e(json.dumps(c, ensure_ascii=False))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
        shown_rows += 1
    note = (
        f'<p class="cap">showing {shown_rows} of {len(table.data)} rows</p>'
        if shown_rows < len(table.data)
        else ""
    )
    return (
        f'<div class="table"><h3 class="name">{_e(item.name)}</h3>'
        f'<p class="facts">table: {len(table.data)} rows, {len(table.columns)} columns</p>{note}'
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _header(art: Artifact, title: bool = True) -> str:
    m = art.manifest
    size = sum(e["size"] for e in m.entries.values())
    facts = [
        f"type {art.type}",
        f"{len(m.entries)} entries",
        _human(size),
        f"aliases {', '.join(art.aliases) or '(none)'}",
        f"created {m['created_at']}",
        f"digest {m['digest'][:12]}",
    ]
    out = [f"<h2>{_e(art.qualified_name)}</h2>"] if title else []
    out.append(f'<p class="meta">{_e(" · ".join(facts))}</p>')
    if art.description:
        out.append(f'<p class="description">{_e(art.description)}</p>')
    if art.metadata:
        out.append(f'<pre class="metadata">{_e(json.dumps(art.metadata, indent=1))}</pre>')
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fff}
h1{font-size:1.4em}h2{font-size:1.2em;margin:.2em 0}h3{font-size:1em;margin:.2em 0}
.meta,.facts,.note,.cap{color:#556;font-size:.85em;margin:.2em 0}
.cap{background:#fff6d6;padding:.3em .6em;border-radius:4px;color:#5a4500}
.clip,.value,.table,.file,.error{border:1px solid #dde;border-radius:6px;padding:.6em;margin:.5em 0}
.clip.compact{border:none;padding:0;margin:0}.error{background:#fde8e8}
.caption{font-style:italic;margin:.2em 0}audio{display:block;width:100%;max-width:480px}
img{display:block;margin-top:.3em;max-width:100%;image-rendering:pixelated}
table{border-collapse:collapse}td,th{border:1px solid #dde;padding:.3em;vertical-align:top}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1em}
.row{display:contents}.status{grid-column:1/3;font-weight:600;margin-top:.6em}
.added{color:#1a7f37}.removed{color:#c62828}.changed{color:#9a6700}.same{color:#889}
pre{white-space:pre-wrap;font-size:.8em;margin:.2em 0}
"""


def _page(title: str, body: list[str]) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{_e(title)}</title><style>{_CSS}</style>'
        "</head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def _cap_note(budget: _Budget, limit: int) -> str:
    if budget.total <= budget.shown:
        return ""
    return (
        f'<p class="cap">showing {budget.shown} of {budget.total} clips (the first {limit}); '
        "use --limit N to show more</p>"
    )


def render(artifacts: Sequence[Artifact], limit: int = DEFAULT_LIMIT) -> str:
    """The HTML page for one committed artifact, or two side by side (what changed marked)."""
    if not 1 <= len(artifacts) <= 2:
        raise ValueError(f"Invalid artifacts: give one or two versions, not {len(artifacts)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"Invalid limit {limit!r}: give a positive number of clips")
    for art in artifacts:
        if art.is_draft:
            raise ValueError(f"{art.qualified_name} is a draft; commit it before viewing it")
    if len(artifacts) == 1:
        art = artifacts[0]
        budget = _Budget(limit)
        cards = [_item_html(item, budget, limit) for item in _items(art)]
        body = [f"<h1>{_e(art.qualified_name)}</h1>", _header(art, title=False)]
        body += [_cap_note(budget, limit), *cards]
        return _page(f"{art.qualified_name} · media-artifacts", body)
    return _render_pair(artifacts[0], artifacts[1], limit)


def _render_pair(a: Artifact, b: Artifact, limit: int) -> str:
    diff = compare(a, b)
    items_a = {i.name: i for i in _items(a)}
    items_b = {i.name: i for i in _items(b)}
    budget_a, budget_b = _Budget(limit), _Budget(limit)
    counts = {"added": 0, "removed": 0, "changed": 0, "same": 0}
    rows = []
    for name in sorted(set(items_a) | set(items_b)):
        ia, ib = items_a.get(name), items_b.get(name)
        if ia is None:
            status, detail = "added", ""
        elif ib is None:
            status, detail = "removed", ""
        else:
            change = diff["values"].get(name)
            if change is None and ia.entry in diff["changed"]:
                change = {"status": "changed", "changes": {}}
            status = "changed" if change else "same"
            detail = _describe_changes(change["changes"]) if change else ""
        counts[status] += 1
        left = _item_html(ia, budget_a, limit) if ia else '<div class="absent">(absent)</div>'
        right = _item_html(ib, budget_b, limit) if ib else '<div class="absent">(absent)</div>'
        label = f"{name}: {status}" + (f" ({detail})" if detail else "")
        rows.append(
            f'<div class="row" data-status="{status}"><div class="status {status}">{_e(label)}'
            f"</div><div>{left}</div><div>{right}</div></div>"
        )
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    meta = [f"{k}: {_fmt(v[0])} → {_fmt(v[1])}" for k, v in diff["artifact"].items()]
    title = f"{a.qualified_name} ↔ {b.qualified_name}"
    body = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="meta">{_e(summary)}</p>',
        *(f'<p class="changed">{_e(line)}</p>' for line in meta),
        _cap_note(budget_a, limit),
        _cap_note(budget_b, limit),
        '<div class="side">',
        f"<div>{_header(a)}</div><div>{_header(b)}</div>",
        *rows,
        "</div>",
    ]
    return _page(f"{title} · media-artifacts", body)


def write(
    artifacts: Sequence[Artifact], out: str | os.PathLike[str], limit: int = DEFAULT_LIMIT
) -> str:
    """Render the page and write it to ``out`` atomically; returns the absolute path."""
    page = render(artifacts, limit)
    out = os.path.abspath(os.fspath(out))
    folder = os.path.dirname(out)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".view-", suffix=".html", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out


# -- comparing two versions ---------------------------------------------------------------
_AUDIO_FIELDS = ("sample_rate", "duration", "channels", "frames", "dtype", "caption", "extension")


def _entry_key(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e.get("digest"), e.get("uri"), e.get("etag"), e["size"])


def _fmt(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False) if not isinstance(v, (int, float)) else f"{v:g}"


def _describe_changes(changes: dict[str, Any]) -> str:
    parts = []
    for field, (old, new) in changes.items():
        if field == "sha256":
            parts.append("samples changed")
        else:
            parts.append(f"{field} {_fmt(old)} → {_fmt(new)}")
    return "; ".join(parts)


def _value_changes(a: Value, b: Value) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    if type(a) is not type(b):
        return {"type": [_type_name(a), _type_name(b)]}
    if isinstance(a, Audio):
        assert isinstance(b, Audio)
        for field in _AUDIO_FIELDS:
            va, vb = getattr(a, field), getattr(b, field)
            if va != vb:
                changes[field] = [va, vb]
        if a.sha256 != b.sha256:
            changes["sha256"] = [a.sha256, b.sha256]
        if isinstance(a, AudioSegment) and isinstance(b, AudioSegment):  # same file, other range
            for field in ("start", "stop"):
                if getattr(a, field) != getattr(b, field):
                    changes[field] = [getattr(a, field), getattr(b, field)]
        return changes
    if isinstance(a, Table):
        assert isinstance(b, Table)
        if a.columns != b.columns:
            changes["columns"] = [a.columns, b.columns]
        if len(a.data) != len(b.data):
            changes["rows"] = [len(a.data), len(b.data)]
        return changes
    return changes


def _type_name(v: Value) -> str:
    return getattr(v, "tag", None) or type(v).artifact_type or type(v).__name__


def compare(a: Artifact, b: Artifact) -> dict[str, Any]:
    """What changed from version ``a`` to version ``b``.

    ``{"a", "b", "added", "removed", "changed"}`` (entry paths), ``"values"`` (value name
    -> ``{"status": "added" | "removed" | "changed", "changes": {field: [old, new]}}``; for
    audio the fields are sample_rate, duration, channels, frames, dtype, caption, extension
    and sha256 (the samples)) and ``"artifact"`` (type, description and metadata keys that
    changed, as ``[old, new]``).
    """
    ea, eb = a.manifest.entries, b.manifest.entries
    out: dict[str, Any] = {
        "a": a.qualified_name,
        "b": b.qualified_name,
        "added": sorted(set(eb) - set(ea)),
        "removed": sorted(set(ea) - set(eb)),
        "changed": sorted(p for p in set(ea) & set(eb) if _entry_key(ea[p]) != _entry_key(eb[p])),
        "values": {},
        "artifact": {},
    }
    names_a = {m["base"]: p for p in ea if (m := _VALUE_JSON.match(p))}
    names_b = {m["base"]: p for p in eb if (m := _VALUE_JSON.match(p))}
    values: dict[str, Any] = {}
    for name in sorted(set(names_a) | set(names_b)):
        pa, pb = names_a.get(name), names_b.get(name)
        if pa is None:
            values[name] = {"status": "added", "changes": {}}
        elif pb is None:
            values[name] = {"status": "removed", "changes": {}}
        elif pa != pb or _entry_key(ea[pa]) != _entry_key(eb[pb]):
            try:
                changes = _value_changes(a.get(pa), b.get(pb))
            except Exception as exc:  # unreadable on one side: say so, keep comparing
                changes = {"error": [None, str(exc)]}
            values[name] = {"status": "changed", "changes": _jsonable(changes)}
    out["values"] = values
    for field in ("type", "description"):
        if getattr(a, field) != getattr(b, field):
            out["artifact"][field] = [getattr(a, field), getattr(b, field)]
    for key in sorted(set(a.metadata) | set(b.metadata)):
        va, vb = a.metadata.get(key), b.metadata.get(key)
        if va != vb:
            out["artifact"][f"metadata.{key}"] = [va, vb]
    return out


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: getattr(o, "item", lambda: str(o))()))
