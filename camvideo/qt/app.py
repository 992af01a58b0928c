"""``run(...)``: the QApplication and the main window (``camvideo gui``).

Ctrl-C in the terminal (SIGINT), SIGTERM and SIGHUP close the window as its close
button does: a running recording is finalized, the settings are saved, every
thread stops; the exit status is then 128 + the signal (130, 143, 129). Without
this, Ctrl-C does nothing while Qt's event loop waits, and a SIGTERM loses the
recording's last seconds and the settings.
"""

from __future__ import annotations

import signal
import sys

from camvideo.qt import APPLICATION, ORGANIZATION

AUTO = None  # no source given: camera 0 when one opens, else the demo clip

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
WAKE_MS = 200  # Python runs signal handlers only between bytecodes: a timer wakes it while Qt waits


class StopOnSignals:
    """While active (a context manager), the stop signals close ``window``;
    ``received`` holds the signals that came. The previous handlers come back
    on exit. Only the main thread may install signal handlers."""

    def __init__(self, window) -> None:
        self.window = window
        self.received: list[int] = []
        self._previous: dict[int, object] = {}
        self._timer = None

    def _handle(self, signum, _frame) -> None:
        from PyQt6.QtCore import QTimer

        self.received.append(signum)
        if len(self.received) == 1:
            QTimer.singleShot(0, self.window.close)

    def __enter__(self) -> StopOnSignals:
        from PyQt6.QtCore import QTimer

        for sig in STOP_SIGNALS:
            handler = signal.getsignal(sig)
            if sig == getattr(signal, "SIGHUP", None) and handler == signal.SIG_IGN:
                continue  # under nohup: SIGHUP stays ignored
            self._previous[sig] = signal.signal(sig, self._handle)
        self._timer = QTimer()
        self._timer.timeout.connect(lambda: None)
        self._timer.start(WAKE_MS)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._timer is not None:
                self._timer.stop()
        finally:
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)
            self._previous.clear()

    @property
    def exit_status(self) -> int | None:
        """128 + the first signal received, as a shell reports it; None if none came."""
        return 128 + int(self.received[0]) if self.received else None


def run(source: str | None = AUTO, model: str | None = None, device: str = "auto", loop: bool = False,
        weights: str | None = None) -> int:
    from PyQt6.QtWidgets import QApplication

    from camvideo.qt.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow(source, model=model, device=device, loop=loop, weights=weights)
    window.show()
    with StopOnSignals(window) as stop:
        status = app.exec()
    return stop.exit_status if stop.exit_status is not None else status
