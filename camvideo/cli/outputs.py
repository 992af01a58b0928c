"""The files a command writes: ``check_outputs`` (no output may be an input, or
another output) for every command, and the side files besides recordings and
exports (``--json``, eval's summaries): a failure is one ``OutputError`` line
naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from camvideo.errors import OutputError, reason
from camvideo.video.outputs import check_outputs  # noqa: F401 - the commands' import


def write_file(path: str | Path, write: Callable[[IO[str]], object]) -> None:
    """Open ``path`` for text (UTF-8, no newline translation) and ``write(f)``."""
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as f:
            write(f)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}") from None


def write_text(path: str | Path, text: str) -> None:
    write_file(path, lambda f: f.write(text))
