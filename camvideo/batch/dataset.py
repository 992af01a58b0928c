"""An archive's per-frame data as one Parquet dataset (``--dataset DIR``; ``pip install 'camvideo[dataset]'``).

Every file the run summary says is ``done`` (or ``skipped``: done before) with a JSONL
output becomes ``DIR/<its path in the output folder>.parquet``: one row per detection,
columns ``file`` (string: the source's path relative to the inputs, the summary's ``rel``),
``frame`` (int64), ``time`` (float64, seconds), ``width``, ``height`` (int32), ``rank``
(int16), ``class_id`` (int32), ``label`` (string), ``score`` (float64), ``x1``, ``y1``,
``x2``, ``y2`` (int32, source pixels; null where a class has no box). ``time`` and
``score`` are the JSONL's numbers as float64, so a reader sees the JSONL's values
(``0.3``, not float32's ``0.30000001192...``).

Each file is written as the hidden ``.NAME.parquet.partial`` and renamed when complete,
so ``DIR/**/*.parquet`` only ever matches whole files and a reader of the folder
(pyarrow, pandas: names starting with ``.`` are passed over) never opens a half one,
even one a killed run left. A file whose Parquet is newer than its JSONL is left as it
is (a rerun adds what is new). Each file's schema metadata names the JSONL it was
built from (``camvideo.jsonl``: its real path): a file another output folder's JSONL
(one that still exists) built is never replaced, the run refused with one line
(``OutputError``, exit status 2); so is a file there that camvideo did not write (not
Parquet with the dataset's columns: a user's own). Each file is locked while it is checked and written
(``OutputLock.for_file``, as every output is): two runs that share ``DIR`` from
different output folders write the same file only when their data collide there
(the same path in both), and the second is then refused with one line naming the
holder (``OutputError``, exit status 2), leaving the holder's ``.partial`` alone;
waiting would only have it replace the first run's data with its own. DuckDB,
pandas, Polars and Ray Data read the folder as one table (docs/batch.md has the
query "which files contain class X, from when to when").
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from camvideo.errors import CamvideoError, OutputError, reason

SOURCE_KEY = b"camvideo.jsonl"  # the schema's metadata: the JSONL a file was built from (its real path)
COLUMNS = ("file", "frame", "time", "width", "height", "rank", "class_id", "label", "score", "x1", "y1", "x2", "y2")


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise CamvideoError("--dataset needs pyarrow: pip install 'camvideo[dataset]'") from None
    return pyarrow


def _schema(pa):
    return pa.schema([("file", pa.string()), ("frame", pa.int64()), ("time", pa.float64()), ("width", pa.int32()),
                      ("height", pa.int32()), ("rank", pa.int16()), ("class_id", pa.int32()), ("label", pa.string()),
                      ("score", pa.float64()), ("x1", pa.int32()), ("y1", pa.int32()), ("x2", pa.int32()),
                      ("y2", pa.int32())])


def rows(jsonl: str | Path, rel: str) -> dict[str, list]:
    """The columns of one file's JSONL: one row per detection."""
    columns: dict[str, list] = {name: [] for name in COLUMNS}
    with open(jsonl, encoding="utf-8") as file:
        for line in file:
            if not line.strip():
                continue
            frame = json.loads(line)
            for det in frame["detections"]:
                box = det.get("box") or (None,) * 4
                values = (rel, frame["frame"], frame["time"], frame["width"], frame["height"], det["rank"],
                          det["class_id"], det["label"], det["score"], *box)
                for name, value in zip(COLUMNS, values):
                    columns[name].append(value)
    return columns


def partial_path(target: Path) -> Path:
    """Where ``target`` is written before it is renamed: hidden, ``.NAME.parquet.partial``."""
    return target.with_name(f".{target.name}.partial")


