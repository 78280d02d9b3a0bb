"""The commands of ``artifacts`` (see :mod:`artifacts.cli` for the parser and ``main``):
one function per command, ``cmd_<name>(store, args) -> exit code``."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from typing import IO, Any

from media import Audio, AudioSegment
from media.errors import MediaError
from media.paths import atomic_write, paths_in

from . import view
from .draft import Artifact
from .errors import EntryNotFoundError
from .hf import segment_file
from .names import (
    VALUE_JSON_RE,
    check_artifact_name,
    check_entry_name,
)
from .preview import describe_changes, fmt
from .store import Store

PROG = "artifacts"


# -- output helpers -----------------------------------------------------------------------
def human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned columns under a header line."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False))


class UserError(Exception):
    """A mistake of the user's, reported as one line (exit code 1)."""


# -- commands -----------------------------------------------------------------------------
def cmd_ls(store: Store, args: argparse.Namespace) -> int:
    """List the artifacts of the store."""
    if not store.exists():
        if args.store is not None:  # a location named by the user: a typo must not pass
            raise store.no_store_error()
        if args.json:
            print_json([])
        else:  # the embedded default store before its first commit
            print(f"the default store at {store.url} is empty (the first commit creates it)")
        return 0
    rows = []
    for name in store.names():
        aliases = store.aliases(name)
        latest = aliases["latest"]
        m = store.artifact(f"{name}:{latest}").manifest
        rows.append(
            {
                "name": name,
                "versions": len(store.versions(name)),
                "latest": latest,
                "aliases": aliases,
                "type": m["type"],
                "updated_at": m["created_at"],
            }
        )
    if args.json:
        print_json(rows)
    elif not rows:
        print(f"no artifacts in {store.url}")
    else:
        print(
            table(
                ["NAME", "VERSIONS", "LATEST", "TYPE", "UPDATED", "ALIASES"],
                [
                    [
                        r["name"],
                        r["versions"],
                        r["latest"],
                        r["type"],
                        r["updated_at"][:19].replace("T", " "),
                        ", ".join(
                            f"{a}:{v}" if v != r["latest"] else a for a, v in r["aliases"].items()
                        ),
                    ]
                    for r in rows
                ],
            )
        )
    return 0


def cmd_versions(store: Store, args: argparse.Namespace) -> int:
    """List the versions of one artifact, oldest first."""
    name = check_artifact_name(args.name)
    aliases = store.aliases(name)  # raises ArtifactNotFoundError for an unknown name
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    rows = []
    for version in store.versions(name):
        m = store.artifact(f"{name}:{version}").manifest
        rows.append(
            {
                "version": version,
                "created_at": m["created_at"],
                "created_by": m.obj.get("created_by"),
                "entries": len(m.entries),
                "size": sum(e["size"] for e in m.entries.values()),
                "digest": m["digest"],
                "aliases": by_version.get(version, []),
            }
        )
    if args.json:
        print_json(rows)
        return 0
    print(
        table(
            ["VERSION", "CREATED", "ENTRIES", "SIZE", "DIGEST", "ALIASES"],
            [
                [
                    r["version"],
                    r["created_at"][:19].replace("T", " "),
                    r["entries"],
                    human(r["size"]),
                    r["digest"][:12],
                    ", ".join(r["aliases"]),
                ]
                for r in rows
            ],
        )
    )
    return 0


def _source_of(e: dict[str, Any]) -> str:
    if "uri" in e:
        return e["uri"]
    ref = e.get("ref")
    if ref:
        where = f"{ref['store']} " if "store" in ref else ""
        return f"{where}{ref['artifact']}/{ref['path']}"
    return ""


def cmd_show(store: Store, args: argparse.Namespace) -> int:
    """Metadata, aliases and the manifest (as a table) of one version."""
    art = store.artifact(args.ref)
    m = art.manifest
    if args.json:
        obj = dict(m.obj)
        obj["qualified_name"] = art.qualified_name
        obj["aliases"] = art.aliases
        print_json(obj)
        return 0
    size = sum(e["size"] for e in m.entries.values())
    created = m["created_at"] + (f" by run {art.created_by}" if art.created_by else "")
    facts = [
        ("type", art.type),
        ("description", art.description or ""),
        ("created", created),
        ("aliases", ", ".join(art.aliases)),
        ("digest", m["digest"]),
        ("entries", f"{len(m.entries)} ({human(size)})"),
        ("metadata", json.dumps(art.metadata, ensure_ascii=False) if art.metadata else ""),
    ]
    print(art.qualified_name)
    for key, value in facts:
        if value:
            print(f"  {key:<12} {value}")
    print()
    if args.files:
        rows = [
            [path, human(e["size"]), (e.get("digest") or "")[:12], _source_of(e)]
            for path, e in sorted(m.entries.items())
        ]
        print(table(["PATH", "SIZE", "SHA256", "FROM"], rows))
        return 0
    print(table(["NAME", "TYPE", "SIZE"], _value_rows(art)))
    return 0


