"""Checks for names and relative paths that come from users or from stored JSON.

A safe relative path is a POSIX path of non-empty components, none of which is ``.`` or
``..``; it has no backslash, no NUL, no drive letter and no leading ``/``; it is valid
Unicode (encodable as UTF-8: no lone surrogate); each component is at most 255 bytes in
UTF-8.  Such a path cannot escape the folder it is joined to.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable
from typing import IO, Any

__all__ = ["check_relpath", "join_inside", "atomic_write", "unlink_quietly", "paths_in"]

_DRIVE = re.compile(r"^[A-Za-z]:")
# paths surely safe: ASCII parts of at most 255 characters that are not "." or ".."
SURELY_SAFE = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}(?:/[A-Za-z0-9_][A-Za-z0-9._-]{0,254})*\Z"
)


def check_relpath(path: object, what: str = "path") -> str:
    """Return ``path`` if it is a safe relative POSIX path, else raise ``ValueError``.

    ``what`` names the path in the message (for example ``"entry name"``).
    """
    if type(path) is str and SURELY_SAFE.match(path):
        return path
    if not isinstance(path, str):
        raise TypeError(f"Invalid {what} {path!r}: expected a str")
    problem = None
    if not path:
        problem = "it is empty"
    elif "\x00" in path:
        problem = "it contains a NUL character"
    elif "\\" in path:
        problem = "it contains a backslash (use '/' to separate folders)"
    elif path.startswith("/"):
        problem = "it is absolute (give a path relative to the folder)"
    elif _DRIVE.match(path):
        problem = "it starts with a drive letter (give a relative path)"
    elif not _encodable(path):
        problem = (
            "it is not valid Unicode text: a name must be encodable as UTF-8 "
            "(it holds a lone surrogate such as '\\ud800')"
        )
    else:
        for part in path.split("/"):
            if part in ("", ".", ".."):
                problem = (
                    "it has an empty, '.' or '..' component "
                    "(it must stay inside its folder, with no '//' or trailing '/')"
                )
                break
            if len(part.encode("utf-8")) > 255:
                problem = "a component is longer than 255 bytes"
                break
    if problem:
        raise ValueError(f"Invalid {what} {path!r}: {problem}")
    return path


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def join_inside(root: str | os.PathLike[str], relpath: str, what: str = "path") -> str:
    """Join a checked relative path to a local folder and make sure the result stays inside.

    Symbolic links along the way are resolved: a link that leads out of ``root`` is refused
    with ``ValueError``.
    """
    check_relpath(relpath, what)
    base = os.path.realpath(root)
    full = os.path.realpath(os.path.join(base, *relpath.split("/")))
    if os.path.commonpath([base, full]) != base:
        raise ValueError(f"Invalid {what} {relpath!r}: it leads outside {os.fspath(root)!r}")
    return full


def atomic_write(
    dest: str,
    fill: Callable[[IO[bytes]], object],
    *,
    sync: bool = False,
    replace: bool = True,
) -> None:
    """Write a file whole or not at all: ``fill`` a temporary file beside ``dest``, then
    rename it into place.

    Readers see the old file or the new one, never a part.  ``replace=False`` links the
    file into place instead, which raises ``FileExistsError`` when ``dest`` exists (an
    atomic create-if-absent).  ``sync`` flushes the bytes to the disk before the rename.
    The temporary file (``.tmp-<hex>``, which stores and ``gc`` know to skip) is removed
    on any error.
    """
    tmp = os.path.join(os.path.dirname(dest), f".tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as f:
            fill(f)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        if replace:
            os.replace(tmp, dest)
        else:
            os.link(tmp, dest)
            unlink_quietly(tmp)
    except BaseException:
        unlink_quietly(tmp)
        raise


def unlink_quietly(path: str) -> None:
    """Remove a file; nothing happens when it is already gone."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def paths_in(obj: Any) -> list[str]:
    """Every string under a ``"path"`` key, anywhere in a JSON object, sorted and once: the
    files a value's JSON refers to (the one walker of them)."""
    out: set[str] = set()
    stack: list[Any] = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, dict):
            for k, v in o.items():
                if k == "path" and isinstance(v, str):
                    out.add(v)
                else:
                    stack.append(v)
        elif isinstance(o, list):
            stack.extend(o)
    return sorted(out)
