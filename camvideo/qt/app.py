"""``run(...)``: the QApplication and the main window (``camvideo gui``).

Ctrl-C in the terminal (SIGINT), SIGTERM and SIGHUP close the window as its close
button does: a running recording is finalized, the settings are saved, every
thread stops; the exit status is then 128 + the signal (130, 143, 129). A second
signal ends the process at once, with the same status. Without
this, Ctrl-C does nothing while Qt's event loop waits, and a SIGTERM loses the
recording's last seconds and the settings.
"""

from __future__ import annotations

import sys

from camvideo.qt import APPLICATION, ORGANIZATION
from camvideo.runtime.signals import StopSignals

AUTO = None  # no source given: camera 0 when one opens, else the demo clip

WAKE_MS = 200  # Python runs signal handlers only between bytecodes: a timer wakes it while Qt waits


class StopOnSignals(StopSignals):
    """While active (a context manager), the first stop signal closes ``window``
    (``camvideo.runtime.signals.StopSignals`` with a callback that closes it, and a
    timer that lets Python run the handler while Qt's event loop waits). A second
    signal ends the process at once (a close that hangs), with 128 + its number; a
    recording then stays as its ``.partial`` file, playable up to its last fragment."""

    def __init__(self, window) -> None:
        super().__init__(self._close, armed=True)
        self.window = window
        self._timer = None

    def _close(self, _signum: int) -> None:
        from PyQt6.QtCore import QTimer

        QTimer.singleShot(0, self.window.close)

    def __enter__(self) -> StopOnSignals:
        from PyQt6.QtCore import QTimer

        super().__enter__()
        self._timer = QTimer()
        self._timer.timeout.connect(lambda: None)
        self._timer.start(WAKE_MS)
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._timer is not None:
                self._timer.stop()
        finally:
            super().__exit__(*exc)


def run(source: str | None = AUTO, model: str | None = None, device: str = "auto", loop: bool = False,
        model_options: dict | None = None, runtime: str | None = None) -> int:
    from PyQt6.QtWidgets import QApplication

    from camvideo.qt.window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow(source, model=model, device=device, loop=loop, model_options=model_options,
                        runtime=runtime)
    window.show()
    with StopOnSignals(window) as stop:
        status = app.exec()
    return stop.exit_status if stop.exit_status is not None else status
