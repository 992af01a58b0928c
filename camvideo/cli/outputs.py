"""The side files a command writes besides recordings and exports (``--json``,
eval's summaries): a failure is one ``OutputError`` line naming the file; whether
an output's folder can take it (``folder_problem``, ``check_folders``), said early. That no
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


def check_folders(paths) -> None:
    """An ``OutputError`` for the first of ``paths`` (None skipped) whose folder cannot take it,
    said before a model loads or a source opens."""
    for path in (Path(p) for p in paths if p is not None and "://" not in str(p)):
        problem = folder_problem(path.parent)
        if problem:
            raise OutputError(f"cannot write {path}: {problem}")
