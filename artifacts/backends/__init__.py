"""Backends: byte storage under one root (the interface is :class:`Backend`)."""

from __future__ import annotations

import os
from typing import Any

from fsspec.core import url_to_fs

from .base import MISSING, Backend, Pack
from .fsspec import FsspecBackend
from .local import LocalBackend

__all__ = ["Backend", "FsspecBackend", "LocalBackend", "MISSING", "Pack", "open_backend"]


# (``fsspec`` the package is not imported by that name here: the submodule ``.fsspec``
# takes the name in this namespace)


def open_backend(url: str, **storage_options: Any) -> tuple[Backend, str]:
    """The backend for ``url`` and the URL in canonical form."""
    fs, root = url_to_fs(url, **storage_options)
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if "file" in protocols or "local" in protocols:
        root = os.path.abspath(root)
        return LocalBackend(root), root
    canonical = fs.unstrip_protocol(root) if root else url
    return FsspecBackend(fs, root), canonical
