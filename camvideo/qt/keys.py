"""The window's keys: one table, installed as window-wide shortcuts.

Space pause, R record, S snapshot, F full screen, Esc leave full screen (else
cancel an open), Ctrl+O open a file, Ctrl+Shift+O a folder of images, 1-9 the
heat map of that rank (Top-k). The buttons take no focus, so these keys reach
the window unless a text field has the focus (a click on the video takes it back).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence


def shortcut_table(w) -> list[tuple[str, Callable]]:
    """(key sequence, slot) for main window ``w``."""
    return [
        ("Space", w.toggle_pause),
        ("R", lambda: w.toggle_recording(not w.session.recording)),
        ("S", w.snapshot),
        ("F", w.toggle_full_screen),
        ("Esc", w.escape),
        ("Ctrl+O", w.open_file_dialog),
        ("Ctrl+Shift+O", w.open_folder_dialog),
        *((str(n), lambda _checked=False, n=n: w.show_heatmap_of(n)) for n in range(1, 10)),
    ]


def install_shortcuts(w) -> list[QAction]:
    """Add the table's keys to ``w`` as window-wide actions; returns them."""
    actions = []
    for keys, slot in shortcut_table(w):
        action = QAction(w)
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        w.addAction(action)
        actions.append(action)
    return actions
