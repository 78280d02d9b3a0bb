"""Which fsspec URLs and storage options a read may open: none that makes fsspec write.

A ``uri`` entry's URL and options, and a cross-store reference's store URL, come from a
manifest, which anyone who can write to the store can edit (they are outside its
digest), and every reader of the version opens them.  fsspec can be told to write while
it reads: a caching layer in a chained URL (``simplecache::``, ``filecache::``,
``blockcache::``) copies the file into a folder that an option (``cache_storage``) picks,
an option ``protocol`` or ``target_protocol`` slips such a layer in, ``mode="w"`` makes
``zip::`` truncate its archive, and fsspec's ``mmap`` read cache writes to the file that
``cache_options`` names.  So both the URL and the options are checked here, *before*
fsspec builds anything (building a caching filesystem already makes its folder): the
chain's protocols are looked up as classes, never instantiated.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["write_risk", "plain_options"]

#: option keys that choose another filesystem than the URL names, or make one write
_UNSAFE_KEYS = {
    "protocol": "it replaces the URL's protocol",
    "target_protocol": "it makes the filesystem open another one",
    "target_options": "it configures a filesystem the URL does not name",
    "remote_protocol": "it makes the filesystem open another one",
    "remote_options": "it configures a filesystem the URL does not name",
    "fs": "it makes the filesystem open another one",
    "fo": "it replaces the file the URL names",
    "mode": "it opens an archive for writing ('w' or 'a' truncates or changes it)",
    "cache_storage": "it names a local folder to copy the file into",
    "cache_options": "it configures a read cache that may write a local file",
}
#: how fsspec's url_to_fs tells a bare protocol word (``simplecache``) from a path
_NOT_A_WORD = re.compile(".*[^a-z]+.*")


@functools.cache
def _refused_classes() -> tuple[tuple[type, str], ...]:
    """fsspec's filesystems that may write while reading, and why (imported late: only
    uri entries and cross-store references need them)."""
    from fsspec.generic import GenericFileSystem
    from fsspec.implementations.cached import CachingFileSystem
    from fsspec.implementations.reference import ReferenceFileSystem

    # (the reference and generic filesystems open whatever filesystems the data they read
    # names, a caching one too)
    by_data = "opens filesystems named by the data it reads, caching ones included"
    return (
        (CachingFileSystem, "copies what it reads to a local folder"),
        (ReferenceFileSystem, by_data),
        (GenericFileSystem, by_data),
    )


def _protocols(url: str) -> list[str]:
    """The protocol of each layer of a (chained) URL, as fsspec's url_to_fs finds them."""
    import fsspec
    from fsspec.core import split_protocol

    known = set(fsspec.available_protocols())
    out = []
    for bit in url.split("::"):
        if bit in known or ("://" not in bit and not _NOT_A_WORD.match(bit)):
            out.append(bit)  # a bare word: "simplecache" in "simplecache::s3://b/k"
        else:
            out.append(split_protocol(bit)[0] or "file")
    return out


def _class_risk(protocol: str) -> str | None:
    import fsspec

    try:
        cls = fsspec.get_filesystem_class(protocol)
    except (ValueError, ImportError):
        return None  # fsspec cannot open it either, and says so when asked to
    for refused, why in _refused_classes():
        if isinstance(cls, type) and issubclass(cls, refused):
            return f"its layer {protocol!r} ({cls.__name__}) {why}"
    return None


def _key_risk(options: Mapping[str, Any], where: str) -> str | None:
    for key, value in options.items():
        if key in _UNSAFE_KEYS:
            return f"its option {where + str(key)!r} is refused: {_UNSAFE_KEYS[key]}"
        if str(key).endswith("cache_type") and value == "mmap":
            return (
                f"its option {where + str(key)!r} is refused: the 'mmap' read cache writes a "
                "local file (use 'readahead', 'bytes' or 'none')"
            )
    return None


def write_risk(url: str, options: Mapping[str, Any] | None = None) -> str | None:
    """Why opening ``url`` with ``options`` for reading could write something, or ``None``.

    Refused: a layer of the chain whose class caches to a local disk (``simplecache``,
    ``filecache``, ``blockcache``, ``cached`` and any subclass) or opens filesystems named
    by its data (``reference``, ``generic``); an option, at the top or in the per-layer
    dict of a protocol (``{"zip": {...}}``), in ``_UNSAFE_KEYS``, or a ``cache_type`` of
    ``"mmap"``.  Read-only chains (``zip://a.wav::s3://bucket/z.zip``) pass.
    """
    protocols = _protocols(url)
    for protocol in protocols:
        risk = _class_risk(protocol)
        if risk:
            return risk
    if not options:
        return None
    risk = _key_risk(options, "")
    if risk:
        return risk
    import fsspec

    known = set(fsspec.available_protocols()) | set(fsspec.registry) | set(protocols)
    for key, value in options.items():
        # url_to_fs hands {"zip": {...}} to the zip layer as its options
        if key in known and isinstance(value, Mapping):
            risk = _class_risk(key) or _key_risk(value, f"{key}.")
            if risk:
                return risk
    return None


def plain_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """A deep copy of stored options as plain dicts and lists: fsspec changes the per-layer
    dicts it is given (``{"zip": {...}}``), which a committed manifest's are not."""
    import json

    return json.loads(json.dumps(dict(options or {})))
