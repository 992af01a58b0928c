"""``run(...)``: the QApplication and the main window (``camvideo gui``)."""

from __future__ import annotations

import sys

from . import APPLICATION, ORGANIZATION

AUTO = None  # no source given: camera 0 when one opens, else the demo clip


def run(source: str | None = AUTO, model: str | None = None, device: str = "auto", loop: bool = False,
        weights: str | None = None) -> int:
    from PyQt6.QtWidgets import QApplication

    from .window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    window = MainWindow(source, model=model, device=device, loop=loop, weights=weights)
    window.show()
    return app.exec()
