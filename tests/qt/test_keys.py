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
