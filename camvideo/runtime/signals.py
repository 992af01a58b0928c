"""SIGINT, SIGTERM and SIGHUP as a clean stop, for ``camvideo process``, a batch and the window.

The first stop signal asks the run to finish (the recording finalized under its
final name, the export complete); the exit status is then 128 + the signal's
number (130, 143, 129), as a shell reports a process the signal ended. A second
signal aborts at once, with 128 + its number: it never raises an exception, for
the worker threads are inside torch and FFmpeg then, and a ``KeyboardInterrupt``
unwinding the main thread under them ended the process with SIGABRT ("terminate
called without an active exception") or SIGSEGV. Before it exits, the abort
closes the outputs it was given (``sinks``: anything with ``close_now()``, such as
the command line's ``camvideo.cli.signals.GuardedSinks``) between two frames, if it can
within a second; what it cannot close stays as its ``.partial`` file. Then it runs
what was registered with ``before_abort`` (the run's lock files removed). A signal
that was ignored when camvideo started (``nohup``, a background job) stays
ignored. Qt-free and front-end neutral: the window passes a callback that closes
it (``camvideo.qt.app.StopOnSignals``).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

# The signals that ask for a clean stop, where the platform has them (SIGHUP: not on Windows).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


_BEFORE_ABORT: dict[int, Callable[[], None]] = {}  # what an abort does before os._exit (lock files removed)


def before_abort(action: Callable[[], None]) -> Callable[[], None]:
    """Have ``action`` run when a signal aborts the process (``os._exit`` runs no
    ``finally`` nor ``__exit__``): a run's lock files removed. Returns the function that
    takes it back. The actions run last-registered first (as ``atexit``'s: a batch's
    workers are told to end before the folder's lock goes). An action that fails is
    passed over."""
    key = id(action)
    _BEFORE_ABORT[key] = action
    return lambda: _BEFORE_ABORT.pop(key, None)


def _run_before_abort() -> None:
    for action in reversed(list(_BEFORE_ABORT.values())):
        try:
            action()
        except Exception:  # noqa: BLE001 - the process ends now whatever an action does
            pass


class Closable(Protocol):
    """What an abort closes: every output of the run, between two frames when it can."""

    def close_now(self) -> bool: ...


class Aborted(KeyboardInterrupt):
    """A stop signal came before the run was armed: there is nothing to finish yet."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """While active (a context manager), the stop signals ask for a clean stop.

    Before ``arm()`` (``camvideo process`` while the model loads) a signal raises
    :class:`Aborted`: there is no frame yet, unwinding removes what was opened.
    Once armed (``armed=True``: at once), the first signal sets ``event``, records
    ``signum`` and calls ``on_stop(signum)``; the caller then stops its run. A
    second signal (also one that comes while an ``Aborted`` unwinds) aborts: it
    closes ``sinks`` if it can, then ends the process with ``os._exit(128 +
    signum)``. Installed only from the main thread (Python's rule); elsewhere a
    no-op. The previous handlers come back on exit; with ``ending`` (the command
    line: the process ends after the run) a signal after the run instead ends the
    process at once, quietly, with 128 + its number: the outputs are complete then.
    """

    def __init__(self, on_stop: Callable[[int], None] | None = None, *, armed: bool = False,
                 sinks: Closable | None = None, signals: tuple[int, ...] = STOP_SIGNALS,
                 ending: bool = False) -> None:
        self.on_stop = on_stop
        self.ending = ending
        self.sinks = sinks
        self.signals = signals
        self.event = threading.Event()
        self.signum: int | None = None
        self._armed = armed
        self._unwinding = False
        self._previous: dict[int, object] = {}

    @property
    def exit_status(self) -> int | None:
        """128 + the first signal received, as a shell reports it; None if none came."""
        return 128 + int(self.signum) if self.signum is not None else None

    @property
    def exit_code(self) -> int:
        """``exit_status``, 0 when no signal came."""
        return self.exit_status or 0

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum is not None else ""

    def arm(self) -> None:
        self._armed = True
        self._unwinding = False

    def _handle(self, signum, _frame) -> None:
        if self.event.is_set() or self._unwinding:
            self._abort(signum)
            return
        if not self._armed:
            self._unwinding = True  # a second signal while Aborted unwinds: abort
            raise Aborted(signum)
        self.signum = signum
        self.event.set()
        if self.on_stop is not None:
            self.on_stop(signum)

    def _abort(self, signum: int) -> None:
        """The second signal: close what can be closed at once, then end the process
        without unwinding a thread (``os._exit``: no exception, no interpreter shutdown
        under threads that are inside torch or FFmpeg)."""
        try:
            say_line(f"camvideo: {signal.Signals(signum).name} again: aborting")
            if self.sinks is not None:
                self.sinks.close_now()
            _run_before_abort()
        finally:
            os._exit(128 + int(signum))

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # nohup, a background job: it stays ignored
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        # ``ending``: the process ends after this run, so a signal from here on ends it
        # at once. Python's own SIGINT handler would raise KeyboardInterrupt wherever
        # the interpreter is, even in its shutdown's thread joins ("Exception ignored
        # ... Traceback": CI saw it when Ctrl-C twice came 50 ms apart).
        for signum, previous in self._previous.items():
            signal.signal(signum, _exit_now if self.ending else (previous if previous is not None else signal.SIG_DFL))
        self._previous.clear()


def _exit_now(signum, _frame) -> None:
    """A signal after the run of a process that ends with it (``StopSignals.ending``):
    the outputs are complete; end the process quietly, with 128 + the signal."""
    say_line(f"camvideo: {signal.Signals(signum).name} again: exiting")
    _run_before_abort()
    os._exit(128 + int(signum))


def abort_now(status: int) -> None:
    """End the process at once with ``status``, after what was registered with
    ``before_abort`` (a batch worker told by its aborting driver: its lock files go)."""
    _run_before_abort()
    os._exit(status)


def say_line(text: str) -> None:
    """Write ``text`` as one line of its own on stderr: after a line break where
    stderr is a terminal (a progress bar may be drawn mid-line there), not where it
    is a file or a pipe (a log gets no blank line)."""
    from camvideo.progress import is_terminal

    say(("\n" if is_terminal(sys.stderr) else "") + text + "\n")


def say(text: str) -> None:
    """Write to stderr; a terminal that went away (SIGHUP) is no reason to lose the recording."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
