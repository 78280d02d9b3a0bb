"""Tables in the ecosystem: Parquet in the layout of Hugging Face ``datasets``, and audio folders.

* :func:`to_parquet` writes the ``Table`` value of a committed version as one Parquet file:
  audio columns as HF's ``Audio`` feature (a struct of ``bytes`` and ``path``, with the
  feature recorded in the schema metadata that ``datasets`` reads), other columns as Arrow
  columns.  ``datasets.Dataset.from_parquet(path)`` loads it; cast the audio column to
  ``datasets.Audio(decode=False)`` to get the file bytes without a decoder.  A segment
  cell is written as a lossless file of its frames only (see :func:`to_parquet`).
* :func:`table_from_parquet` reads such a file (or one written by ``datasets``) back into a
  ``Table``: the audio bytes are the stored bytes, bit for bit.
* :func:`audiofolder_table` reads an "audio folder" (clips plus a ``metadata.csv`` or
  ``metadata.jsonl`` whose ``file_name`` column names them, the HF convention);
  :func:`import_audiofolder` commits it as a version (also ``artifacts put --audiofolder``).

pyarrow is an optional dependency: ``pip install media-artifacts[parquet]``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from typing import Any

from media import Audio, AudioSegment, Table, _samples
from media.paths import check_relpath, join_inside

__all__ = [
    "to_parquet",
    "table_from_parquet",
    "audiofolder_table",
    "import_audiofolder",
    "segment_file",
]

_META_KEY = b"media_artifacts"  # our own schema metadata: what HF's layout cannot say
_AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg", ".aiff", ".aif", ".au", ".caf", ".w64")


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError(
            "Parquet import and export need pyarrow: pip install media-artifacts[parquet]"
        ) from None
    return pyarrow


def _column_kind(name: str, cells: list[Any]) -> str:
    """``audio``, ``bool``, ``int``, ``float``, ``str``, or ``json`` (mixed scalars)."""
    present = [c for c in cells if c is not None]
    if present and all(isinstance(c, Audio) for c in present):
        return "audio"  # whole clips, segments, or both
    for c in present:
        if isinstance(c, Audio):
            other = next((o for o in present if not isinstance(o, Audio)), None)
            raise ValueError(
                f"column {name!r} mixes Audio cells with {type(other).__name__} cells; "
                "Parquet export takes columns of Audio (or None) and columns of JSON scalars: "
                "put the clips in a column of their own"
            )
        if not isinstance(c, (str, int, float, bool)):
            raise ValueError(
                f"column {name!r} holds {type(c).__name__} cells; Parquet export takes Audio "
                "cells (each column all Audio or None) and JSON scalars"
            )
    kinds = {type(c) for c in present}
    if len(kinds) == 1:
        (kind,) = kinds
        if kind is int and not all(-(2**63) <= c < 2**63 for c in present):
            return "json"
        return kind.__name__
    return "json" if kinds else "str"


def _audio_cell(c: Audio) -> dict[str, Any]:
    """The ``{"bytes", "path"}`` struct of one clip: its file as it is stored, or for a
    segment a file of its own frames only (never the whole recording)."""
    if isinstance(c, AudioSegment):
        return _segment_cell(c)
    with c.open() as f:
        data = f.read()
    src = c.source_file()
    file = src[1] if src else f"{c.sha256[:20]}.{c.extension}"
    return {"bytes": data, "path": file}


def segment_file(seg: AudioSegment, fmt: str | None = None) -> bytes:
    """The bytes of a file of a segment's frames only, lossless in its dtype: ``"wav"``, or
    ``"flac"`` (int16 samples only; ``ValueError`` otherwise).  ``None`` picks FLAC when the
    recording is an int16 FLAC that FLAC can hold again, else WAV."""
    samples = seg.numpy()
    frames, channels, rate = seg.frames, seg.channels, seg.sample_rate
    if fmt is None:
        fmt = "wav"
        if seg.extension == "flac" and seg.dtype in _samples.FLAC_DTYPES:
            try:
                _samples.check_flac(frames, channels, rate)
                fmt = "flac"
            except ValueError:  # beyond what FLAC holds: WAV keeps the samples as well
                pass
    elif fmt == "flac":
        if seg.dtype not in _samples.FLAC_DTYPES:
            raise ValueError(
                f"FLAC keeps {', '.join(_samples.FLAC_DTYPES)} samples losslessly, not "
                f"{seg.dtype}; write this segment as WAV"
            )
        _samples.check_flac(frames, channels, rate)
    elif fmt != "wav":
        raise ValueError(f"Unknown format {fmt!r}: a segment is written as wav or flac")
    # (from the samples, not through Audio(array): a short stereo window is a valid clip here)
    return _samples.encode(samples, rate, fmt)


def _segment_cell(seg: AudioSegment) -> dict[str, Any]:
    """A segment's frames as a lossless file of their own (see :func:`segment_file`), named
    after the recording's file and the range."""
    data = segment_file(seg)
    ext = "flac" if data[:4] == b"fLaC" else "wav"
    src = seg.source_file()
    stem = src[1].rsplit("/", 1)[-1].rsplit(".", 1)[0] if src else seg.sha256[:20]
    return {"bytes": data, "path": f"{stem}.{seg.start}-{seg.stop}.{ext}"}


