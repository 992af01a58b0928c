"""The side files a command writes besides recordings and exports (``--json``,
eval's summaries): a failure is one ``OutputError`` line naming the file. That no
output is an input is ``camvideo.video.outputs.check_outputs``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

from camvideo.errors import OutputError, reason


def write_file(path: str | Path, write: Callable[[IO[str]], object]) -> None:
    """Open ``path`` for text (UTF-8, no newline translation) and ``write(f)``."""
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as f:
            write(f)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {reason(exc)}") from None


def write_text(path: str | Path, text: str) -> None:
    write_file(path, lambda f: f.write(text))
