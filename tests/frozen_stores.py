"""Helpers for the tests of the frozen stores in ``tests/fixtures/store-format-N/``: each test
reads a copy (so that a store that wrote would not alter the fixture), and reading must
write nothing."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path


def tree(root: str) -> dict[str, str]:
    """``relative path -> sha256`` of every file under ``root`` (``/``-separated)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def copy_frozen(fixture: str, files: dict[str, str], tmp_path: Path) -> str:
    """A copy of the frozen store ``fixture`` under ``tmp_path``, after checking that the
    fixture still holds exactly ``files`` (``path -> sha256``)."""
    name = os.path.basename(fixture)
    assert tree(fixture) == files, f"tests/fixtures/{name} was altered"
    root = str(tmp_path / "store")
    shutil.copytree(fixture, root)
    return root


def read_only_copy(fixture: str, files: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """Body of a ``frozen`` fixture: yields a copy of the frozen store, then fails the test
    if reading it changed any file."""
    root = copy_frozen(fixture, files, tmp_path)
    yield root
    assert tree(root) == files, "reading the store wrote to it"
