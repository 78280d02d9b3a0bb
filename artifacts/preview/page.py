"""The preview page of one committed version, or of two side by side.

Media and pictures go through a *sink* (see :mod:`media.display`): :class:`FolderSink`
writes them as files in a folder beside the page (the default of ``artifacts view``: the
page stays small whatever the clips weigh), :func:`media.display.data_uri` embeds them
(``--embed``: one self-contained file).  The page's only script is the filter and the step
sliders, inline: the page works offline.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

from media import Audio, Table, display
from media.display import Sink, e

from . import diff as _diff
from .items import Item, items

__all__ = ["render", "render_body", "page", "FolderSink", "DEFAULT_LIMIT", "human"]

DEFAULT_LIMIT = 200
PRELOAD = 24  # players that load their clip's header when the page opens; the rest on play


class FolderSink:
    """A sink that writes each file once, named by its sha256, into ``folder``; the page
    refers to it as ``url_prefix + name``."""

    def __init__(self, folder: str, url_prefix: str):
        self.folder, self.url_prefix = folder, url_prefix
        self.files = 0
        self.bytes = 0

    def __call__(self, data: bytes, extension: str) -> str:
        name = f"{hashlib.sha256(data).hexdigest()[:32]}.{extension}"
        path = os.path.join(self.folder, name)
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(data)
            self.files += 1
            self.bytes += len(data)
        return self.url_prefix + name


def human(n: float) -> str:
    """A byte count for people (``"1.5 MB"``)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


class Budget:
    """How many more clips the page may show."""

    def __init__(self, limit: int):
        self.left = limit
        self.shown = 0
        self.total = 0

    def preload(self) -> str:
        """``preload`` of the next player: browsers keep only so many players loaded."""
        return "metadata" if self.shown < PRELOAD else "none"

    def note(self, limit: int) -> str:
        if self.total <= self.shown:
            return ""
        return (
            f'<p class="cap">showing {self.shown} of {self.total} clips (the first {limit}); '
            "use --limit N to show more</p>"
        )


def _captions(item: Item) -> str:
    if item.kind == "audio":
        return item.value.caption or ""
    if item.kind == "table":
        return " ".join(
            c.caption or "" for row in item.value.data for c in row if isinstance(c, Audio)
        )
    return ""


def card(item: Item, budget: Budget, sink: Sink, changed: Any = frozenset()) -> str:
    """One item as a card of the grid (filterable by name and caption)."""
    budget.total += item.clips
    wide = ""
    if item.kind == "audio":
        if budget.left <= 0:
            inner = (
                f'<div class="clip capped"><h3 class="name">{e(item.name)}</h3>(not shown)</div>'
            )
        else:
            inner = display.audio_html(item.value, item.name, sink, preload=budget.preload())
            budget.left -= 1
            budget.shown += 1
    elif item.kind == "table":
        wide = " wide"
        table: Table = item.value
        rows, preload = 0, budget.preload()
        for row in table.data:
            n = sum(isinstance(c, Audio) for c in row)
            if n > budget.left:
                break
            budget.left -= n
            budget.shown += n
            rows += 1
        inner = display.table_html(table, item.name, sink, rows, changed, preload)
    elif item.kind == "value":
        inner = display.value_html(item.value, item.name, sink)
    elif item.kind == "file":
        inner = (
            f'<div class="file"><span class="name">{e(item.name)}</span> '
            f'<span class="facts">{e(human(item.value))}</span></div>'
        )
    else:
        inner = f'<div class="error"><b>{e(item.name)}</b>: {e(item.value)}</div>'
    text = f"{item.name} {_captions(item)}".lower()
    return f'<div class="card{wide}" data-filter="{e(text)}">{inner}</div>'


