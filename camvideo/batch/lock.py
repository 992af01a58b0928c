"""One run per output folder: ``OutputLock``, an exclusive lock the driver holds.

``DIR/.camvideo-run.lock`` is locked (``fcntl.flock``; ``msvcrt.locking`` on
Windows) for as long as the run lasts and holds who has it (host:pid, since when,
the command). It is removed when the run ends, whatever ends it (done, an error, a
stop signal, a second signal's abort: ``runtime.signals.before_abort``), by the run
that holds it and only while it holds it, and only when the name is still its own
file: never a lock file of a run that started since. A run that opened the file
before it went locks it afterwards, sees that the name is gone, and locks a new
one (``_locked``). The operating system releases the lock when its process ends,
even by SIGKILL, which leaves the file: a stale file never blocks a rerun, which
removes it at its end. The workers do not inherit it
(spawned processes), and a worker dies with its driver (``camvideo.batch.local``: an
aborting driver first tells its workers, which remove the per-file locks they hold; a
worker or Ray actor that died, or that an abort killed, leaves its lock files to the
driver, which removes them once free: ``remove_if_free``),
so a second run can never rename a first run's growing ``.partial`` file, nor the
other way round. A second run into a folder in use stops with an ``OutputError``
that says who holds it (exit status 2).

``OutputLock.for_file(path)`` is the same lock for one output file (a single-file
``camvideo process``'s recording and export, ``camvideo image``'s files, a batch
job's outputs, a ``--dataset`` file): ``DIR/.NAME.camvideo-lock``, held from before the run looks at its
``.partial`` files until its outputs are renamed, and removed when released, as the
folder's is.
A second run writing the same file stops at once with an ``OutputError`` naming
the holder, before it renames or writes anything.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from camvideo.errors import OutputError, reason

LOCK_NAME = ".camvideo-run.lock"
FILE_LOCK_SUFFIX = ".camvideo-lock"


class OutputLock:
    """The output folder's lock, a context manager: ``OutputError`` when another
    run holds it."""

    def __init__(self, folder: str | Path, what: str = "") -> None:
        self.path = Path(folder) / LOCK_NAME
        self.what = what
        self.busy = f"{self.path.parent} is in use by another camvideo run"
        self.advice = "give another --output-dir"
        self._fd: int | None = None
        self._forget: Callable[[], None] | None = None  # takes the abort's removal back

    @classmethod
    def for_file(cls, path: str | Path, what: str = "", option: str = "-o") -> OutputLock:
        """The lock of the one output file ``path`` (``option`` names it in the refusal):
        ``DIR/.NAME.camvideo-lock``, removed when released."""
        path = Path(path)
        lock = cls(path.parent, what)
        lock.path = path.parent / f".{path.name}{FILE_LOCK_SUFFIX}"
        lock.busy = f"{path} is being written by another camvideo run"
        lock.advice = f"give another {option}"
        return lock

    def __enter__(self) -> OutputLock:
        fd = self._locked()
        from camvideo.batch.summary import timestamp

        text = f"{socket.gethostname()}:{os.getpid()} since {timestamp()}: {self.what}".strip()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, text.replace("\n", " ").encode("utf-8", "replace") + b"\n", 0)
        except OSError:
            pass  # the lock holds; only the holder's description is missing
        self._fd = fd
        from camvideo.runtime.signals import before_abort

        self._forget = before_abort(lambda: _unlink_own(fd, self.path))  # os._exit skips __exit__
        return self

    def _locked(self) -> int:
        """The lock file, opened and locked; ``OutputError`` naming the holder when another run
        has it. A lock file removed or replaced since it was opened (its holder released it)
        is opened again."""
        for _ in range(100):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"cannot lock {self.path}: {reason(exc)}") from None
            if not _try_lock(fd):
                holder = _read(fd)
                os.close(fd)
                raise OutputError(f"{self.busy} ({holder or 'unknown'}); wait for it to end, or {self.advice}")
            if _same_file(fd, self.path):
                return fd
            os.close(fd)  # the file its holder removed on release: lock the one there now
        raise OutputError(f"cannot lock {self.path}: other runs keep replacing it")

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            if self._forget is not None:
                self._forget()
                self._forget = None
            _unlink_own(fd, self.path)  # while still locked: a run that opened it meanwhile opens again
            os.close(fd)  # releases the lock


def remove_if_free(path: str | Path) -> bool:
    """Remove the lock file ``path`` when no process holds its lock (one left by a
    process that died: SIGKILL, a Ray actor lost); True when removed. Taken first, as a
    new run would take it, so a lock that a live run holds is never removed."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False  # gone already, or not ours to open
    try:
        if not _try_lock(fd) or not _same_file(fd, Path(path)):
            return False
        _unlink_own(fd, Path(path))
        return not _same_file(fd, Path(path))
    finally:
        os.close(fd)


def _unlink_own(fd: int, path: Path) -> None:
    """Remove ``path`` if it is still the lock file open as ``fd`` (one that replaced it,
    after someone removed ours, is another run's)."""
    if _same_file(fd, path):
        try:
            os.unlink(path)
        except OSError:
            pass


def _same_file(fd: int, path: Path) -> bool:
    """Is ``path`` still the file open as ``fd``?"""
    try:
        st, now = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (now.st_dev, now.st_ino)


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
