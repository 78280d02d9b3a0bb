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
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from . import config, view
from .changecommands import cmd_alias, cmd_copy, cmd_delete, cmd_gc, cmd_put, cmd_remote
from .commands import (
    PROG,
    cmd_diff,
    cmd_get,
    cmd_ls,
    cmd_show,
    cmd_verify,
    cmd_versions,
    cmd_view,
)
from .store import DEFAULT_GRACE, open_store

__all__ = ["main", "build_parser"]


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
    p = add("delete", cmd_delete, "delete a version, or every version of an artifact")
    p.add_argument("ref", help="NAME:VERSION or NAME:ALIAS (one version), or NAME (all)")
    p.add_argument("--dry-run", action="store_true", help="say what would be deleted")
    p = add("copy", cmd_copy, "copy versions (default: every artifact) to another store")
    p.add_argument("refs", nargs="*", metavar="REF", help="NAME (all versions) or NAME:VERSION")
    p.add_argument("--to", required=True, metavar="URL", help="the store to copy to (or a remote)")
    p.add_argument(
        "--to-option",
        dest="to_options",
        action="append",
        default=[],
        type=_store_option,
        metavar="KEY=VALUE",
        help="an fsspec storage option for --to, e.g. endpoint_url=http://host:9000 (repeatable)",
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