def header(art: Any, title: bool = True) -> str:
    """A version's name, facts, description and metadata."""
    m = art.manifest
    size = sum(x["size"] for x in m.entries.values())
    facts = [
        f"type {art.type}",
        f"{len(m.entries)} entries",
        human(size),
        f"aliases {', '.join(art.aliases) or '(none)'}",
        f"created {m['created_at']}",
        f"digest {m['digest'][:12]}",
    ]
    out = [f"<h2>{e(art.qualified_name)}</h2>"] if title else []
    out.append(f'<p class="meta">{e(" · ".join(facts))}</p>')
    if art.description:
        out.append(f'<p class="description">{e(art.description)}</p>')
    if art.metadata:
        out.append(f'<pre class="metadata">{e(json.dumps(art.metadata, indent=1))}</pre>')
    return "\n".join(out)


CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fff}
h1{font-size:1.4em}h2{font-size:1.2em;margin:.2em 0}h3{font-size:1em;margin:.2em 0}
.meta,.facts,.note,.cap{color:#556;font-size:.85em;margin:.2em 0}
.cap{background:#fff6d6;padding:.3em .6em;border-radius:4px;color:#5a4500}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(530px,1fr));gap:.8em}
.card{border:1px solid #dde;border-radius:6px;padding:.6em;overflow-x:auto}
.card.wide{grid-column:1/-1}
.hidden{display:none}.error{background:#fde8e8}.clip.compact{min-width:250px}
.caption{font-style:italic;margin:.2em 0}audio{display:block;width:100%;max-width:400px}
.figure{margin-top:.3em}img{image-rendering:pixelated}
table{border-collapse:collapse}td,th{border:1px solid #dde;padding:.3em;vertical-align:top}
td.changed{background:#fff1c2;outline:2px solid #d4a72c}
.side{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em}
.row{display:contents}.status{grid-column:1/3;font-weight:600;margin-top:.6em}
.added{color:#1a7f37}.removed{color:#c62828}.changed{color:#9a6700}.same{color:#889}
details.unchanged{margin:1em 0}details.unchanged>summary{cursor:pointer;font-weight:600}
.filter{margin:.6em 0}.filter input{width:24em;padding:.3em}
pre{white-space:pre-wrap;font-size:.8em;margin:.2em 0}
.plots{display:flex;flex-wrap:wrap;gap:.8em}
.plot{border:1px solid #dde;border-radius:6px;padding:.4em}
.step>.clip{flex:0 1 520px}.steps input{width:24em}
.step{display:none}.step.on{display:flex;flex-wrap:wrap;gap:1em}
"""

# The filter hides cards whose name and captions do not contain the text typed.
JS = """
function maFilter(box){
  var q=box.value.toLowerCase(),n=0,all=document.querySelectorAll('[data-filter]');
  all.forEach(function(c){
    var ok=c.dataset.filter.indexOf(q)>=0;c.classList.toggle('hidden',!ok);if(ok)n++;});
  box.nextElementSibling.textContent=n+' of '+all.length+' shown';
}
"""


def filter_box(n: int) -> str:
    """The search box over the cards."""
    return (
        '<div class="filter"><input type="search" placeholder="filter by name or caption" '
        f'aria-label="filter" oninput="maFilter(this)"> <span class="count">{n} of {n} shown'
        "</span></div>"
    )


def page(title: str, body: list[str]) -> str:
    """A whole HTML page around ``body``."""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{e(title)}</title><style>{CSS}</style>'
        f"<script>{JS}</script></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


def check(artifacts: Sequence[Any], limit: int) -> None:
    """Refuse what cannot be shown, before anything is written."""
    if not 1 <= len(artifacts) <= 2:
        raise ValueError(f"Invalid artifacts: give one or two versions, not {len(artifacts)}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"Invalid limit {limit!r}: give a positive number of clips")
    for art in artifacts:
        if art.is_draft:
            raise ValueError(f"{art.qualified_name} is a draft; commit it before viewing it")


def render_body(art: Any, sink: Sink, limit: int, search: bool = True) -> list[str]:
    """The body of one version's page: header, filter, a grid of cards."""
    budget = Budget(limit)
    its = items(art)
    cards = [card(item, budget, sink) for item in its]
    return [
        header(art, title=False),
        budget.note(limit),
        filter_box(len(cards)) if search else "",
        '<div class="grid">',
        *cards,
        "</div>",
    ]


def render(
    artifacts: Sequence[Any], limit: int = DEFAULT_LIMIT, sink: Sink = display.data_uri
) -> str:
    """The HTML page for one committed artifact, or two side by side (what changed marked)."""
    check(artifacts, limit)
    if len(artifacts) == 2:
        return render_pair(artifacts[0], artifacts[1], limit, sink)
    art = artifacts[0]
    body = [f"<h1>{e(art.qualified_name)}</h1>", *render_body(art, sink, limit)]
    return page(f"{art.qualified_name} · media-artifacts", body)


def render_pair(a: Any, b: Any, limit: int, sink: Sink) -> str:
    """Two versions: changed, added and removed values side by side, the rest folded away."""
    d = _diff.compare(a, b)
    items_a = {i.name: i for i in items(a)}
    items_b = {i.name: i for i in items(b)}
    budget_a, budget_b = Budget(limit), Budget(limit)
    rows, same = [], []
    for name in sorted(set(items_a) | set(items_b)):
        ia, ib = items_a.get(name), items_b.get(name)
        cells: Any = frozenset()
        if ia is None:
            status, detail = "added", ""
        elif ib is None:
            status, detail = "removed", ""
        else:
            change = d["values"].get(name)
            if change is None and ia.entry in d["changed"]:
                change = {"status": "changed", "changes": {}}
            status = "changed" if change else "same"
            detail = _diff.describe_changes(change["changes"]) if change else ""
            if status == "changed" and ia.kind == ib.kind == "table":
                cells = _diff.table_cell_changes(ia.value, ib.value)
                detail = "; ".join(
                    x
                    for x in (detail, f"{len(cells)} cell{'s' if len(cells) != 1 else ''} changed")
                    if x
                )
        label = f"{name}: {status}" + (f" ({detail})" if detail else "")
        if status == "same":
            same.append(
                '<div class="same-row" data-status="same">'
                f'<div class="status same">{e(label)}</div>'
                f"{card(ib, budget_b, sink)}</div>"  # type: ignore[arg-type]
            )
            continue
        left = card(ia, budget_a, sink) if ia else '<div class="absent">(absent)</div>'
        right = card(ib, budget_b, sink, cells) if ib else '<div class="absent">(absent)</div>'
        rows.append(
            f'<div class="row" data-status="{status}"><div class="status {status}">{e(label)}'
            f"</div><div>{left}</div><div>{right}</div></div>"
        )
    meta = [f"{k}: {_diff.fmt(v[0])} → {_diff.fmt(v[1])}" for k, v in d["artifact"].items()]
    title = f"{a.qualified_name} ↔ {b.qualified_name}"
    n_values = {
        s: sum(v["status"] == s for v in d["values"].values())
        for s in ("added", "removed", "changed")
    }
    values_line = ", ".join(f"{n} {s}" for s, n in n_values.items())
    body = [
        f"<h1>{e(title)}</h1>",
        f'<p class="meta counts">entries: {e(_diff.counts(d))}</p>',
        f'<p class="meta">values: {e(values_line)}, {len(same)} unchanged</p>',
        *(f'<p class="changed">{e(line)}</p>' for line in meta),
        budget_a.note(limit),
        budget_b.note(limit),
        filter_box(len(rows) * 2 + len(same)),
        '<div class="side">',
        f"<div>{header(a)}</div><div>{header(b)}</div>",
        *rows,
        "</div>",
    ]
    if same:
        body += [
            f'<details class="unchanged"><summary>{len(same)} unchanged</summary>',
            '<div class="grid">',
            *same,
            "</div></details>",
        ]
    return page(f"{title} · media-artifacts", body)
