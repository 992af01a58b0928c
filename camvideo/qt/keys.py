"""The window's keys: one table, installed as window-wide shortcuts, and the arrows.

Space pause, R record, S snapshot, F full screen, Esc leave full screen (else
cancel an open), Ctrl+O open a file, Ctrl+Shift+O a folder of images, 1-9 the
heat map of that rank (Top-k), P the side panel. The buttons take no focus, so
these keys reach the window unless a text field has the focus (a click on the
video takes it back).

← / → (``ArrowKeys``) step one frame back / forward while paused, seek 5 s while
a file plays, and go to the previous / next image of a slideshow, whatever has
the focus (the seek bar, a list, a check box), except where they change a value:
a text field (they move its cursor) and a panel slider (threshold, opacity: they
move it by 1, as in any Qt app). They are caught before the focused widget sees
them (an event filter on the application).

The buttons and check boxes are reached with Tab (a click leaves the focus where
it was, so the keys above stay the window's); one that has the focus keeps Space
(it presses it, as anywhere else) and a button takes Enter (``ButtonKeys``).
"""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QEvent, QObject, Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTextEdit,
    QWidget,
)

from camvideo.qt.widgets import SeekSlider


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
        ("P", w.toggle_panel),
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


def typing_in(widget: QWidget | None) -> bool:
    """Whether ``widget`` takes typed text (the arrows move its cursor there)."""
    if isinstance(widget, (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)):
        return True
    return isinstance(widget, QComboBox) and widget.isEditable()


def keeps_arrows(widget: QWidget | None) -> bool:
    """Whether ← / → belong to ``widget`` rather than to playback: a text field, or
    a slider that sets a value (not the seek bar, whose arrows are playback's)."""
    if typing_in(widget):
        return True
    return isinstance(widget, QAbstractSlider) and not isinstance(widget, SeekSlider)


class _WindowKeys(QObject):
    """A filter of every key event of the application for ``window``, until ``remove``."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        QApplication.instance().installEventFilter(self)

    def remove(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)


class ArrowKeys(_WindowKeys):
    """← / → for ``window`` wherever its focus is, except in a text field (see the module doc)."""

    KEYS = (Qt.Key.Key_Left, Qt.Key.Key_Right)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.KeyPress or event.key() not in self.KEYS:
            return False
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False  # Shift+→ and the like belong to the widget
        # Key events reach the window object first, then the focused widget: act on the widget's.
        if not isinstance(obj, QWidget) or obj.window() is not self.window or keeps_arrows(obj):
            return False
        self.window.playback.arrow(forward=event.key() == Qt.Key.Key_Right)
        return True


class ButtonKeys(_WindowKeys):
    """Space presses the button or check box of ``window`` that has the focus (before,
    the window's Space shortcut took it: pause), Enter / Return a push button."""

    ENTER = (Qt.Key.Key_Return, Qt.Key.Key_Enter)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress) or (
                event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            return False
        if not isinstance(obj, QAbstractButton) or not obj.hasFocus() or obj.window() is not self.window:
            return False
        if kind == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Space:
            event.accept()  # the button's own key, not the window's shortcut
            return True
        if kind == QEvent.Type.KeyPress and event.key() in self.ENTER and isinstance(obj, QPushButton):
            obj.animateClick()
            return True
        return False
