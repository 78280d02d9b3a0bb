"""The commands that change stores or the configuration: ``put``, ``alias``, ``gc``,
``delete``, ``copy`` and ``remote`` (the read-only ones are in :mod:`artifacts.commands`, the
parser in :mod:`artifacts.cli`)."""

from __future__ import annotations

import argparse
import json
import os

from . import config
from .commands import PROG, UserError, human, print_json, table
from .draft import Artifact
from .names import VERSION_RE, check_alias, check_artifact_name, parse_ref
from .store import Store, open_store

__all__ = ["cmd_alias", "cmd_copy", "cmd_delete", "cmd_gc", "cmd_put", "cmd_remote"]


def cmd_delete(store: Store, args: argparse.Namespace) -> int:
    """Delete a version (NAME:VERSION or NAME:ALIAS) or every version of an artifact (NAME);
    asks nothing.  ``--dry-run`` says what would go.  The bytes go at the next ``gc``."""
    gone = store.delete(args.ref, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for ref in gone:
        print(f"{verb} {ref}")
    if not args.dry_run:
        print("their files go at the next 'artifacts gc'")
    return 0


def cmd_copy(store: Store, args: argparse.Namespace) -> int:
    """Copy versions (every artifact when no REF is given) to the store ``--to`` names."""
    where, options = config.resolve_store(args.to, args.to_options)
    try:
        dst = open_store(
            where,
            single_writer=args.single_writer,
            progress=False if args.quiet else None,
            **options,
        )
        report = store.copy_to(dst, args.refs or None)
    except Exception as exc:  # the destination's cloud library, in its own words
        hint = config.explain(exc, where or "")
        if hint is not None and "://" in (where or ""):
            raise hint from exc
        raise
    for a, b in report.versions:
        print(f"copied {a} -> {b}")
    for a, b in report.skipped:
        print(f"already there: {a} = {b}")
    print(f"sent {report.blobs} file(s), {report.bytes} bytes to {dst.url}")
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
    if args.audiofolder and len(args.paths) > 1:
        raise UserError(
            f"--audiofolder {args.audiofolder} makes one table of one folder; give one folder, "
            "or run put once per folder with a different --audiofolder name for each"
        )
    for path in args.paths:
        try:
            _put_one(draft, path, args)
        except ValueError as exc:
            if _TAKEN not in str(exc):
                raise
            # (the library's advice is a Python argument; here the clash is between paths)
            raise UserError(
                f"{path!r}: {str(exc).replace(_TAKEN, 'another path of this command gives it')}"
                "; rename one, or put them in separate commands"
            ) from None
    committed = store.commit(draft, aliases=args.alias)
    size = sum(e["size"] for e in committed.manifest.entries.values())
    what = (
        f"no change: {committed.qualified_name} already holds these files"
        if committed.version in before
        else f"committed {committed.qualified_name}"
    )
    print(
        f"{what} ({len(committed.manifest.entries)} entries, {human(size)}; "
        f"aliases {', '.join(committed.aliases)})"
    )
    return 0


def cmd_alias(store: Store, args: argparse.Namespace) -> int:
    """Set or remove an alias."""
    if args.action == "set":
        name, label = parse_ref(args.ref)  # ("NAME:" is refused, not read as latest)
        alias = check_alias(args.alias)
        store.set_alias(name, alias, label)
        _, version = store.resolve(f"{name}:{alias}")
        print(f"{name}:{alias} -> {version}")
        return 0
    if args.alias is None:
        name, _, alias = args.ref.partition(":")
        if not alias:
            raise UserError(f"name the alias to remove: {name}:ALIAS or {name} ALIAS")
    else:
        name, alias = args.ref, args.alias
    check_artifact_name(name)
    if VERSION_RE.match(alias):
        raise UserError(f"{alias!r} is a version, not an alias; versions cannot be removed")
    store.remove_alias(name, alias)
    print(f"removed {name}:{alias}")
    return 0


def cmd_gc(store: Store, args: argparse.Namespace) -> int:
    """Delete blobs and packs that no version refers to (older than --grace seconds)."""
    if not store.exists():  # a typo in --store: say so rather than "deleted 0 file(s)"
        raise store.no_store_error()
    report = store.gc(dry_run=args.dry_run, grace=args.grace)
    verb = "would delete" if report.dry_run else "deleted"
    if report.dry_run:
        for path in report.deleted:
            print(f"  {path}")
    print(
        f"{verb} {len(report.deleted)} file(s), {human(report.freed_bytes)}; "
        f"{report.live_blobs} live blob(s) and {report.live_packs} pack(s) kept, "
        f"{report.kept_young} younger than "
        f"{args.grace:g} s kept"
    )
    if report.held_by:
        print(
            f"held back by {len(report.held_by)} commit lease(s) younger than {args.grace:g} s "
            "(a commit in flight; one dated ahead of this clock counts as young): "
            f"{', '.join(report.held_by)}; if no commit is running, delete them and run gc again"
        )
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
            print_json(
                [{"name": r.name, "url": r.url, "options": r.options} for r in found.values()]
            )
        elif not found:
            print(f"no remotes (add one with: {PROG} remote add NAME URL)")
        else:
            rows = [
                [r.name, r.url, " ".join(f"{k}={json.dumps(v)}" for k, v in r.options.items())]
                for r in found.values()
            ]
            print(table(["NAME", "URL", "OPTIONS"], rows))
    return 0


#: the end of the library's message for an entry name that a draft already holds
_TAKEN = "pass overwrite=True to replace it, or choose another name"


def _put_one(draft: Artifact, path: str, args: argparse.Namespace) -> None:
    """Add one path of ``put`` to the draft: a folder, a file, or an audio folder's table."""
    if args.audiofolder:  # a Table of its clips and metadata.csv (see artifacts.hf)
        from .hf import audiofolder_table  # (pyarrow and pandas only when asked for)

        draft.add(audiofolder_table(path), args.audiofolder, overwrite=args.update)
    elif os.path.isdir(path):
        draft.add_dir(path, overwrite=args.update)
    else:
        draft.add_file(path, overwrite=args.update)
