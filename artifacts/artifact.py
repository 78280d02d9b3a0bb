"""Old home of ``Artifact``, kept so that ``from artifacts.artifact import Artifact`` works:
the draft is :mod:`artifacts.draft`, the committed version :mod:`artifacts.version`."""

from __future__ import annotations

from .draft import Artifact
from .version import Version

__all__ = ["Artifact", "Version"]
