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
    assert w.statusBar().currentMessage() == "panel and timeline hidden (P: the panel)"  # 380 px high
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


def test_the_first_size_fits_a_small_screen():
    """With no size remembered the window is 1280x800, or less on a screen whose free
    area cannot hold that and the title bar (1366x768, 1280x800): its bottom (the
    status bar, Scan file) was off the screen."""
    from PyQt6.QtCore import QRect, QSize

    from camvideo.qt.window import first_size

    class Screen:
        def __init__(self, w: int, h: int) -> None:
            self.area = QRect(0, 0, w, h)

        def availableGeometry(self) -> QRect:  # noqa: N802 (Qt's name)
            return self.area

    assert first_size(None) == first_size(Screen(1920, 1080)) == QSize(1280, 800)
    for w, h in ((1366, 768), (1280, 800), (1024, 600)):
        size = first_size(Screen(w, h))
        assert size.width() <= min(1280, w - 8) and size.height() <= h - 40 and size.height() >= 480


def test_a_window_with_no_size_remembered_fits_its_screen(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", size=(192, 128)))
    free = w.screen().availableGeometry()  # offscreen: 800x800
    assert w.width() <= free.width() and w.height() <= free.height() - 40


def test_a_low_window_hides_the_timeline_and_a_taller_one_brings_it_back(qtbot, open_window, fast_models,
                                                                          tmp_path):
    """The timeline keeps its height (~140 px with its buttons): in a window 300 px
    high the video had less than half of it. Below SHORT_H it hides itself."""
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", size=(192, 128)), loop=True)
    wait_frames(qtbot, w, 2)
    assert w.timeline.widget.isVisible()
    w.resize(900, 340)
    qtbot.waitUntil(lambda: not w.timeline.widget.isVisible(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: w.view.height() >= 0.6 * w.height(), timeout=WAIT_MS)  # the video has the room
    assert w.statusBar().currentMessage() == "timeline hidden (a taller window shows it)"
    w.resize(900, 700)
    qtbot.waitUntil(lambda: w.timeline.widget.isVisible(), timeout=WAIT_MS)