def to_parquet(artifact: Any, name: str, path: str | os.PathLike[str]) -> str:
    """Write the ``Table`` value ``name`` of a committed version to the Parquet file ``path``.

    Each audio file is read (and checked) once and written into the file as is.  A segment
    (``clip.segment(a, b)``) is written as a file of its own frames, losslessly: FLAC when its
    recording is an int16 FLAC, else WAV of its dtype (a lossy recording's decoded samples);
    it is read back as a whole clip of those frames.  Returns the path.  Raises
    ``ValueError`` for a table with cells Parquet cannot hold here (a custom type, or a
    column mixing Audio with other cells).
    """
    pa = _pyarrow()
    table = artifact.get(name)
    if not isinstance(table, Table):
        raise ValueError(
            f"{artifact.qualified_name}/{name} is a value of type {type(table).__name__}, "
            "not a Table"
        )
    arrays, features, kinds, captions = [], {}, {}, {}
    audio_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    for col in table.columns:
        cells = table[col]
        kind = kinds[col] = _column_kind(col, cells)
        if kind == "audio":
            values = [None if c is None else _audio_cell(c) for c in cells]
            arrays.append(pa.array(values, type=audio_type))
            features[col] = {"_type": "Audio"}
            if any(c is not None and c.caption is not None for c in cells):
                captions[col] = [None if c is None else c.caption for c in cells]
        elif kind == "json":
            arrays.append(pa.array([json.dumps(c) for c in cells], type=pa.string()))
            features[col] = {"dtype": "string", "_type": "Value"}
        else:
            arrow = {"bool": pa.bool_(), "int": pa.int64(), "float": pa.float64()}
            typ = arrow.get(kind, pa.string())
            arrays.append(pa.array(cells, type=typ))
            hf_dtype = {"bool": "bool", "int": "int64", "float": "float64"}.get(kind, "string")
            features[col] = {"dtype": hf_dtype, "_type": "Value"}
    hf = {"info": {"features": features}}
    ours = {"columns": kinds, "captions": captions, "source": artifact.qualified_name}
    schema = pa.schema(
        [pa.field(c, a.type) for c, a in zip(table.columns, arrays)],
        metadata={b"huggingface": json.dumps(hf).encode(), _META_KEY: json.dumps(ours).encode()},
    )
    out = os.fspath(path)
    pa.parquet.write_table(pa.Table.from_arrays(arrays, schema=schema), out)
    return out


def table_from_parquet(path: str | os.PathLike[str]) -> Table:
    """A ``Table`` from a Parquet file in HF's layout (from :func:`to_parquet` or ``datasets``).

    Struct columns of ``bytes`` and ``path`` become ``Audio`` cells holding those bytes
    exactly; the other columns keep their values.  Add the table to an artifact to store it.
    """
    pa = _pyarrow()
    pt = pa.parquet.read_table(os.fspath(path))
    meta = pt.schema.metadata or {}
    try:
        ours = json.loads(meta[_META_KEY]) if _META_KEY in meta else {}
    except ValueError:
        ours = {}
    kinds = ours.get("columns") if isinstance(ours.get("columns"), dict) else {}
    captions = ours.get("captions") if isinstance(ours.get("captions"), dict) else {}
    columns = list(pt.column_names)
    data: list[list[Any]] = [[] for _ in range(pt.num_rows)]
    for col in columns:
        arrow = pt.column(col)
        cells = arrow.to_pylist()
        if _is_audio_struct(pa, arrow.type):
            caps = captions.get(col)
            if not (isinstance(caps, list) and len(caps) == len(cells)):
                caps = [None] * len(cells)
            cells = [_audio(c, cap, col, r) for r, (c, cap) in enumerate(zip(cells, caps))]
        elif kinds.get(col) == "json":
            cells = [json.loads(c) if isinstance(c, str) else c for c in cells]
        for row, cell in zip(data, cells):
            row.append(cell)
    return Table(columns=columns, data=data)


def _is_audio_struct(pa: Any, typ: Any) -> bool:
    return pa.types.is_struct(typ) and {typ.field(i).name for i in range(typ.num_fields)} == {
        "bytes",
        "path",
    }


