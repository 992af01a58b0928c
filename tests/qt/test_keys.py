"""← / → : playback's wherever the focus is, except where they change a value
(a text field, a panel slider), without a whole window: a bare widget whose
``playback`` notes the arrows it gets."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QCheckBox, QLineEdit, QVBoxLayout, QWidget

from camvideo.qt.keys import ArrowKeys, keeps_arrows
from camvideo.qt.widgets import SeekSlider, slider


class Playback:
    def __init__(self) -> None:
        self.arrows: list[bool] = []

    def arrow(self, forward: bool) -> None:
        self.arrows.append(forward)


@pytest.fixture
def window(qtbot):
    w = QWidget()
    w.playback = Playback()
    layout = QVBoxLayout(w)
    w.seek, w.threshold, w.check, w.field = SeekSlider(), slider(20), QCheckBox("boxes"), QLineEdit("abc")
    for child in (w.seek, w.threshold, w.check, w.field):
        layout.addWidget(child)
    qtbot.addWidget(w)
    keys = ArrowKeys(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    keys.remove()


def test_the_arrows_step_playback_from_the_seek_bar_and_a_check_box(qtbot, window):
    qtbot.keyClick(window.seek, Qt.Key.Key_Right)
    qtbot.keyClick(window.check, Qt.Key.Key_Left)
    assert window.playback.arrows == [True, False]
    assert window.seek.value() == 0  # the seek bar itself did not move: playback moves it


def test_a_focused_panel_slider_moves_by_its_arrows_and_playback_does_not(qtbot, window):
    qtbot.keyClick(window.threshold, Qt.Key.Key_Right)
    qtbot.keyClick(window.threshold, Qt.Key.Key_Right)
    qtbot.keyClick(window.threshold, Qt.Key.Key_Left)
    assert window.threshold.value() == 21
    qtbot.keyClick(window.field, Qt.Key.Key_Left)  # a text field's cursor
    assert window.field.cursorPosition() == 2
    assert window.playback.arrows == []


def test_shift_arrows_belong_to_the_widget(qtbot, window):
    qtbot.keyClick(window.seek, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    assert window.playback.arrows == []


def test_keeps_arrows_says_whose_they_are(qtbot, window):
    assert keeps_arrows(window.threshold) and keeps_arrows(window.field)
    assert not keeps_arrows(window.seek) and not keeps_arrows(window.check) and not keeps_arrows(None)


@pytest.fixture
def buttons(qtbot):
    """A window with a Space shortcut (pause), a push button and a check box made as the panel makes them."""
    from PyQt6.QtGui import QAction, QKeySequence

    from camvideo.qt.keys import ButtonKeys
    from camvideo.qt.widgets import button

    w = QWidget()
    w.paused, w.clicked = [], []
    space = QAction(w)
    space.setShortcut(QKeySequence("Space"))
    space.triggered.connect(lambda: w.paused.append(True))
    w.addAction(space)
    layout = QVBoxLayout(w)
    w.demo, w.check = button("Demo", "play the demo clip"), QCheckBox("Boxes")
    w.check.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # as boxes.OverlayBox makes its check boxes
    w.demo.clicked.connect(lambda: w.clicked.append("demo"))
    w.field = QLineEdit()
    for child in (w.field, w.demo, w.check):
        layout.addWidget(child)
    qtbot.addWidget(w)
    keys = ButtonKeys(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    keys.remove()


def test_tab_reaches_a_button_and_space_or_enter_presses_it_not_the_windows_space(qtbot, buttons):
    """Before, the panel's buttons took no focus: URL…, Demo, Folder…, Scan file and the
    check boxes could not be used without a mouse."""
    buttons.activateWindow()
    buttons.field.setFocus()
    qtbot.keyClick(buttons.field, Qt.Key.Key_Tab)
    qtbot.waitUntil(buttons.demo.hasFocus)
    qtbot.keyClick(buttons.demo, Qt.Key.Key_Space)
    qtbot.keyClick(buttons.demo, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(buttons.clicked) == 2)
    qtbot.keyClick(buttons.demo, Qt.Key.Key_Tab)
    qtbot.waitUntil(buttons.check.hasFocus)
    qtbot.keyClick(buttons.check, Qt.Key.Key_Space)
    assert buttons.check.isChecked() and buttons.paused == []
    qtbot.mouseClick(buttons.demo, Qt.MouseButton.LeftButton)  # a click: the keys stay where they were
    assert buttons.check.hasFocus() and buttons.clicked == ["demo"] * 3


def test_every_button_and_check_box_of_the_panel_is_reached_with_tab(qtbot):
    from PyQt6.QtWidgets import QAbstractButton

    from camvideo.qt.panel import ControlPanel

    panel = ControlPanel(["lite0"], [])
    qtbot.addWidget(panel)
    found = panel.findChildren(QAbstractButton)
    assert len(found) >= 15
    assert all(b.focusPolicy() == Qt.FocusPolicy.TabFocus for b in found), [
        b.text() for b in found if b.focusPolicy() != Qt.FocusPolicy.TabFocus]
