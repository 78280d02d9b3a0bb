"""Every naming rule of a store in one place: artifact names, aliases, versions, entry
names, value JSON names and ``name:label`` references."""

from __future__ import annotations

import posixpath
import re

from media.paths import check_relpath

__all__ = [
    "NAME_RE",
    "VERSION_RE",
    "VERSION_FILE_RE",
    "TOMBSTONE_RE",
    "HEX64",
    "VALUE_JSON_RE",
    "ENTRY_NAME_MAX_BYTES",
    "ENTRY_NAME_MAX_DEPTH",
    "SURELY_SAFE_ENTRY",
    "check_entry_name",
    "check_stored_entry_name",
    "check_artifact_name",
    "check_alias",
    "parse_ref",
    "value_path",
]

#: ``\Z``, not ``$``: ``$`` also matches before a final newline, so ``"clips\n"`` would pass
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
VERSION_RE = re.compile(r"^v(0|[1-9][0-9]{0,8})\Z")
#: a version's manifest file in ``artifacts/<name>/versions/``
VERSION_FILE_RE = re.compile(r"^v(0|[1-9][0-9]{0,8})\.json\Z")
#: beside it, the mark of a deleted version (its number is never used again)
TOMBSTONE_RE = re.compile(r"^v(0|[1-9][0-9]{0,8})\.deleted\Z")
HEX64 = re.compile(r"[0-9a-f]{64}\Z")  # (with "$", a trailing newline would pass)
#: a value's JSON entry: ``<base>.<tag>.json``
VALUE_JSON_RE = re.compile(r"^(?P<base>.+)\.(?P<tag>[a-z0-9][a-z0-9_-]{0,63})\.json\Z")


#: the longest entry name, in bytes of UTF-8: Linux's PATH_MAX, so that a download can
#: make it under a short folder
ENTRY_NAME_MAX_BYTES = 4096
#: the most components an entry name may have (``a/b/c`` has 3): far above any real
#: dataset's depth, and low enough that code walking a name's folders (``os.makedirs``
#: recurses once per folder) cannot run out of stack
ENTRY_NAME_MAX_DEPTH = 256
#: entry names surely accepted as they are: SURELY_SAFE with at most ENTRY_NAME_MAX_DEPTH
#: components (their length, all ASCII, is checked apart)
SURELY_SAFE_ENTRY = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9._-]{0,254}"
    rf"(?:/[A-Za-z0-9_][A-Za-z0-9._-]{{0,254}}){{0,{ENTRY_NAME_MAX_DEPTH - 1}}}\Z"
)


def value_path(name: str, tag: str) -> str:
    """The entry path of value ``name`` of type ``tag``: ``<name>.<tag>.json`` (a name that
    already ends so is kept), checked."""
    if check_entry_name(name) != name or name.endswith("/"):
        # (an entry name is normalized, but a value's name is how ``get`` finds it again)
        raise ValueError(
            f"Invalid value name {name!r}: write it in normal form, without '//', './' or "
            f"a trailing '/' (as {check_entry_name(name)!r})"
        )
    if not name.isprintable():
        raise ValueError(
            f"Invalid value name {name!r}: it holds a control character (a newline, a tab); "
            "strip it (names read from a file keep their line ends)"
        )
    suffix = f".{tag}.json"
    return check_entry_name(name if name.endswith(suffix) else name + suffix)


def check_entry_name(name: object) -> str:
    """Normalize an entry name to a POSIX relative path, refusing names that could escape.

    ``./a//b/`` becomes ``a/b``; ``..``, absolute paths, drive letters, NUL, backslashes,
    text that is not valid Unicode, components over 255 bytes, names over
    ``ENTRY_NAME_MAX_BYTES`` (4096) bytes of UTF-8 or of more than ``ENTRY_NAME_MAX_DEPTH``
    (256) components raise ``ValueError``.
    """
    if type(name) is str and len(name) <= ENTRY_NAME_MAX_BYTES and SURELY_SAFE_ENTRY.match(name):
        return name  # already normal: no '.', '..', '//' or trailing '/'
    if not isinstance(name, str):
        raise TypeError(f"Invalid entry name {name!r}: expected a str")
    if name and "\x00" not in name and "\\" not in name and not name.startswith("/"):
        norm = posixpath.normpath(name)
        if ".." not in norm.split("/"):
            name = norm
    return check_stored_entry_name(name)


def check_stored_entry_name(name: object) -> str:
    """An entry name exactly as a manifest stores it (normal already, see
    :func:`check_entry_name`), or ``ValueError`` saying what is wrong."""
    if type(name) is str and len(name) <= ENTRY_NAME_MAX_BYTES and SURELY_SAFE_ENTRY.match(name):
        return name
    name = check_relpath(name, "entry name")
    size = len(name.encode("utf-8"))  # (check_relpath has made sure it encodes)
    depth = name.count("/") + 1
    problem = None
    if size > ENTRY_NAME_MAX_BYTES:
        problem = (
            f"it is {size} bytes long in UTF-8, more than the {ENTRY_NAME_MAX_BYTES} "
            "allowed; use a shorter name"
        )
    elif depth > ENTRY_NAME_MAX_DEPTH:
        problem = (
            f"it has {depth} components ('a/b' has 2), more than the {ENTRY_NAME_MAX_DEPTH} "
            "allowed; use fewer nested folders"
        )
    if problem:
        shown = name if len(name) <= 80 else f"{name[:40]}...{name[-20:]}"
        raise ValueError(f"Invalid entry name {shown!r}: {problem}")
    return name


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
