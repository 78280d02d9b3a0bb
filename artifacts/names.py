"""Every naming rule of a store in one place: artifact names, aliases, versions, entry
names, value JSON names and ``name:label`` references."""

from __future__ import annotations

import posixpath
import re

from media.paths import SURELY_SAFE, check_relpath

__all__ = [
    "NAME_RE",
    "VERSION_RE",
    "VERSION_FILE_RE",
    "TOMBSTONE_RE",
    "HEX64",
    "VALUE_JSON_RE",
    "check_entry_name",
    "check_artifact_name",
    "check_alias",
    "parse_ref",
    "value_path",
]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_RE = re.compile(r"^v(0|[1-9][0-9]{0,8})$")
#: a version's manifest file in ``artifacts/<name>/versions/``
VERSION_FILE_RE = re.compile(r"^v(0|[1-9][0-9]{0,8})\.json$")
#: beside it, the mark of a deleted version (its number is never used again)
TOMBSTONE_RE = re.compile(r"^v(0|[1-9][0-9]{0,8})\.deleted$")
HEX64 = re.compile(r"[0-9a-f]{64}\Z")  # (with "$", a trailing newline would pass)
#: a value's JSON entry: ``<base>.<tag>.json``
VALUE_JSON_RE = re.compile(r"^(?P<base>.+)\.(?P<tag>[a-z0-9][a-z0-9_-]{0,63})\.json$")


def value_path(name: str, tag: str) -> str:
    """The entry path of value ``name`` of type ``tag``: ``<name>.<tag>.json`` (a name that
    already ends so is kept), checked."""
    check_entry_name(name)
    suffix = f".{tag}.json"
    return check_entry_name(name if name.endswith(suffix) else name + suffix)


def check_entry_name(name: object) -> str:
    """Normalize an entry name to a POSIX relative path, refusing names that could escape.

    ``./a//b/`` becomes ``a/b``; ``..``, absolute paths, drive letters, NUL and backslashes
    raise ``ValueError``.
    """
    if type(name) is str and SURELY_SAFE.match(name):
        return name  # already normal: no '.', '..', '//' or trailing '/'
    if not isinstance(name, str):
        raise TypeError(f"Invalid entry name {name!r}: expected a str")
    if name and "\x00" not in name and "\\" not in name and not name.startswith("/"):
        norm = posixpath.normpath(name)
        if ".." not in norm.split("/"):
            name = norm
    return check_relpath(name, "entry name")


def check_artifact_name(name: object) -> str:
    """An artifact name: 1-128 characters of letters, digits, ``.``, ``_`` and ``-``."""
    if not isinstance(name, str):
        raise TypeError(f"Invalid artifact name {name!r}: expected a str")
    if not NAME_RE.match(name) or name in (".", ".."):
        raise ValueError(
            f"Invalid artifact name {name!r}: use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_alias(alias: object) -> str:
    """An alias: like an artifact name, but not of the form ``vN`` (those are versions)."""
    if not isinstance(alias, str):
        raise TypeError(f"Invalid alias {alias!r}: expected a str")
    if not NAME_RE.match(alias) or re.match(r"^v[0-9]+$", alias):
        raise ValueError(
            f"Invalid alias {alias!r}: use 1-128 letters, digits, '.', '_' or '-', not of the "
            "form vN (that names a version)"
        )
    return alias


def parse_ref(ref: str) -> tuple[str, str]:
    """``"clips:v3"`` -> ``("clips", "v3")``; ``"clips"`` means ``"clips:latest"``.

    ``"clips:"`` is refused: it is most often ``f"clips:{tag}"`` with an empty tag, and
    reading it as ``latest`` would let ``store.delete`` remove the newest version."""
    if not isinstance(ref, str):
        raise TypeError(f"Invalid artifact reference {ref!r}: expected 'name:version'")
    name, colon, label = ref.partition(":")
    check_artifact_name(name)
    if colon and not label:
        raise ValueError(
            f"Invalid artifact reference {ref!r}: no version or alias after ':'; give "
            "'name:vN', 'name:<alias>' or 'name:latest'"
        )
    label = label or "latest"
    if not VERSION_RE.match(label):
        check_alias(label)
    return name, label
