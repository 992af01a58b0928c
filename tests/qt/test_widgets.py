"""The panel's sliders and the seek bar: a click on the groove jumps to the spot
clicked, on every one of them (a plain QSlider moves one page towards it)."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QPoint, Qt

from camvideo.qt.widgets import SeekSlider, slider


@pytest.mark.parametrize("make", [lambda: slider(20), SeekSlider], ids=["panel slider", "seek bar"])
def test_a_click_on_the_groove_jumps_there(qtbot, make):
    s = make()
    qtbot.addWidget(s)
    s.resize(400, 24)
    s.show()
    qtbot.waitExposed(s)
    qtbot.mouseClick(s, Qt.MouseButton.LeftButton, pos=QPoint(int(s.width() * 0.8), s.height() // 2))
    fraction = s.value() / s.maximum()
    assert 0.75 <= fraction <= 0.85  # where it was clicked, not one page (10%) on


def test_the_seek_bar_asks_once_for_the_spot_clicked(qtbot):
    s = SeekSlider()
    qtbot.addWidget(s)
    s.resize(400, 24)
    s.show()
    qtbot.waitExposed(s)
    asked = []
    s.seek_requested.connect(asked.append)
    qtbot.mouseClick(s, Qt.MouseButton.LeftButton, pos=QPoint(100, s.height() // 2))
    assert len(asked) == 1 and 0.2 <= asked[0] <= 0.3