def write_file(jsonl: str | Path, rel: str, target: Path) -> None:
    """``jsonl`` as the Parquet file ``target``, complete under its name or absent (the
    caller holds ``target``'s lock)."""
    pa = _pyarrow()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        schema = _schema(pa).with_metadata({SOURCE_KEY: os.fsencode(Path(jsonl).resolve())})
        table = pa.table(rows(jsonl, rel), schema=schema)
        pa.parquet.write_table(table, partial)
        with open(partial, "rb") as file:
            os.fsync(file.fileno())
        os.replace(partial, target)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        partial.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {reason(exc)}") from None


def build(output_dir: str | Path, dataset: str | Path, records: list[dict], what: str = "") -> tuple[int, int]:
    """Write or refresh ``dataset`` from the summary ``records`` of ``output_dir``:
    (files written, files already up to date). Each file is locked while it is checked
    and written (``what``: this run, for a refused run's message); ``OutputError`` when
    another run is writing one or another output folder's data is there (the files
    before it are complete)."""
    from camvideo.batch.lock import OutputLock

    _pyarrow()
    written = fresh = 0
    for rel, jsonl, target in _targets(Path(output_dir).resolve(), Path(dataset).resolve(), records):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)  # the lock file goes beside it
        except OSError as exc:
            raise OutputError(f"cannot write {target}: {reason(exc)}") from None
        with OutputLock.for_file(target, what, "--dataset"):
            if _up_to_date(target, jsonl):
                fresh += 1
                continue
            write_file(jsonl, rel, target)
            written += 1
    return written, fresh


def _up_to_date(target: Path, jsonl: Path) -> bool:
    """Is ``target`` built from ``jsonl`` (a file from before the source was recorded:
    assumed so) and not older than it? ``OutputError`` when it holds the data of another
    output folder's JSONL that still exists (the two collide there), or when it is no
    camvideo dataset file (a user's own, replaced by nothing)."""
    if not os.path.lexists(target):
        return False
    if not _is_dataset_file(target):
        raise OutputError(f"{target} is not a file of a camvideo dataset (not Parquet with its columns): "
                          "camvideo does not replace it; move it away or give another --dataset")
    source, mine = built_from(target), str(jsonl.resolve())
    if source not in (None, mine) and os.path.exists(source):
        raise OutputError(f"{target} holds the data of {source} (another output folder's); "
                          "give each output folder its own --dataset")
    return source in (None, mine) and target.stat().st_mtime_ns >= jsonl.stat().st_mtime_ns


def _is_dataset_file(target: Path) -> bool:
    """Is ``target`` a Parquet file with the dataset's columns (one camvideo wrote)?"""
    pa = _pyarrow()
    if not target.is_file():
        return False
    try:
        return tuple(pa.parquet.read_schema(target).names) == COLUMNS
    except (OSError, pa.ArrowException):
        return False


def built_from(target: Path) -> str | None:
    """The JSONL the Parquet file ``target`` was built from (its metadata's ``SOURCE_KEY``),
    or None where it does not say or cannot be read."""
    pa = _pyarrow()
    try:
        metadata = pa.parquet.read_schema(target).metadata or {}
    except (OSError, pa.ArrowException):
        return None
    return os.fsdecode(metadata[SOURCE_KEY]) if metadata.get(SOURCE_KEY) else None


def _targets(output_dir: Path, dataset: Path, records: list[dict]):
    """(rel, its JSONL, its Parquet file) of each file done in ``records``, by rel: the
    JSONL files that exist inside ``output_dir``."""
    last: dict[str, dict] = {}
    for record in records:
        if record.get("status") in ("done", "skipped") and isinstance(record.get("rel"), str):
            last[record["rel"]] = record
        elif isinstance(record.get("rel"), str):
            last.pop(record["rel"], None)
    for rel, record in sorted(last.items()):
        for output in record.get("outputs") or ():
            path = Path(output)
            if path.suffix != ".jsonl" or not path.is_file():
                continue
            try:
                inside = path.resolve().relative_to(output_dir)
            except ValueError:
                continue
            yield rel, path, dataset / inside.with_suffix(".parquet")
