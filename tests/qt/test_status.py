"""The status bar's permanent fields (offscreen, no window)."""

from __future__ import annotations

from PyQt6.QtWidgets import QStatusBar

from camvideo.qt.status import StatusLine


def test_the_device_field_is_hidden_until_a_model_is_ready(qtbot):
    bar = QStatusBar()
    qtbot.addWidget(bar)
    line = StatusLine(bar)
    bar.show()
    assert not line.device_label.isVisibleTo(bar)  # no empty bordered box while the model loads
    assert line.fps_label.isVisibleTo(bar) and line.dropped_label.isVisibleTo(bar)
    line.set_device("cpu")
    assert line.device_label.isVisibleTo(bar) and line.device_label.text() == "cpu"
    line.set_device("")
    assert not line.device_label.isVisibleTo(bar)