def _value_rows(art: Artifact) -> list[list[str]]:
    """One row per value (name, type tag, bytes of its JSON and files), then one per file
    that no value holds; the files values hold (named by their hashes) are not listed."""
    entries = art.manifest.entries
    rows, held = [], set()
    for path in sorted(entries):
        match = VALUE_JSON_RE.match(path)
        if match is None:
            continue
        try:
            paths = set(paths_in(json.loads(art.read_bytes(path)))) & set(entries)
        except ValueError:  # not JSON after all: listed as a file below
            continue
        held |= paths | {path}
        size = sum(entries[p]["size"] for p in paths | {path})
        rows.append([match["base"], match["tag"], human(size)])
    rows += [[p, "file", human(entries[p]["size"])] for p in sorted(entries) if p not in held]
    return rows


def _check_parent(out: str) -> None:
    """Refuse an output path whose folder does not exist: a typo must not make folders."""
    parent = os.path.dirname(os.path.abspath(out.rstrip("/" + os.sep) or out))
    if not os.path.isdir(parent):
        raise UserError(f"the folder {parent} does not exist; create it first, or fix -o")


def _write_entry(art: Artifact, path: str, dest: str) -> None:
    """Write one entry to ``dest`` (checked against its digest; atomic)."""

    def fill(out: IO[bytes]) -> None:
        with art.open_media(path) as src:
            shutil.copyfileobj(src, out, 1 << 20)

    atomic_write(dest, fill)


def cmd_get(store: Store, args: argparse.Namespace) -> int:
    """Download a version, or one entry, value or folder of entries."""
    art = store.artifact(args.ref)
    default_dir = f"{art.name}-{art.version}"
    if args.output is not None:
        _check_parent(args.output)
    if args.entry is None:
        root = art.download(args.output or default_dir)
        print(root)
        return 0
    entries = art.manifest.entries
    entry = args.entry
    if entry in entries and not VALUE_JSON_RE.match(entry):
        # one file: -o names the file, or an existing folder to put it in
        out = args.output or os.path.basename(entry)
        if os.path.isdir(out) or out.endswith(("/", os.sep)):
            os.makedirs(out, exist_ok=True)  # (only the folder named: its parent exists)
            out = os.path.join(out, os.path.basename(entry))
        _write_entry(art, entry, out)
        print(os.path.abspath(out))
        return 0
    # a value (its JSON and media files) or a folder of entries, at their paths under -o
    try:
        resolved: str | None = art.get_entry(entry).path
    except EntryNotFoundError:
        resolved = None
    if resolved is not None:
        files = set(paths_in(json.loads(art.read_bytes(resolved)))) & set(entries)
        out = args.output
        if (
            len(files) == 1
            and out is not None
            and not os.path.isdir(out)
            and not out.endswith(("/", os.sep))
            and os.path.splitext(out)[1]
        ):
            value = art.get(entry)
            if isinstance(value, AudioSegment):  # its frames only, never the recording
                _write_segment(entry, value, out)
                print(os.path.abspath(out))
                return 0
            # one media value to a file name: that file, as it is stored
            (media,) = files
            ext = os.path.splitext(media)[1]
            if os.path.splitext(out)[1].lower() != ext.lower():
                raise UserError(
                    f"{entry!r} is a {ext or 'file without extension'} file; give -o a name "
                    f"ending {ext or 'without one'}, or a folder for its JSON and file"
                )
            _write_entry(art, media, out)
            print(os.path.abspath(out))
            return 0
        paths = {resolved} | files
    else:
        prefix = check_entry_name(entry) + "/"
        paths = {p for p in entries if p.startswith(prefix)}
        if not paths:
            some = ", ".join(art.value_names()[:10]) or ", ".join(sorted(entries)[:10])
            raise UserError(
                f"no entry, value or folder {entry!r} in {art.qualified_name}; try {some}"
            )
    root = art.download(args.output or default_dir, paths=paths)  # all or nothing
    for path in sorted(paths):
        print(os.path.join(root, path))
    return 0


