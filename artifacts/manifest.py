"""Manifests: the immutable list of a version's files, and the names used in them."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import schemas
from media.errors import IntegrityError

from .names import (
    ENTRY_NAME_MAX_BYTES,
    HEX64,
    SURELY_SAFE_ENTRY,
    VERSION_RE,
    check_alias,
    check_artifact_name,
    check_entry_name,
    check_stored_entry_name,
    parse_ref,
)
from .odb.layout import blob_path, pack_id, pack_path

__all__ = [
    "ManifestEntry",
    "Manifest",
    "check_entry_name",
    "check_artifact_name",
    "check_alias",
    "parse_ref",
    "blob_path",
    "pack_path",
    "pack_id",
    "canonical_json",
    "seal",
    "check_seal",
    "SEAL_KEY",
    "entry_kind",
    "KINDS",
    "HEX64",
    "VERSION_RE",
]

#: what an entry is, by where its bytes are: a blob of this store, a member of one of its
#: packs, text inside the manifest, an external file by URI, another store's entry
KINDS = ("blob", "packed", "inline", "reference", "foreign")


def entry_kind(e: Mapping[str, Any]) -> str:
    """The kind (one of :data:`KINDS`) of an entry's manifest JSON: the one rule."""
    if "inline" in e:
        return "inline"
    if "uri" in e:
        return "reference"
    ref = e.get("ref")
    if ref is not None and "store" in ref:
        return "foreign"
    return "packed" if "pack" in e else "blob"


