"""What every tqdm bar of camvideo needs from the stream it writes to: writes
that never fail a run, whether it is a terminal, and how wide the bar may be.

The command line's bar (``camvideo.cli.progress``) and a batch's bars
(``camvideo.batch.progress``) both draw with them. No tqdm import here.
"""

from __future__ import annotations

import os


class QuietStream:
    """A stream whose failed writes are dropped (tqdm itself drops only EIO): a
    terminal that went away (SIGHUP, ssh gone) makes the bar go quiet, not the run fail."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> None:
        try:
            self._stream.write(text)
        except (OSError, ValueError):
            pass

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def is_terminal(stream) -> bool:
    """Whether ``stream`` is a terminal (False for a closed or odd stream)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def columns(stream) -> int | None:
    """The terminal's width less one (tqdm's own rule), or None (no limit) where it
    says 0 (a new pseudo-terminal) or has none: tqdm would draw nothing."""
    try:
        width = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None
    return width - 1 if width > 1 else None
