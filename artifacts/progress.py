"""Progress bars (tqdm, when installed and wanted) for long store operations."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["Progress"]


class Progress:
    """Bars on stderr: ``wanted`` ``True``, ``False`` or ``None`` (when stderr is a
    terminal)."""

    def __init__(self, wanted: bool | None = None):
        self.wanted = wanted

    def shown(self) -> bool:
        """Whether bars are shown (``True`` without tqdm installed raises ImportError)."""
        wanted = self.wanted
        if wanted is None:
            wanted = bool(getattr(sys.stderr, "isatty", lambda: False)())
        if wanted and importlib.util.find_spec("tqdm") is None:
            if self.wanted:
                raise ImportError(
                    "progress bars need tqdm: pip install 'media-artifacts[progress]'"
                )
            return False  # on a terminal without tqdm: no bars, no error
        return wanted

    def items(self, items: Sequence[Any], desc: str, unit: str = "it") -> Iterable[Any]:
        """``items``, with a bar when shown and there are at least two."""
        if not self.shown() or len(items) < 2:
            return items
        from tqdm import tqdm

        return tqdm(items, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def counter(self, total: int, desc: str) -> Any:
        """A bar to ``update(n)`` (``None`` when not shown); the caller closes it."""
        if not self.shown() or total < 2:
            return None
        from tqdm import tqdm

        return tqdm(total=total, desc=desc, unit="file", leave=False, file=sys.stderr)
