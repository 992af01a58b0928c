"""SIGINT, SIGTERM and SIGHUP as a clean stop, for ``camvideo process`` and the window.

The first stop signal asks the run to finish (the recording finalized under its
final name, the export complete); the exit status is then 128 + the signal's
number (130, 143, 129), as a shell reports a process the signal ended. A second
signal aborts at once. A signal that was ignored when camvideo started
(``nohup``, a background job) stays ignored. Qt-free: the window passes a
callback that closes it (``camvideo.qt.app.StopOnSignals``).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

# The signals that ask for a clean stop, where the platform has them (SIGHUP: not on Windows).
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


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
    second signal aborts at once: SIGINT raises ``KeyboardInterrupt`` (as Python
    does), the others take their default action and end the process. Installed
    only from the main thread (Python's rule); elsewhere a no-op. The previous
    handlers come back on exit.
    """

    def __init__(self, on_stop: Callable[[int], None] | None = None, *, armed: bool = False,
                 signals: tuple[int, ...] = STOP_SIGNALS) -> None:
        self.on_stop = on_stop
        self.signals = signals
        self.event = threading.Event()
        self.signum: int | None = None
        self._armed = armed
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

    def _handle(self, signum, _frame) -> None:
        if not self._armed:
            raise Aborted(signum)
        if self.event.is_set():
            self._abort(signum)
            return
        self.signum = signum
        self.event.set()
        if self.on_stop is not None:
            self.on_stop(signum)

    def _abort(self, signum: int) -> None:
        """The second signal: end the process now."""
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                if signal.getsignal(signum) is signal.SIG_IGN:
                    continue  # nohup, a background job: it stays ignored
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()


def say(text: str) -> None:
    """Write to stderr; a terminal that went away (SIGHUP) is no reason to lose the recording."""
    try:
        sys.stderr.write(text)
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
