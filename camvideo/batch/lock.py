"""One run per output folder: ``OutputLock``, an exclusive lock the driver holds.

``DIR/.camvideo-run.lock`` is locked (``fcntl.flock``; ``msvcrt.locking`` on
Windows) for as long as the run lasts and holds who has it (host:pid, since when,
the command). The operating system releases the lock when its process ends, even
by SIGKILL: a stale file never blocks a rerun. The workers do not inherit it
(spawned processes), and a worker dies with its driver (``camvideo.batch.local``),
so a second run can never rename a first run's growing ``.partial`` file, nor the
other way round. A second run into a folder in use stops with an ``OutputError``
that says who holds it (exit status 2).
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from camvideo.errors import OutputError, reason

LOCK_NAME = ".camvideo-run.lock"


class OutputLock:
    """The output folder's lock, a context manager: ``OutputError`` when another
    run holds it."""

    def __init__(self, folder: str | Path, what: str = "") -> None:
        self.path = Path(folder) / LOCK_NAME
        self.what = what
        self._fd: int | None = None

    def __enter__(self) -> OutputLock:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise OutputError(f"cannot lock {self.path}: {reason(exc)}") from None
        if not _try_lock(fd):
            holder = _read(fd)
            os.close(fd)
            raise OutputError(f"{self.path.parent} is in use by another camvideo run ({holder or 'unknown'}); "
                              "wait for it to end, or give another --output-dir")
        from camvideo.batch.summary import timestamp

        text = f"{socket.gethostname()}:{os.getpid()} since {timestamp()}: {self.what}".strip()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.replace("\n", " ").encode("utf-8", "replace") + b"\n", 0)
        except OSError:
            pass  # the lock holds; only the holder's description is missing
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # releases the lock; the file stays (removing it would race a new run)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - not run in CI
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            return True
        except OSError:
            return False
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 500, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""
