"""The HTML preview of artifact versions and runs, and the comparison of two versions.

``write(artifacts_or_run, out)`` writes a page and, beside it, a folder ``<page>_files/``
with the clips and pictures it shows (``embed=True``: one self-contained file instead).
``render`` returns the page as a string (media embedded).  Pictures, players and the
display of values live in :mod:`media.display`, shared with the notebook display.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
import uuid
from collections.abc import Sequence
from typing import Any

from media import display

from .diff import compare, counts, describe_changes, fmt, table_cell_changes
from .items import VALUE_JSON, paths_in
from .page import DEFAULT_LIMIT, FolderSink, check, render, render_body
from .runs import is_run_folder, render_run, run_body

__all__ = [
    "render",
    "render_run",
    "write",
    "compare",
    "counts",
    "describe_changes",
    "fmt",
    "table_cell_changes",
    "version_html",
    "run_html",
    "is_run_folder",
    "paths_in",
    "VALUE_JSON",
    "DEFAULT_LIMIT",
    "NOTEBOOK_LIMIT",
]

NOTEBOOK_LIMIT = 20  # clips a version or run shows in a notebook cell


def _write_text(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".view-", suffix=".html", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a page is for reading
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write(
    what: Sequence[Any] | str | os.PathLike[str],
    out: str | os.PathLike[str],
    limit: int = DEFAULT_LIMIT,
    embed: bool = False,
) -> str:
    """Write the page of one or two committed versions (a sequence) or of a run folder (a
    path) to ``out``; returns its absolute path.

    Unless ``embed``, the clips and pictures go to the folder ``<stem>_files`` beside the
    page (replaced whole: files of an earlier page do not linger); the page refers to them
    by relative URLs, so the two move together.  With ``embed`` they are ``data:`` URIs in
    the page.
    """
    is_run = isinstance(what, (str, os.PathLike))
    if is_run:
        run_dir = os.fspath(what)  # type: ignore[arg-type]
        if not is_run_folder(run_dir):
            raise ValueError(f"{run_dir} is not a run folder: it has no history.jsonl")
    else:
        check(what, limit)  # type: ignore[arg-type]
    out = os.path.abspath(os.fspath(out))
    folder = os.path.dirname(out)
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(out))[0]
    files = os.path.join(folder, f"{stem}_files")

    def make(sink: Any) -> str:
        if is_run:
            return render_run(run_dir, limit, sink)
        return render(what, limit, sink)  # type: ignore[arg-type]

    if embed:
        _write_text(out, make(display.data_uri))
        return out
    tmp = tempfile.mkdtemp(prefix=f".{stem}_files-", dir=folder)
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the page's files are for reading
        text = make(FolderSink(tmp, urllib.parse.quote(f"{stem}_files") + "/"))
        old = None
        if os.path.lexists(files):
            old = os.path.join(folder, f".{stem}_files-old-{uuid.uuid4().hex}")
            os.rename(files, old)
        os.rename(tmp, files)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        _write_text(out, text)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def version_html(art: Any, limit: int = NOTEBOOK_LIMIT) -> str | None:
    """A committed version in a notebook: its summary and values (``None`` for a draft)."""
    if art.is_draft:
        return None
    body = [
        f"<h2>{display.e(art.qualified_name)}</h2>",
        *render_body(art, display.data_uri, limit, False),
    ]
    return display.notebook("\n".join(body) + _NB_CSS)


def run_html(run_dir: str, limit: int = NOTEBOOK_LIMIT) -> str:
    """A run's history in a notebook: plots of its numbers, its media across steps."""
    body = run_body(run_dir, display.data_uri, limit, False)
    return display.notebook("\n".join(body) + _NB_CSS)


_NB_CSS = (
    "<style>.ma .step{display:none}.ma .step.on{display:flex;flex-wrap:wrap;gap:1em}"
    ".ma .plots{display:flex;flex-wrap:wrap;gap:.8em}</style>"
)