def _refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Refuses every change: the JSON of a committed version is what its file says."""
    from .errors import ReadOnlyError

    raise ReadOnlyError(
        "a committed version's manifest and metadata are read-only; copy them "
        "(dict(...), copy.deepcopy(...)) or call new_draft() to change them"
    )


class _ReadOnly:
    """The mark of the read-only containers below."""

    __slots__ = ()


class _ReadOnlyDict(dict, _ReadOnly):  # type: ignore[misc]
    """A ``dict`` (so ``json``, ``==`` and ``isinstance`` work) that cannot change."""

    __slots__ = ()
    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _refuse
    __ior__ = _refuse

    def __reduce__(self) -> Any:  # pickle rebuilds it whole, not item by item
        return (_ReadOnlyDict, (dict(self),))

    def __copy__(self) -> dict[str, Any]:  # a copy is the caller's to change
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}


class _ReadOnlyList(list, _ReadOnly):  # type: ignore[misc]
    """A ``list`` that cannot change."""

    __slots__ = ()
    __setitem__ = __delitem__ = append = extend = insert = pop = remove = _refuse
    clear = reverse = sort = __iadd__ = __imul__ = _refuse

    def __reduce__(self) -> Any:
        return (_ReadOnlyList, (list(self),))

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return [copy.deepcopy(v, memo) for v in self]


def read_only(obj: Any) -> Any:
    """A read-only copy of a JSON value (dicts and lists at every depth)."""
    if isinstance(obj, dict):
        return (
            obj
            if type(obj) is _ReadOnlyDict
            else _ReadOnlyDict((k, read_only(v)) for k, v in obj.items())
        )
    if isinstance(obj, list):
        return obj if type(obj) is _ReadOnlyList else _ReadOnlyList(read_only(v) for v in obj)
    return obj


def _read_only_entries(entries: dict[str, Any]) -> _ReadOnlyDict:
    out = {}
    for path, e in entries.items():
        if "ref" in e:
            e = dict(e, ref=read_only(e["ref"]))
        if "options" in e:
            e = dict(e, options=read_only(e["options"]))
        out[path] = _ReadOnlyDict(e)
    return _ReadOnlyDict(out)


#: value JSONs up to this size are kept inside the manifest instead of as blobs
INLINE_MAX = 4096


def inline_text(path: str, content: bytes | bytearray) -> str | None:
    """The text of a draft entry kept inside the manifest (a small value JSON in UTF-8),
    or ``None`` when it is not one."""
    if len(content) > INLINE_MAX or not path.endswith(".json"):
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def may_inline(path: str, content: bytes | bytearray) -> bool:
    """Whether a draft entry may be kept inside the manifest: a value JSON small enough
    (quick: its text is not decoded; :func:`inline_text` decides)."""
    return len(content) <= INLINE_MAX and path.endswith(".json")


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _not_json(o: Any) -> Any:
    return _CANONICAL.default(o)  # raises the TypeError json.dumps raises


# the C encoder behind _CANONICAL, made once (JSONEncoder.encode makes one per call); no
# cycle check, so a cyclic object ends in RecursionError and goes through _CANONICAL
_C_ENCODER = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def canonical_json(obj: Any) -> bytes:
    """The canonical bytes of a JSON object: sorted keys, no spaces, UTF-8."""
    if _C_ENCODER is not None and isinstance(obj, dict):
        try:
            return "".join(_C_ENCODER(obj, 0)).encode()
        except RecursionError:
            pass  # (a cycle: _CANONICAL says so; a structure too deep fails there too)
    return _CANONICAL.encode(obj).encode()


#: the manifest's field holding its seal: sorted first, so a stored manifest begins with it
SEAL_KEY = "_seal"
_SEAL_HEAD = b'{"_seal":"'
_SEAL_END = len(_SEAL_HEAD) + 64  # where the seal's hex digits end
_UNSEALED = b"0" * 64  # the seal's value while the seal is computed


def seal(data: bytes) -> tuple[bytes, str]:
    """``data`` (a manifest's canonical bytes, without a seal) sealed, and its seal.

    The seal is the sha256 of the stored bytes with the seal's own 64 hex digits read as
    zeros: unlike the manifest's ``digest`` (equal content, equal digest), it covers every
    field as written, derived data (``blake3``, ``chunks``, ``pack``, ``offset``), references,
    metadata and times included, and costs one hash of the bytes to check (no JSON written
    again).  ``"_seal"`` sorts before every other key, so the sealed bytes are still the
    canonical JSON of the manifest with its seal."""
    if not data.startswith(b'{"') or data.startswith(_SEAL_HEAD):
        raise ValueError("seal() takes a manifest's canonical JSON without a seal")
    rest = memoryview(data)[1:]
    h = hashlib.sha256(_SEAL_HEAD + _UNSEALED + b'",')
    h.update(rest)
    value = h.hexdigest()
    return _SEAL_HEAD + value.encode() + b'",' + rest, value


def check_seal(data: bytes, obj: Any, where: str) -> None:
    """Raise :class:`IntegrityError` when ``obj`` (the JSON parsed from ``data``, a stored
    manifest) has a seal that its bytes do not match.  (A manifest written before seals has
    none, and is checked by its digest alone.)"""
    if not isinstance(obj, dict) or SEAL_KEY not in obj:
        return
    value = obj[SEAL_KEY]
    view = memoryview(data)
    good = (
        isinstance(value, str)
        and data.startswith(_SEAL_HEAD)
        and view[len(_SEAL_HEAD) : _SEAL_END] == value.encode("ascii", "replace")
        and view[_SEAL_END : _SEAL_END + 1] == b'"'
    )
    if good:
        h = hashlib.sha256(_SEAL_HEAD + _UNSEALED)
        h.update(view[_SEAL_END:])
        good = h.hexdigest() == value
    if not good:
        name, version = obj.get("name"), obj.get("version")
        which = f"{name}:{version}" if isinstance(name, str) and isinstance(version, str) else ""
        raise IntegrityError(
            f"{where}: the manifest{' of ' + which if which else ''} does not match its seal "
            "(it was altered after it was written: an entry, its derived data or the "
            "metadata); restore the file from a backup of the store"
        )


@dataclass(frozen=True)
class ManifestEntry:
    """One file of an artifact.

    ``digest`` is its sha256 (the key of its blob), ``size`` its length.  ``ref`` names the
    artifact entry it was taken from (``{"artifact", "path"}`` and, across stores,
    ``"store"``); ``uri``/``etag`` describe an external file that was not copied;
    ``inline`` holds the text of a small value JSON kept inside the manifest; ``pack`` and
    ``offset`` say that the bytes are stored at that offset of a pack (many small files of
    one commit, end to end in one object) instead of as a blob of their own.
    """

    path: str
    digest: str | None
    size: int
    ref: Mapping[str, str] | None = None
    uri: str | None = None
    etag: str | None = None
    inline: str | None = None
    pack: str | None = None
    offset: int | None = None
    #: format 2: ``{"algorithm", "size", "table"}``, the file's chunk table (see
    #: :mod:`artifacts.odb.chunks`)
    chunks: Mapping[str, Any] | None = None
    #: format 2: the BLAKE3 digest (hex) of the file's bytes, what reads are checked against
    blake3: str | None = None

    @classmethod
    def from_json(cls, path: str, obj: Mapping[str, Any]) -> ManifestEntry:
        """An entry from its manifest JSON."""
        return cls(
            path,
            obj.get("digest"),
            obj["size"],
            obj.get("ref"),
            obj.get("uri"),
            obj.get("etag"),
            obj.get("inline"),
            obj.get("pack"),
            obj.get("offset"),
            obj.get("chunks"),
            obj.get("blake3"),
        )

    def to_json(self) -> dict[str, Any]:
        """The entry's manifest JSON (without its path, which is the key)."""
        obj: dict[str, Any] = {"size": self.size}
        if self.digest is not None:
            obj["digest"] = self.digest
        if self.ref is not None:
            obj["ref"] = dict(self.ref)
        if self.uri is not None:
            obj["uri"] = self.uri
        if self.etag is not None:
            obj["etag"] = self.etag
        if self.inline is not None:
            obj["inline"] = self.inline
        if self.pack is not None:
            obj["pack"] = self.pack
            obj["offset"] = self.offset
        if self.chunks is not None:
            obj["chunks"] = dict(self.chunks)
        if self.blake3 is not None:
            obj["blake3"] = self.blake3
        return obj

    @property
    def kind(self) -> str:
        """Where the bytes are: ``"blob"``, ``"packed"``, ``"inline"``, ``"reference"`` (a
        file by URI) or ``"foreign"`` (another store's entry); see :data:`KINDS`."""
        return entry_kind(self.to_json())

    @property
    def is_blob(self) -> bool:
        """Whether the bytes are this store's (a blob or a pack member; not another store's,
        a URI or inline)."""
        return self.kind in ("blob", "packed")


def entries_digest(entries: Mapping[str, Mapping[str, Any]]) -> str:
    """sha256 over the sorted (path, content key, size) of every entry."""
    lines = []
    for path in sorted(entries):
        e = entries[path]
        key = e.get("digest") or f"{e.get('uri')}#{e.get('etag')}"
        size = e["size"]
        if type(size) is int and type(path) is str and type(key) is str:
            # the bytes canonical_json([path, key, size]) gives, without its per-call cost
            lines.append(f"[{_json_str(path)},{_json_str(key)},{size}]\n")
        else:
            lines.append(canonical_json([path, key, size]).decode() + "\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()


class Manifest:
    """A version's manifest: metadata plus ``entries`` (path -> :class:`ManifestEntry`)."""

    def __init__(self, obj: dict[str, Any]):
        # a committed version never changes: a read-only copy (entries by a quicker path:
        # their values are scalars but for "ref", see _ENTRY_KEYS)
        self.obj = _ReadOnlyDict(
            (k, _read_only_entries(v) if k == "entries" else read_only(v)) for k, v in obj.items()
        )

    @classmethod
    def parse(cls, data: bytes, where: str) -> Manifest:
        """Parse and check manifest bytes; ``where`` names the file in errors."""
        try:
            obj = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise schemas.SchemaError("manifest", "$", f"{where} is not JSON ({exc})") from None
        check_seal(data, obj, where)  # before anything in it is used
        check_named(obj, where)
        return cls(obj)

    def to_bytes(self) -> bytes:
        """The manifest's stored form."""
        return canonical_json(self.obj)

    @property
    def entries(self) -> dict[str, dict[str, Any]]:
        """Entry path -> entry JSON."""
        return self.obj["entries"]

    def entry(self, path: str) -> ManifestEntry:
        """The entry at ``path`` (``KeyError`` when absent)."""
        return ManifestEntry.from_json(path, self.obj["entries"][path])

    def __iter__(self) -> Iterator[ManifestEntry]:
        for path in sorted(self.entries):
            yield self.entry(path)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, key: str) -> Any:
        return self.obj[key]


_json_str = json.encoder.encode_basestring  # how json.dumps(ensure_ascii=False) writes a str
_ENTRY_KEYS = frozenset(
    {"digest", "size", "ref", "uri", "options", "etag", "inline", "pack", "offset", "chunks"}
    | {"blake3"}
)
_SAFE_PATH = SURELY_SAFE_ENTRY  # entry names of at most 4096 characters surely accepted


def _where(path: Any) -> str:
    return f"$.entries[{path!r}]"


def check_named(obj: Any, where: str, digest_known: bool = False) -> None:
    """:func:`check_manifest`, whose errors name the file ``where`` (same types and fields)."""
    try:
        check_manifest(obj, digest_known)
    except (schemas.SchemaError, IntegrityError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            raise schemas.SchemaError("manifest", "$", f"{where}: nested too deeply") from None
        exc.args = (f"{where}: {exc}",)  # same type and fields; the message names the file
        raise exc.with_traceback(None) from None


def check_manifest(obj: Any, digest_known: bool = False) -> None:
    """Validate a manifest: the header against its schema, entries with a fast loop.

    (Validating 100,000 entries with jsonschema takes seconds; the loop checks the same
    rules in a fraction of that.)  A manifest that :func:`_surely_valid` passes in bulk
    needs no loop; any other goes through it, which names the first bad field.
    ``digest_known``: the caller has just computed ``obj["digest"]`` from these very
    entries (a commit), so it is not computed again.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("entries"), dict):
        schemas.validate(obj, "manifest")
        raise schemas.SchemaError("manifest", "$.entries", "missing or not an object")
    quick = _surely_valid(obj)
    if not quick:
        _check_fields(obj)
    if not digest_known:
        entries = obj["entries"]
        digest = _digest_of_checked(entries) if quick else entries_digest(entries)
        if digest != obj["digest"]:
            raise IntegrityError("manifest digest does not match its entries (it was altered)")


def _digest_of_checked(entries: Mapping[str, Mapping[str, Any]]) -> str:
    """:func:`entries_digest` of entries that :func:`_surely_valid` passed: their names and
    digests have nothing to escape in JSON and their sizes are ints, so each line is written
    as it is (an entry by URI, whose key may need escaping, goes the general way)."""
    try:
        lines = [f'["{p}","{e["digest"]}",{e["size"]}]\n' for p, e in sorted(entries.items())]
    except KeyError:
        return entries_digest(entries)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


@functools.cache
def _quick_schema() -> Callable[[Any], bool]:
    """The manifest schema without its rule on entry names, compiled (the names are
    checked against SURELY_SAFE_ENTRY instead, which allows less)."""
    document = schemas.load("manifest")
    del document["properties"]["entries"]["propertyNames"]
    return schemas.quick_validator(document)


#: every entry name of a manifest, one a line, that check_stored_entry_name surely accepts
#: (when no line is longer than ENTRY_NAME_MAX_BYTES)
_SAFE_LINES = re.compile(rf"{_SAFE_PATH.pattern[:-2]}(?:\n{_SAFE_PATH.pattern[:-2]})*\Z")
assert _SAFE_PATH.pattern.endswith(r"\Z")


def _surely_valid(obj: dict[str, Any]) -> bool:
    """Whether a manifest surely passes every rule of :func:`_check_fields`, checked in
    bulk: the compiled schema (every field's type, form and range, which fields go
    together) and in Python what the schema does not say: every name surely safe, sizes
    and offsets ints (the schema's "integer" allows 5.0), chunk tables and BLAKE3 digests
    only in format 2.  ``False`` only means: let the loop decide, and say why."""
    entries = obj["entries"]
    if not _quick_schema()(obj):
        return False
    if entries:
        try:
            names = "\n".join(entries)
        except TypeError:  # a name that is no str
            return False
        # (one line per name: a name with a newline of its own is not counted as two)
        if names.count("\n") != len(entries) - 1 or not _SAFE_LINES.match(names):
            return False
        if max(map(len, entries)) > ENTRY_NAME_MAX_BYTES:  # (all ASCII: len is bytes)
            return False
    values = entries.values()
    types = {type(e["size"]) for e in values}
    types.update(type(e["offset"]) for e in values if "offset" in e)
    if types - {int}:
        return False
    return obj.get("format") == 2 or not any("chunks" in e or "blake3" in e for e in values)


def _check_fields(obj: dict[str, Any]) -> None:
    """The header against its schema, then each entry, field by field: the first problem
    raises :class:`schemas.SchemaError` naming the field."""
    header = dict(obj)
    header["entries"] = {}
    schemas.validate(header, "manifest")
    packs: set[str] = set()
    for path, e in obj["entries"].items():
        try:
            check_stored_entry_name(path)  # (quick for a surely safe name)
        except (TypeError, ValueError) as exc:
            raise schemas.SchemaError("manifest", _where(path), str(exc)) from None
        if not isinstance(e, dict) or not e.keys() <= _ENTRY_KEYS:
            raise schemas.SchemaError("manifest", _where(path), "not an entry object")
        size = e.get("size")
        if type(size) is not int or not 0 <= size <= 2**53:
            raise schemas.SchemaError("manifest", _where(path) + ".size", f"invalid size {size!r}")
        digest = e.get("digest")
        if digest is None:
            if not (isinstance(e.get("uri"), str) and isinstance(e.get("etag"), str)):
                raise schemas.SchemaError(
                    "manifest", _where(path), "needs a digest (or uri and etag)"
                )
        elif not isinstance(digest, str) or not HEX64.match(digest):
            raise schemas.SchemaError(
                "manifest", _where(path) + ".digest", f"invalid digest {digest!r}"
            )
        inline = e.get("inline")
        if "inline" in e and (
            type(inline) is not str or len(inline) > 4096 or digest is None or "uri" in e
        ):
            raise schemas.SchemaError(
                "manifest",
                _where(path) + ".inline",
                "must be text of at most 4096 characters, with a digest and no uri",
            )
        if "pack" in e or "offset" in e:
            pack, offset = e.get("pack"), e.get("offset")
            good = type(pack) is str and (pack in packs or HEX64.match(pack) is not None)
            if not (
                good
                and type(offset) is int
                and 0 <= offset <= 2**53
                and digest is not None
                and "uri" not in e
                and "inline" not in e
            ):
                raise schemas.SchemaError(
                    "manifest",
                    _where(path) + ".pack",
                    "pack (a 64-hex id) and offset (an int >= 0) go together, with a digest, "
                    "and not with uri or inline",
                )
            packs.add(pack)  # each pack id is matched once
        if "chunks" in e and obj.get("format") != 2:
            raise schemas.SchemaError(
                "manifest", _where(path) + ".chunks", "chunk tables need manifest format 2"
            )
        if "blake3" in e:
            b3 = e["blake3"]
            if obj.get("format") != 2:
                raise schemas.SchemaError(
                    "manifest", _where(path) + ".blake3", "BLAKE3 digests need manifest format 2"
                )
            if not (isinstance(b3, str) and HEX64.match(b3) and digest is not None):
                raise schemas.SchemaError(
                    "manifest",
                    _where(path) + ".blake3",
                    f"invalid BLAKE3 digest {b3!r} (64 lowercase hex, beside a digest)",
                )
            if "uri" in e or "inline" in e:
                raise schemas.SchemaError(
                    "manifest", _where(path) + ".blake3", "not with uri or inline"
                )
        if "ref" in e or "uri" in e or "chunks" in e:
            schemas.validate({**header, "entries": {path: e}}, "manifest")
