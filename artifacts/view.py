"""The ``artifacts view`` preview: kept as the import path of :mod:`artifacts.preview`.

See :mod:`artifacts.preview` (pages) and :mod:`media.display` (pictures, players).
"""

from __future__ import annotations

from media.display import png, spectrogram_png, waveform_png

from .preview import (
    DEFAULT_LIMIT,
    VALUE_JSON,
    compare,
    counts,
    describe_changes,
    fmt,
    is_run_folder,
    paths_in,
    render,
    render_run,
    table_cell_changes,
    write,
)

__all__ = [
    "render",
    "render_run",
    "write",
    "compare",
    "counts",
    "table_cell_changes",
    "is_run_folder",
    "png",
    "waveform_png",
    "spectrogram_png",
    "DEFAULT_LIMIT",
]

# the names the command line used before the preview became a package
_VALUE_JSON = VALUE_JSON
_paths_in = paths_in
_fmt = fmt
_describe_changes = describe_changes
