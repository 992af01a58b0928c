"""A small window keeps its room for the video: the panel hides (P brings it
back) and the labels stay inside the picture."""

from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QFont
from qt_helpers import WAIT_MS, make_cat_clip, wait_frames

from camvideo.qt.labels import label_font, layout_tags
from camvideo.results import Detection, FrameResult


def test_a_small_window_hides_the_panel_and_p_brings_it_back(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", size=(192, 128)), loop=True)
    wait_frames(qtbot, w, 2)
    assert w.side.isVisible()
    w.resize(560, 380)
    qtbot.waitUntil(lambda: not w.side.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.view.width() >= 0.9 * w.width(), timeout=WAIT_MS)  # the video has the room
    assert w.statusBar().currentMessage() == "panel hidden (P shows it)"
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(w.view, Qt.Key.Key_P)
    assert w.side.isVisible()
    qtbot.keyClick(w.view, Qt.Key.Key_P)
    assert not w.side.isVisible()
    w.resize(1200, 760)  # large again: the panel comes back
    qtbot.waitUntil(lambda: w.side.isVisible(), timeout=WAIT_MS)
    wait_frames(qtbot, w, 1)
    tags = w.view.label_tags()
    assert tags and all(w.view.image_rect().contains(t.rect) for t in tags)


def test_labels_stay_inside_a_tiny_picture():
    dets = tuple(Detection(i + 1, 285 - i, name, 0.5 / (i + 1), (600, 300, 640, 360))
                 for i, name in enumerate(("Egyptian cat", "tabby, tabby cat", "tiger cat", "Persian cat")))
    result = FrameResult(0, 0.0, 640, 360, dets)
    picture = QRectF(10, 20, 110, 62)  # a 640x360 frame in a ~110 px wide view
    tags = layout_tags(result, picture, (640, 360), label_font(QFont()))
    assert len(tags) == 4
    for tag in tags:
        assert picture.adjusted(-0.01, -0.01, 0.01, 0.01).contains(tag.rect), (tag.text, tag.rect)
    assert any(t.text.endswith("…") for t in tags)  # too wide: elided, not cut off
