"""Old home of the backends, kept so that ``from artifacts.backend import ...`` works; see
:mod:`artifacts.backends`."""

from __future__ import annotations

from .backends import MISSING, Backend, FsspecBackend, LocalBackend, Pack, open_backend

__all__ = ["Backend", "FsspecBackend", "LocalBackend", "MISSING", "Pack", "open_backend"]
