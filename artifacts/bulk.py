"""Reading every entry of a committed version at once: ``download`` and ``verify``, with
pack members read in coalesced, batched reads (:mod:`artifacts.odb.batch`) and a progress
bar.  :class:`artifacts.version.Version` delegates its methods of these names here."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from media.errors import IntegrityError
from media.files import CHUNK
from media.paths import join_inside

from .errors import EntryNotFoundError
from .odb.batch import Member, checked, member_of, read_members
from .odb.chunks import BLAKE3_KEY, table_entry

__all__ = ["download", "verify", "batched", "DOWNLOADS"]

#: where ``download()`` writes by default, under the current directory
DOWNLOADS = "artifact-downloads"


def download(version: Any, root: str | os.PathLike[str] | None, paths: Iterable[str] | None) -> str:
    """See :meth:`artifacts.version.Version.download` (``version`` is that version)."""
    entries = version.manifest.entries
    if paths is None:
        chosen = sorted(entries)
    else:
        chosen = sorted(set(paths))
        for path in chosen:
            if path not in entries:
                raise EntryNotFoundError(f"no entry named {path!r} in {version.qualified_name}")
    root = os.path.abspath(
        os.fspath(root)
        if root is not None
        else os.path.join(DOWNLOADS, f"{version.name}-{version.version}")
    )
    made_root = not os.path.exists(root)
    os.makedirs(root, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".download-", dir=root)
    moved: list[tuple[str, str | None]] = []  # (destination, the user's file it replaced)
    try:
        items = batched(version, chosen)
        for path, m, data in progress(version.store, items, len(chosen), "download"):
            dest = join_inside(staging, path, "entry name")
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            if m is not None:
                data = checked(m, data)
                with open(dest, "wb") as out:
                    out.write(data)
                continue
            with version.open_entry(path) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, CHUNK)
        dests = [join_inside(root, path, "entry name") for path in chosen]
        for dest in dests:  # before any file moves: a folder where a file would go
            if os.path.isdir(dest):
                raise IsADirectoryError(
                    f"cannot download into {root}: {dest} is a folder, where "
                    f"{version.qualified_name} has a file; download into another folder"
                )
        for i, (path, dest) in enumerate(zip(chosen, dests)):
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            backup = None
            if os.path.lexists(dest):  # the user's file is kept until the end
                backup = os.path.join(staging, ".replaced", str(i))
                os.makedirs(os.path.dirname(backup), exist_ok=True)
                os.replace(dest, backup)
            moved.append((dest, backup))
            os.replace(join_inside(staging, path, "entry name"), dest)
    except BaseException:
        for dest, backup in reversed(moved):  # put the user's files back as they were
            try:
                if backup is None:
                    os.unlink(dest)
                else:
                    os.replace(backup, dest)
            except OSError:
                pass
        shutil.rmtree(root if made_root else staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return root


def verify(version: Any, raise_on_error: bool) -> list[str]:
    """See :meth:`artifacts.version.Version.verify` (``version`` is that version).

    Thorough where reads are quick: every file is checked against its sha256 (its content
    address, which the manifest's digest covers) as well as its BLAKE3 digest when one is
    recorded (reads check only that), and every chunk table against its own sha256 and the
    size its file implies (reads of windows depend on it; whole reads never look at it)."""
    problems = []
    entries = version.manifest.entries
    objects = version.store.objects
    paths = sorted(entries)
    items = batched(version, paths, cached=False)
    for path, m, data in progress(version.store, items, len(paths), "verify"):
        e = entries[path]
        name = f"{version.qualified_name}/{path}"
        try:
            # without a BLAKE3 digest, the read itself checks the sha256
            sha = hashlib.sha256() if e.get(BLAKE3_KEY) is not None else None
            if m is not None:
                got = checked(m, data)
                if sha is not None:
                    sha.update(got)
            else:
                with version.open_entry(path) as f:
                    while chunk := f.read(CHUNK):
                        if sha is not None:
                            sha.update(chunk)
            if sha is not None and sha.hexdigest() != e["digest"]:
                raise IntegrityError(
                    f"{name}: the stored bytes match the BLAKE3 digest {e[BLAKE3_KEY]} but not "
                    f"the sha256 {e['digest']} (their content address): the file was altered, "
                    "and its entry's BLAKE3 digest with it; restore the file (committing the "
                    "original again replaces a damaged blob)"
                )
            if objects.ranged(e):
                _check_table(objects, e, name)
        except (IntegrityError, OSError, LookupError, ValueError) as exc:
            # (a reference to a missing store or version, a forged entry: a problem to
            # report like a bad byte, not a reason to stop the check)
            problems.append(f"{path}: {exc}")
    problems.sort()
    if problems and raise_on_error:
        raise IntegrityError(
            f"{version.qualified_name}: {len(problems)} bad entr"
            f"{'y' if len(problems) == 1 else 'ies'}:\n  " + "\n  ".join(problems)
        )
    return problems


def _check_table(objects: Any, e: Any, name: str) -> None:
    """Raise IntegrityError unless entry ``e``'s chunk table is stored whole: its sha256
    (its address) and its size (one digest per chunk of the file) as recorded."""
    try:
        objects.read(table_entry(e), f"{name} (its chunk table)")
    except IntegrityError as exc:
        raise IntegrityError(
            f"{exc}; windows of the file cannot be read: commit the same file again to "
            "mend its table"
        ) from None


def batched(
    version: Any, paths: list[str], cached: bool = True
) -> Iterator[tuple[str, Member | None, Any]]:
    """``(path, member, bytes or why they are bad)`` of the pack members among ``paths``,
    read in coalesced, concurrent ranged reads in pack order, then ``(path, None, b"")`` for
    each other entry (read by the caller)."""
    store = version.store
    entries = version.manifest.entries
    packed, rest = [], []
    for p in paths:
        e = entries[p]
        if store.objects.kind(e) == "packed":
            packed.append((p, member_of(e, f"{version.qualified_name}/{p}")))
        else:
            rest.append(p)
    packed.sort(key=lambda pm: (pm[1].pack, pm[1].offset, pm[0]))
    cache = getattr(store, "cache", None) if cached else None
    got = read_members(store.backend, [m for _, m in packed], cache=cache)
    for (p, m), (_, data) in zip(packed, got):
        yield p, m, data
    for p in rest:
        yield p, None, b""


def progress(store: Any, items: Iterator[Any], total: int, desc: str) -> Iterator[Any]:
    """``items`` with a progress bar of ``total`` files, when the store shows bars."""
    bar = store.progress.counter(total, desc)
    try:
        for item in items:
            yield item
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
