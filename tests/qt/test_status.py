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


def test_a_message_longer_than_the_bar_s_room_ends_in_an_ellipsis_and_a_short_one_is_kept(qtbot):
    """At 1024 px the banner's error, repeated in the status bar, stopped mid-word
    ("…; check the") under the permanent fields, with nothing to say it went on."""
    from PyQt6.QtWidgets import QMainWindow

    from camvideo.qt.status import say

    w = QMainWindow()
    qtbot.addWidget(w)
    line = StatusLine(w.statusBar())
    line.fps_label.setText("12.5 fps")
    line.latency_label.setText("latency 128 ms")
    line.dropped_label.setText("dropped 126")
    w.resize(1024, 600)
    w.show()
    qtbot.waitExposed(w)
    long = ("error: http://127.0.0.1:8093/nope.mjpg: cannot open the stream (Server returned 404 Not Found); "
            "check the address and the network")
    say(w.statusBar(), long)
    shown = w.statusBar().currentMessage()
    room = w.statusBar().width() - sum(f.width() for f in (line.fps_label, line.latency_label, line.dropped_label))
    assert shown.endswith("…") and shown[:-1] in long and w.statusBar().fontMetrics().horizontalAdvance(shown) < room
    say(w.statusBar(), "saved /tmp/out/camvideo-20261207-201000.mkv", middle=True)
    assert w.statusBar().currentMessage() == "saved /tmp/out/camvideo-20261207-201000.mkv"