def _audio(cell: Any, caption: Any, col: str, row: int) -> Audio | None:
    if cell is None:
        return None
    data = cell.get("bytes")
    if data is None:
        raise ValueError(
            f"row {row}, column {col!r}: the audio struct holds only a path "
            f"({cell.get('path')!r}), no bytes; embed the files first (datasets' "
            "embed_external_files) and export again"
        )
    return Audio(io.BytesIO(data), caption=caption if isinstance(caption, str) else None)


# -- audio folders ----------------------------------------------------------------------------
def _typed(values: list[str]) -> list[Any]:
    """CSV text to ints, floats or strs (a whole column at once); empty cells become None."""
    present = [v for v in values if v != ""]
    for convert in (int, float):
        try:
            converted = [convert(v) for v in present]
        except ValueError:
            continue
        if convert is float and not all(v == v and abs(v) != float("inf") for v in converted):
            break  # NaN or infinity: keep the text
        out: list[Any] = []
        k = 0  # (no next(): a StopIteration would end a caller's map() silently)
        for v in values:
            if v == "":
                out.append(None)
            else:
                out.append(converted[k])
                k += 1
        return out
    return [None if v == "" else v for v in values]


def audiofolder_table(folder: str | os.PathLike[str]) -> Table:
    """A ``Table`` of an audio folder: clips plus ``metadata.csv`` (or ``metadata.jsonl``).

    The metadata's ``file_name`` column names each clip relative to the folder (never
    outside it); the table has an ``audio`` column of ``Audio`` cells, then every metadata
    column in order (``file_name`` included).  CSV columns of numbers become ints or floats.
    Without metadata, every audio file under the folder is a row (``audio``, ``file_name``).
    """
    root = os.fspath(folder)
    if not os.path.isdir(root):
        raise ValueError(f"{root!r} is not a folder; give an audio folder (clips + metadata.csv)")
    csv_path, jsonl_path = os.path.join(root, "metadata.csv"), os.path.join(root, "metadata.jsonl")
    if os.path.exists(csv_path):
        with open(csv_path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            body = list(reader)
        if not header:
            raise ValueError(f"{csv_path} is empty; its first line names the columns")
        for r, row in enumerate(body):
            if len(row) != len(header):
                raise ValueError(
                    f"{csv_path}: line {r + 2} has {len(row)} fields, the header {len(header)}"
                )
        meta_cols = header
        columns_data = [_typed([row[j] for row in body]) for j in range(len(header))]
        records = [dict(zip(header, cells)) for cells in zip(*columns_data)] if body else []
        where = csv_path
    elif os.path.exists(jsonl_path):
        records, meta_cols = [], []
        with open(jsonl_path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{jsonl_path}: line {n} is not JSON: {exc}") from None
                if not isinstance(rec, dict):
                    raise ValueError(f"{jsonl_path}: line {n} is not a JSON object")
                records.append(rec)
                meta_cols += [k for k in rec if k not in meta_cols]
        where = jsonl_path
    else:
        files = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                if fn.lower().endswith(_AUDIO_EXTENSIONS):
                    rel = os.path.relpath(os.path.join(dirpath, fn), root)
                    files.append(rel.replace(os.sep, "/"))
        records, meta_cols, where = [{"file_name": f} for f in files], ["file_name"], root
    if "file_name" not in meta_cols:
        raise ValueError(
            f"{where} has no file_name column; the audio folder convention names each clip "
            f"in a file_name column (columns: {meta_cols})"
        )
    if "audio" in meta_cols:
        raise ValueError(f"{where} has a column named 'audio'; that name is for the clips")
    table = Table(columns=["audio", *meta_cols])
    for r, rec in enumerate(records):
        name = rec.get("file_name")
        if not isinstance(name, str):
            raise ValueError(f"{where}: row {r}: file_name {name!r} is not a file name")
        check_relpath(name, f"file_name of row {r} in {where}")
        path = join_inside(root, name, f"file_name of row {r} in {where}")
        if not os.path.isfile(path):
            raise ValueError(f"{where}: row {r}: no file {name!r} in {root!r}")
        table.add_data(Audio(path), *[rec.get(c) for c in meta_cols])
    return table


def import_audiofolder(
    store: Any,
    name: str,
    folder: str | os.PathLike[str],
    *,
    table: str = "data",
    type: str = "dataset",
    aliases: list[str] | None = None,
) -> Any:
    """Commit an audio folder to ``store`` as the next version of ``name``: one ``Table``
    value ``table`` (see :func:`audiofolder_table`).  Returns the committed version."""
    from .artifact import Artifact

    draft = Artifact(name, type)
    draft.add(audiofolder_table(folder), table)
    return store.commit(draft, aliases=aliases or [])
