"""The ``artifacts`` command: browse, fetch, commit, check and preview a store from a terminal.

Every command takes ``--store URL`` (a URL, a folder or the name of a remote; default: the
embedded store, see :func:`artifacts.default_store_path`), ``--store-option KEY=VALUE``
(fsspec storage options, repeatable; see :mod:`artifacts.config`) and ``--quiet`` (no
progress bars; by default they show when stderr is a terminal).  ``ls``, ``versions``,
``show`` and ``diff`` print JSON with ``--json``.  ``remote`` names stores.  Exit codes: 0
success, 1 failure (including corruption found by ``verify`` and a user's mistake such as an
unknown artifact, which prints one line on stderr), 2 usage.

See docs/cli.md for a session at the terminal.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Sequence
from typing import Any

from media.errors import MediaError

from . import config, view
from .artifact import Artifact
from .errors import EntryNotFoundError
from .manifest import VERSION_RE, check_alias, check_artifact_name, check_entry_name
from .store import DEFAULT_GRACE, Store, open_store

__all__ = ["main", "build_parser"]

PROG = "artifacts"


# -- output helpers -----------------------------------------------------------------------
def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as aligned columns under a header line."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False))


class UserError(Exception):
    """A mistake of the user's, reported as one line (exit code 1)."""


# -- commands -----------------------------------------------------------------------------
def cmd_ls(store: Store, args: argparse.Namespace) -> int:
    """List the artifacts of the store."""
    if not store.exists():
        if args.store is not None:  # a location named by the user: a typo must not pass
            raise store._no_store()
        if args.json:
            _print_json([])
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
        _print_json(rows)
    elif not rows:
        print(f"no artifacts in {store.url}")
    else:
        print(
            _table(
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
        _print_json(rows)
        return 0
    print(
        _table(
            ["VERSION", "CREATED", "ENTRIES", "SIZE", "DIGEST", "ALIASES"],
            [
                [
                    r["version"],
                    r["created_at"][:19].replace("T", " "),
                    r["entries"],
                    _human(r["size"]),
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
        _print_json(obj)
        return 0
    size = sum(e["size"] for e in m.entries.values())
    created = m["created_at"] + (f" by run {art.created_by}" if art.created_by else "")
    facts = [
        ("type", art.type),
        ("description", art.description or ""),
        ("created", created),
        ("aliases", ", ".join(art.aliases)),
        ("digest", m["digest"]),
        ("entries", f"{len(m.entries)} ({_human(size)})"),
        ("metadata", json.dumps(art.metadata, ensure_ascii=False) if art.metadata else ""),
    ]
    print(art.qualified_name)
    for key, value in facts:
        if value:
            print(f"  {key:<12} {value}")
    print()
    if args.files:
        rows = [
            [path, _human(e["size"]), (e.get("digest") or "")[:12], _source_of(e)]
            for path, e in sorted(m.entries.items())
        ]
        print(_table(["PATH", "SIZE", "SHA256", "FROM"], rows))
        return 0
    print(_table(["NAME", "TYPE", "SIZE"], _value_rows(art)))
    return 0


def _value_rows(art: Artifact) -> list[list[str]]:
    """One row per value (name, type tag, bytes of its JSON and files), then one per file
    that no value holds; the files values hold (named by their hashes) are not listed."""
    entries = art.manifest.entries
    rows, held = [], set()
    for path in sorted(entries):
        match = view._VALUE_JSON.match(path)
        if match is None:
            continue
        try:
            paths = set(view._paths_in(json.loads(art.read_bytes(path)))) & set(entries)
        except ValueError:  # not JSON after all: listed as a file below
            continue
        held |= paths | {path}
        size = sum(entries[p]["size"] for p in paths | {path})
        rows.append([match["base"], match["tag"], _human(size)])
    rows += [[p, "file", _human(entries[p]["size"])] for p in sorted(entries) if p not in held]
    return rows


def _check_parent(out: str) -> None:
    """Refuse an output path whose folder does not exist: a typo must not make folders."""
    parent = os.path.dirname(os.path.abspath(out.rstrip("/" + os.sep) or out))
    if not os.path.isdir(parent):
        raise UserError(f"the folder {parent} does not exist; create it first, or fix -o")


def _write_entry(art: Artifact, path: str, dest: str) -> None:
    """Write one entry to ``dest`` (checked against its digest; atomic)."""
    folder = os.path.dirname(dest) or "."
    fd, tmp = tempfile.mkstemp(prefix=".get-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out, art.open_media(path) as src:
            shutil.copyfileobj(src, out, 1 << 20)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
    if entry in entries and not view._VALUE_JSON.match(entry):
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
        files = set(view._paths_in(json.loads(art.read_bytes(resolved)))) & set(entries)
        out = args.output
        if (
            len(files) == 1
            and out is not None
            and not os.path.isdir(out)
            and not out.endswith(("/", os.sep))
            and os.path.splitext(out)[1]
        ):
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


def cmd_put(store: Store, args: argparse.Namespace) -> int:
    """Commit files and folders as the next version of an artifact."""
    name = check_artifact_name(args.name)
    metadata = None
    if args.metadata is not None:
        try:
            metadata = json.loads(args.metadata)
        except ValueError as exc:
            raise UserError(f"--metadata is not JSON: {exc}") from None
        if not isinstance(metadata, dict):
            raise UserError('--metadata must be a JSON object, e.g. \'{"source": "mic"}\'')
    for path in args.paths:
        if not os.path.exists(path):
            raise UserError(f"no such file or folder: {path!r}")
    before = store.versions(name)
    if args.update:
        if not before:
            raise UserError(f"--update: there is no artifact {name!r} yet in {store.url}")
        draft = store.artifact(f"{name}:latest").new_draft()
        if args.type is not None:
            draft.type = args.type
        if args.description is not None:
            draft.description = args.description
        if metadata is not None:
            draft.metadata = {**draft.metadata, **metadata}
    else:
        draft = Artifact(name, args.type or "dataset", args.description, metadata)
    for path in args.paths:
        if args.audiofolder:  # a Table of its clips and metadata.csv (see artifacts.hf)
            from .hf import audiofolder_table

            draft.add(audiofolder_table(path), args.audiofolder, overwrite=args.update)
        elif os.path.isdir(path):
            draft.add_dir(path, overwrite=args.update)
        else:
            draft.add_file(path, overwrite=args.update)
    committed = store.commit(draft, aliases=args.alias)
    size = sum(e["size"] for e in committed.manifest.entries.values())
    what = (
        f"no change: {committed.qualified_name} already holds these files"
        if committed.version in before
        else f"committed {committed.qualified_name}"
    )
    print(
        f"{what} ({len(committed.manifest.entries)} entries, {_human(size)}; "
        f"aliases {', '.join(committed.aliases)})"
    )
    return 0


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
        raise store._no_store()
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


def _number(kind: type, what: str, minimum: float, hint: str) -> Any:
    """An argparse type: ``kind(text)`` no smaller than ``minimum``, else a clear error."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: give {hint}") from None
        if not value >= minimum:
            raise argparse.ArgumentTypeError(f"invalid {what} {text!r}: give a number >= {minimum}")
        return value

    return parse


_grace = _number(float, "seconds", 0, "a number")
_limit = _number(int, "count", 1, "a whole number")


def cmd_gc(store: Store, args: argparse.Namespace) -> int:
    """Delete blobs and packs that no version refers to (older than --grace seconds)."""
    if not store.exists():  # a typo in --store: say so rather than "deleted 0 file(s)"
        raise store._no_store()
    report = store.gc(dry_run=args.dry_run, grace=args.grace)
    verb = "would delete" if report.dry_run else "deleted"
    if report.dry_run:
        for path in report.deleted:
            print(f"  {path}")
    print(
        f"{verb} {len(report.deleted)} file(s), {_human(report.freed_bytes)}; "
        f"{report.live_blobs} live blob(s) and {report.live_packs} pack(s) kept, "
        f"{report.kept_young} younger than "
        f"{args.grace:g} s kept"
    )
    return 0


def cmd_diff(store: Store, args: argparse.Namespace) -> int:
    """Entries added, removed and changed between two versions; value metadata changes."""
    a, b = store.artifact(args.a), store.artifact(args.b)
    d = view.compare(a, b)
    if args.json:
        _print_json(d)
        return 0
    print(f"{d['a']} -> {d['b']}")
    for field, (old, new) in d["artifact"].items():
        print(f"  {field}: {view._fmt(old)} -> {view._fmt(new)}")
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
    return "; ".join(
        "samples changed" if field == "sha256" else f"{field} {view._fmt(old)} -> {view._fmt(new)}"
        for field, (old, new) in changes.items()
    )


def cmd_alias(store: Store, args: argparse.Namespace) -> int:
    """Set or remove an alias."""
    if args.action == "set":
        name, _, label = args.ref.partition(":")
        check_artifact_name(name)
        alias = check_alias(args.alias)
        store.set_alias(name, alias, label or "latest")
        _, version = store.resolve(f"{name}:{alias}")
        print(f"{name}:{alias} -> {version}")
        return 0
    if args.alias is None:
        name, _, alias = args.ref.partition(":")
        if not alias:
            raise UserError(f"name the alias to remove: {args.ref}:ALIAS or {args.ref} ALIAS")
    else:
        name, alias = args.ref, args.alias
    check_artifact_name(name)
    if VERSION_RE.match(alias):
        raise UserError(f"{alias!r} is a version, not an alias; versions cannot be removed")
    store.remove_alias(name, alias)
    print(f"removed {name}:{alias}")
    return 0


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


def cmd_remote(args: argparse.Namespace) -> int:
    """Add, list or remove named stores in the per-user configuration file."""
    if args.action == "add":
        r = config.add_remote(args.name, args.url, config.options_from(args.option))
        print(f"added remote {r.name}: {r.url}")
    elif args.action == "remove":
        r = config.remove_remote(args.name)
        print(f"removed remote {r.name} ({r.url}); the store itself is untouched")
    else:
        found = config.remotes()
        if args.json:
            _print_json(
                [{"name": r.name, "url": r.url, "options": r.options} for r in found.values()]
            )
        elif not found:
            print(f"no remotes (add one with: {PROG} remote add NAME URL)")
        else:
            rows = [
                [r.name, r.url, " ".join(f"{k}={json.dumps(v)}" for k, v in r.options.items())]
                for r in found.values()
            ]
            print(_table(["NAME", "URL", "OPTIONS"], rows))
    return 0


def _store_option(text: str) -> tuple[str, Any]:
    """An argparse type: ``KEY=VALUE`` as a pair (``--store-option``, ``--option``)."""
    try:
        return config.parse_option(text)
    except config.ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# -- the parser ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``artifacts`` command."""

    def options(default: Any, option_dest: str = "store_options") -> argparse.ArgumentParser:
        # The top level has real defaults; a sub-command's copy uses SUPPRESS, so that it
        # overrides the top-level value only when given (``--store X ls`` = ``ls --store X``).
        # Each parser gets its own action objects: parents share them.
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument(
            "--store",
            metavar="URL",
            default=default(None),
            help="store URL, folder or remote name (default: $MEDIA_ARTIFACTS_STORE or the "
            "per-user store)",
        )
        common.add_argument(
            "--store-option",
            dest=option_dest,  # the top level's and a sub-command's are merged by main
            action="append",
            type=_store_option,
            default=default([]),
            metavar="KEY=VALUE",
            help="an fsspec storage option for --store, e.g. endpoint_url=http://host:9000 "
            "(VALUE is JSON if it parses, else a string; repeatable)",
        )
        common.add_argument(
            "-q",
            "--quiet",
            action="store_true",
            default=default(False),
            help="no progress bars",
        )
        common.add_argument(
            "--single-writer",
            action="store_true",
            default=default(False),
            help="promise that only this process commits (needed on backends that do not "
            "honour create-if-absent)",
        )
        common.add_argument(
            "--traceback", action="store_true", default=default(False), help=argparse.SUPPRESS
        )
        return common

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Browse, fetch, commit, check and preview versioned media artifacts.",
        parents=[options(lambda v: v)],
        epilog="Exit codes: 0 success, 1 failure, 2 usage.  See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(
            name,
            parents=[options(lambda v: argparse.SUPPRESS, "sub_store_options")],
            help=help,
            description=help,
        )
        p.set_defaults(func=func)
        return p

    p = add("ls", cmd_ls, "list the artifacts")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("versions", cmd_versions, "list the versions of an artifact")
    p.add_argument("name", help="artifact name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("show", cmd_show, "show a version's metadata, aliases and values")
    p.add_argument("ref", help="NAME[:VERSION|:ALIAS] (default :latest)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--files", action="store_true", help="list the manifest's files instead of the values"
    )
    p = add("get", cmd_get, "download a version, or one entry, value or folder of it")
    p.add_argument("ref", help="NAME[:VERSION|:ALIAS]")
    p.add_argument("entry", nargs="?", help="an entry path, a value name or a folder")
    p.add_argument(
        "-o",
        "--output",
        metavar="PATH",
        help="folder (default ./NAME-VERSION), or the file for a single file entry",
    )
    p = add("put", cmd_put, "commit files and folders as the next version")
    p.add_argument("name", help="artifact name")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, and folders (their contents)")
    p.add_argument("--type", help="artifact type (default: dataset, or the latest's)")
    p.add_argument("--description", help="a description of the artifact")
    p.add_argument("--metadata", metavar="JSON", help="metadata as a JSON object")
    p.add_argument(
        "--alias", action="append", default=[], help="alias to point at the version (repeatable)"
    )
    p.add_argument(
        "--update",
        action="store_true",
        help="start from the latest version and add or replace these files",
    )
    p.add_argument(
        "--audiofolder",
        metavar="TABLE",
        help="PATH is an audio folder (clips + metadata.csv): commit it as the Table TABLE",
    )
    p = add("verify", cmd_verify, "re-hash a version, an artifact's versions, or everything")
    p.add_argument("ref", nargs="?", help="NAME:VERSION, or NAME for all its versions")
    p = add("gc", cmd_gc, "delete blobs no version refers to")
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted")
    p.add_argument(
        "--grace",
        type=_grace,
        default=DEFAULT_GRACE,
        metavar="SECONDS",
        help=f"keep files younger than this (default {DEFAULT_GRACE:g})",
    )
    p = add("diff", cmd_diff, "what changed between two versions")
    p.add_argument("a", help="NAME:VERSION")
    p.add_argument("b", help="NAME:VERSION")
    p.add_argument("--json", action="store_true", help="print JSON")
    p = add("alias", cmd_alias, "set or remove an alias")
    p.add_argument("action", choices=["set", "remove"])
    p.add_argument("ref", help="set: NAME:VERSION; remove: NAME:ALIAS or NAME")
    p.add_argument("alias", nargs="?", help="the alias")
    p = add("view", cmd_view, "write an HTML preview (two versions: side by side; a run folder)")
    p.add_argument(
        "refs", nargs="+", metavar="REF", help="one or two NAME:VERSION, or a run folder"
    )
    p.add_argument(
        "-o", "--output", metavar="FILE", help="the HTML file (default NAME-VERSION.html)"
    )
    p.add_argument(
        "--limit",
        type=_limit,
        default=view.DEFAULT_LIMIT,
        metavar="N",
        help=f"show at most N clips (a run: N steps per key; default {view.DEFAULT_LIMIT})",
    )
    p.add_argument(
        "--embed",
        action="store_true",
        help="one self-contained file (media inside the page, not in FILE_files/ beside it)",
    )
    p = sub.add_parser(
        "remote",
        help="name stores: add, list or remove remotes",
        description="Named stores (a URL and storage options, never credentials) in "
        f"the per-user configuration file, {config.config_path()} "
        f"(${config.CONFIG_ENV} overrides its path).",
    )
    p.set_defaults(func=cmd_remote, needs_store=False)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("add", help="name a store: --store NAME then opens it")
    a.add_argument("name", help="the remote's name")
    a.add_argument("url", help="the store's URL (or folder)")
    a.add_argument(
        "--option",
        action="append",
        default=[],
        type=_store_option,
        metavar="KEY=VALUE",
        help="an fsspec storage option, e.g. endpoint_url=http://host:9000 (repeatable; "
        "credentials are refused: keep them in the environment or a profile)",
    )
    a = actions.add_parser("list", help="list the remotes")
    a.add_argument("--json", action="store_true", help="print JSON")
    a = actions.add_parser("remove", help="forget a remote (its store is untouched)")
    a.add_argument("name", help="the remote's name")
    return parser


def _version() -> str:
    try:
        return f"(media-artifacts) {importlib.metadata.version('media-artifacts')}"
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "(media-artifacts, not installed)"


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        msg = str(exc.args[0])
    else:
        msg = re.sub(r"^\[Errno -?\d+\] ", "", str(exc)) or type(exc).__name__
    return "; ".join(ln.strip() for ln in msg.splitlines() if ln.strip())


# control characters (C0 but newline and tab, DEL, C1) and bidi overrides: shown escaped,
# so that stored names, descriptions and errors cannot drive the user's terminal
_ESCAPES = {
    c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"
    for c in [*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
    if chr(c) not in "\n\t"
}


class _Escaped:
    """A text stream that writes control characters as ``\\xNN`` escapes."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(text.translate(_ESCAPES))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``artifacts`` command; returns the exit code."""
    saved = sys.stdout  # (stderr is left alone: progress bars draw with control codes)
    sys.stdout = _Escaped(sys.stdout)
    try:
        return _main(argv)
    finally:
        sys.stdout = saved


def _main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "view" and len(args.refs) > 2:
        parser.error("view takes one or two versions")
    where: str | None = None
    try:
        if not getattr(args, "needs_store", True):
            return int(args.func(args))
        where, storage_options = config.resolve_store(
            args.store, [*args.store_options, *getattr(args, "sub_store_options", [])]
        )
        store = open_store(
            where,
            single_writer=args.single_writer,
            progress=False if args.quiet else None,
            **storage_options,
        )
        if where is None or "://" not in where:  # a local store by its path, a URL as given
            where = store.url
        return int(args.func(store, args))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``artifacts ls | head``): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:
        if args.traceback:
            traceback.print_exc()
        else:
            hint = config.explain(exc, where) if where else None
            print(f"{PROG}: error: {_one_line(hint or exc).translate(_ESCAPES)}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
