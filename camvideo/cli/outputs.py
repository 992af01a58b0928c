"""The side files a command writes besides recordings and exports (``--json``,
eval's summaries): a failure is one ``OutputError`` line naming the file; whether
an output's folder can take it (``folder_problem``, ``check_folders``;
``check_side_file`` for ``--json FILE``) and whether a
recording's and an export's names are ones they take (``check_names``), said early. That no
output is an input is ``camvideo.video.outputs.check_outputs``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from camvideo.errors import OutputError, reason


@contextlib.contextmanager
def whole_file(path: str | Path) -> Iterator[Path]:
    """A file beside ``path`` to write into, that takes ``path``'s name only once the
    block has ended without an error: an earlier ``path`` stays as it was until then,
    and a run killed while writing leaves it whole (the hidden ``.NAME.PID.partial``
    at most). A path that exists and is no regular file (a FIFO, ``/dev/stdout``) is
    written in place."""
    path = Path(path)
    if path.exists() and not path.is_file():
        yield path
        return
    temp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield temp
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_file(path: str | Path, write: Callable[[IO[str]], object]) -> None:
    """Write ``path`` as text (UTF-8, no newline translation) with ``write(f)``; it
    takes its name only when written whole (``whole_file``)."""
    try:
        with whole_file(path) as target, target.open("w", newline="", encoding="utf-8") as f:
            write(f)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}") from None


def write_text(path: str | Path, text: str) -> None:
    write_file(path, lambda f: f.write(text))


def folder_problem(folder: Path) -> str | None:
    """Why no file can be written into ``folder`` (missing, a file, read-only, no
    permission), for a line said before the model loads; None when it can."""
    if folder.is_dir():
        return None if os.access(folder, os.W_OK) else f"the folder {folder} is not writable (read-only, or no permission)"
    return f"{folder} is a file, not a folder" if folder.exists() else f"the folder {folder} does not exist"


def check_side_file(path: str | None) -> None:
    """``--json FILE`` checked before the model loads: an ``OutputError`` when FILE is a
    folder or its folder cannot take it. None and ``-`` (stdout) pass."""
    if path is None or path == "-":
        return
    if Path(path).is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    problem = folder_problem(Path(path).parent)
    if problem:
        raise OutputError(f"cannot write {path}: {problem}")


def check_folders(paths) -> None:
    """An ``OutputError`` for the first of ``paths`` (None skipped) whose folder cannot take it,
    said before a model loads or a source opens."""
    for path in (Path(p) for p in paths if p is not None and "://" not in str(p)):
        problem = folder_problem(path.parent)
        if problem:
            raise OutputError(f"cannot write {path}: {problem}")


def check_names(recording, export) -> None:
    """An ``OutputError`` for a recording (None skipped) that is a folder or does not end
    in .mkv/.mp4, or an export that does not end in .jsonl/.csv: the lines the recorder
    and the exporter say when they open, said before the model loads."""
    from camvideo.video.recorder import CONTAINERS  # no PyAV, no torch

    if recording is not None and "://" not in str(recording):
        path = Path(recording)
        if path.is_dir():
            raise OutputError(f"{path}: is a folder; give a file name ending in .mkv or .mp4")
        if path.suffix.lower() not in CONTAINERS:
            raise OutputError(f"{path}: a recording must be .mkv (default) or .mp4 (fragmented); "
                              f"got {path.suffix or 'no suffix'!r}")
    suffix = Path(export).suffix.lower() if export is not None else ".jsonl"
    if suffix not in (".jsonl", ".csv"):
        raise OutputError(f"{Path(export)}: an export must end in .jsonl or .csv, got {suffix or 'no suffix'!r}")
