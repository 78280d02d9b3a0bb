"""The page of a run folder: per logged key, its media across steps with a step slider, and
small plots of the logged numbers (inline SVG)."""

from __future__ import annotations

import math
import os
from typing import Any

from media import Audio, Table, Value, display
from media.display import Sink, e

from ..history import read_history
from .page import DEFAULT_LIMIT, filter_box, page

__all__ = ["render_run", "run_body", "is_run_folder"]

PLOT_W, PLOT_H = 320, 150

# Moving the slider shows that step's media and pauses the others (inline: no globals).
_SLIDE = (
    "var b=this.closest('.steps'),s=b.querySelectorAll(':scope>.step'),i=+this.value;"
    "s.forEach(function(x,j){x.classList.toggle('on',j===i);"
    "x.querySelectorAll('audio').forEach(function(a){if(j!==i)a.pause();"
    "else if(a.preload==='none')a.preload='metadata';});});"
    "b.querySelector('output').textContent='step '+s[i].dataset.step;"
)


def is_run_folder(path: str) -> bool:
    """Whether ``path`` is a run folder (it holds ``history.jsonl``)."""
    return os.path.isfile(os.path.join(path, "history.jsonl"))


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_media(v: Any) -> bool:
    return isinstance(v, Value) or (
        isinstance(v, list) and bool(v) and all(isinstance(x, Value) for x in v)
    )


def plot_svg(key: str, points: list[tuple[int, float]]) -> str:
    """A small line plot of ``(step, value)`` points, with its range on both axes."""
    steps = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(steps), max(steps)
    y0, y1 = min(ys), max(ys)
    left, top, w, h = 48, 18, PLOT_W - 56, PLOT_H - 40

    def xy(s: int, y: float) -> str:
        px = left + (w * (s - x0) / (x1 - x0) if x1 > x0 else w / 2)
        py = top + (h * (1 - (y - y0) / (y1 - y0)) if y1 > y0 else h / 2)
        return f"{px:.1f},{py:.1f}"

    line = " ".join(xy(s, y) for s, y in points)
    cx, cy = xy(*points[0]).split(",")
    dots = "" if len(points) > 1 else f'<circle r="3" cx="{cx}" cy="{cy}" fill="#2563c8"/>'
    return (
        f'<div class="plot" data-filter="{e(key.lower())}"><svg class="plot-svg" width="{PLOT_W}" '
        f'height="{PLOT_H}" viewBox="0 0 {PLOT_W} {PLOT_H}" role="img" '
        f'aria-label="{e(key)} by step" '
        'style="font:10px sans-serif;fill:#445">'
        f'<text x="{left}" y="11" style="font-weight:600">{e(key)}</text>'
        f'<rect x="{left}" y="{top}" width="{w}" height="{h}" fill="#f8f9fc" stroke="#dde"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{y1:.4g}</text>'
        f'<text x="{left - 4}" y="{top + h}" text-anchor="end">{y0:.4g}</text>'
        f'<text x="{left}" y="{top + h + 14}">{x0}</text>'
        f'<text x="{left + w}" y="{top + h + 14}" text-anchor="end">{x1}</text>'
        f'<text x="{left + w / 2}" y="{top + h + 14}" text-anchor="middle">step</text>'
        f'<polyline points="{line}" fill="none" stroke="#2563c8" stroke-width="1.5"/>{dots}'
        "</svg></div>"
    )


def _step_html(key: str, step: int, value: Any, sink: Sink, on: bool) -> str:
    # only the step shown loads its clips' headers; the others load when shown or played
    preload = "metadata" if on else "none"
    if isinstance(value, list):  # a list of values logged under one key
        return "".join(
            _value_html(v, f"{key} {step}[{i}]", sink, preload) for i, v in enumerate(value)
        )
    return _value_html(value, f"{key} {step}", sink, preload)


def _value_html(value: Any, label: str, sink: Sink, preload: str) -> str:
    if isinstance(value, Audio):
        return display.audio_html(value, label, sink, preload=preload)
    if isinstance(value, Table):
        return display.table_html(value, label, sink, preload=preload)
    return display.value_html(value, label, sink)


def _pick(steps: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` of ``steps``, evenly spaced, the first and the last kept."""
    if len(steps) <= limit:
        return steps
    if limit == 1:
        return steps[-1:]
    idx = sorted({round(i * (len(steps) - 1) / (limit - 1)) for i in range(limit)})
    return [steps[i] for i in idx]


def run_body(
    run_dir: str, sink: Sink = display.data_uri, limit: int = DEFAULT_LIMIT, search: bool = True
) -> list[str]:
    """Plots of the numbers, then one step slider per media key (at most ``limit`` steps of
    each, evenly spaced)."""
    rows = read_history(run_dir)
    numbers: dict[str, list[tuple[int, float]]] = {}
    media: dict[str, list[tuple[int, Any]]] = {}
    for row in rows:
        step = row["_step"]
        for key, value in row.items():
            if key.startswith("_"):
                continue
            if _is_number(value):
                numbers.setdefault(key, []).append((step, float(value)))
            elif _is_media(value):
                media.setdefault(key, []).append((step, value))
    body = [
        f'<p class="meta">{len(rows)} steps · {len(numbers)} numbers · {len(media)} media keys</p>'
    ]
    if search:
        body.append(filter_box(len(media) + len(numbers)))
    if numbers:
        body.append(
            '<div class="plots">'
            + "".join(plot_svg(k, v) for k, v in sorted(numbers.items()))
            + "</div>"
        )
    for key, steps in sorted(media.items()):
        shown = _pick(steps, limit)
        last = len(shown) - 1
        panels = "".join(
            f'<div class="step{" on" if i == last else ""}" data-step="{s}">'
            f"{_step_html(key, s, v, sink, i == last)}</div>"
            for i, (s, v) in enumerate(shown)
        )
        note = (
            f'<p class="cap">showing {len(shown)} of {len(steps)} steps</p>'
            if len(shown) < len(steps)
            else ""
        )
        body.append(
            f'<div class="card wide steps" data-filter="{e(key.lower())}">'
            f'<h3 class="name">{e(key)}</h3>{note}'
            f'<label>step <input type="range" min="0" max="{last}" value="{last}" step="1" '
            f'aria-label="step of {e(key)}" oninput="{e(_SLIDE)}"> '
            f"<output>step {shown[-1][0]}</output></label>"
            f"{panels}</div>"
        )
    return body


def render_run(run_dir: str, limit: int = DEFAULT_LIMIT, sink: Sink = display.data_uri) -> str:
    """The whole page of a run folder."""
    if not is_run_folder(run_dir):
        raise ValueError(f"{run_dir} is not a run folder: it has no history.jsonl")
    name = os.path.basename(os.path.abspath(run_dir))
    body = [f"<h1>run {e(name)}</h1>", *run_body(run_dir, sink, limit)]
    return page(f"run {name} · media-artifacts", body)
