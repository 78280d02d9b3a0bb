"""The commands that work across stores or remove versions: ``artifacts copy`` and
``artifacts delete`` (the parser is in :mod:`artifacts.cli`)."""

from __future__ import annotations

import argparse

from . import config
from .store import Store, open_store

__all__ = ["cmd_copy", "cmd_delete"]


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