def _write_segment(entry: str, seg: AudioSegment, out: str) -> None:
    """Write an audio segment's frames (only those) losslessly to ``out``: WAV of the stored
    dtype, or FLAC for int16 samples, chosen by the name's extension."""
    ext = os.path.splitext(out)[1].lower().lstrip(".")
    if ext not in Audio.FORMATS:
        raise UserError(
            f"{entry!r} is an audio segment (frames {seg.start}..{seg.stop} of a recording); "
            f"it is written as a file of its frames: give -o a name ending .wav (or .flac for "
            f"int16 samples), or a folder for its JSON and the recording's file"
        )
    try:
        data = segment_file(seg, ext)
    except ValueError as exc:  # FLAC cannot hold these samples losslessly
        raise UserError(f"{entry!r} cannot be written as {ext.upper()}: {exc}") from None

    def fill(f: IO[bytes]) -> None:
        f.write(data)

    atomic_write(out, fill)


def _probe_line(store: Store) -> str:
    try:
        honoured = store.honours_create_if_absent()
    except (OSError, MediaError) as exc:
        return f"create-if-absent: unknown (the probe could not write: {exc})"
    if honoured:
        return "create-if-absent: honoured (concurrent commits are safe)"
    return (
        "create-if-absent: NOT honoured by this backend (a second create of the same file "
        "succeeded); commit with --single-writer, one process at a time"
    )


def cmd_verify(store: Store, args: argparse.Namespace) -> int:
    """Re-hash every entry of a version, an artifact's versions, or the whole store."""
    if not store.exists():  # nothing to vouch for: never "all ok"
        raise store.no_store_error()
    if args.ref is None:
        refs = [f"{n}:{v}" for n in store.names() for v in store.versions(n)]
    elif ":" in args.ref:
        name, version = store.resolve(args.ref)  # unknown: ArtifactNotFoundError
        refs = [f"{name}:{version}"]
    else:
        name = check_artifact_name(args.ref)
        store.aliases(name)  # unknown artifact: ArtifactNotFoundError
        refs = [f"{name}:{v}" for v in store.versions(name)]
    bad = entries = 0
    for ref in refs:
        try:
            art = store.artifact(ref)
            problems = art.verify(raise_on_error=False)
            label, count = art.qualified_name, len(art.manifest.entries)
        except (MediaError, ValueError, OSError) as exc:  # an unreadable manifest
            problems, label, count = [f"manifest: {exc}"], ref, 0
        entries += count
        if problems:
            bad += 1
            print(f"CORRUPT  {label}  {len(problems)} problem(s)")
            for p in problems:
                print(f"    {p.splitlines()[0]}")
        else:
            print(f"ok       {label}  {count} entries")
    print(_probe_line(store))
    if bad:
        print(f"{bad} of {len(refs)} version(s) corrupt", file=sys.stderr)
        return 1
    print(f"verified {len(refs)} version(s), {entries} entries: all ok")
    return 0


def cmd_diff(store: Store, args: argparse.Namespace) -> int:
    """Entries added, removed and changed between two versions; value metadata changes."""
    a, b = store.artifact(args.a), store.artifact(args.b)
    d = view.compare(a, b)
    if args.json:
        print_json(d)
        return 0
    print(f"{d['a']} -> {d['b']}")
    for field, (old, new) in d["artifact"].items():
        print(f"  {field}: {fmt(old)} -> {fmt(new)}")
    for sign, key in (("+", "added"), ("-", "removed"), ("~", "changed")):
        for path in d[key]:
            print(f"  {sign} {path}")
    for name, v in d["values"].items():
        if v["status"] == "changed":
            detail = _changes(v["changes"]) or "content changed"
            print(f"  {name}: {detail}")
    print(f"{len(d['added'])} added, {len(d['removed'])} removed, {len(d['changed'])} changed")
    return 0


def _changes(changes: dict[str, Any]) -> str:
    """``field old -> new; ...`` (ASCII arrows written here: values are printed as they are)."""
    return describe_changes(changes, arrow="->")


def cmd_view(store: Store, args: argparse.Namespace) -> int:
    """Write an HTML page with players, waveforms and spectrograms (two versions: side by
    side)."""
    if len(args.refs) == 1 and view.is_run_folder(args.refs[0]):
        run_dir = args.refs[0]
        out = args.output or os.path.basename(os.path.abspath(run_dir)) + ".html"
        _check_parent(out)
        print(view.write(run_dir, out, limit=args.limit, embed=args.embed))
        return 0
    for ref in args.refs:
        # (a bare NAME may match a folder of the same name: it stays an artifact ref)
        if ("/" in ref or os.sep in ref) and os.path.isdir(ref):
            raise UserError(
                f"{ref} is a folder but not a run folder (it has no history.jsonl); "
                "give a run folder alone, or NAME:VERSION refs"
            )
    arts = [store.artifact(r) for r in args.refs]
    out = args.output or "-vs-".join(f"{a.name}-{a.version}" for a in arts) + ".html"
    _check_parent(out)
    print(view.write(arts, out, limit=args.limit, embed=args.embed))
    return 0
