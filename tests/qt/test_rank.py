"""Top-k: a click on a label (or keys 1-9) shows that class's heat map; its tag is marked."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPoint, Qt
from PyQt6.QtGui import QImage
from qt_helpers import WAIT_MS, make_cat_clip, open_and_wait, qimage_rgb, settle, shown_frame, wait_frames

from camvideo.annotate import FrameAnnotator
from camvideo.app.shown import ShownFrame
from camvideo.qt.view import VideoView
from camvideo.results import ClassMaps, Detection, FrameResult
from camvideo.settings import OverlaySettings


def _result(maps: int = 3) -> FrameResult:
    names = ("Egyptian cat", "tabby", "tiger cat")
    boxes = ((40, 40, 300, 300), (340, 60, 600, 320), (200, 200, 400, 350))
    dets = tuple(Detection(i + 1, 285 - i, names[i], 0.6 / (i + 1), boxes[i]) for i in range(maps))
    heat = np.random.default_rng(0).random((maps, 7, 7)).astype(np.float32)
    return FrameResult(3, 0.1, 640, 360, dets, ClassMaps(tuple(d.class_id for d in dets), heat))


def _shown(result: FrameResult) -> ShownFrame:
    return shown_frame(result)


def _bgr(image: QImage) -> np.ndarray:
    return qimage_rgb(image)[:, :, ::-1]


def _edge_is_ink(pixels: np.ndarray, tag) -> bool:
    """Whether the tag's left edge (1 px in, half-way down) is its ink colour, not its fill."""
    x, y = int(tag.rect.left()) + 1, int(tag.rect.center().y())
    px = pixels[y, x].astype(int)
    ink = np.array([tag.ink.red(), tag.ink.green(), tag.ink.blue()])
    fill = np.array([tag.fill.red(), tag.fill.green(), tag.fill.blue()])
    return np.abs(px - ink).max() < np.abs(px - fill).max()


def test_the_view_marks_the_tag_whose_map_is_shown_and_reports_clicks(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(800, 450)
    view.show()
    view.show_frame(_shown(_result()))
    tags = view.label_tags()
    assert [t.marked for t in tags] == [True, False, False]  # rank 1's map by default
    pixels = qimage_rgb(view.grab().toImage())
    assert [_edge_is_ink(pixels, t) for t in tags] == [True, False, False]
    with qtbot.waitSignal(view.tag_clicked, timeout=WAIT_MS) as clicked:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=tags[1].rect.center().toPoint())
    assert clicked.args == [2]
    # the view does not choose by itself: the window answers with the overlay
    view.set_overlay(OverlaySettings(heatmap_rank=2))
    tags = view.label_tags()
    assert [t.marked for t in tags] == [False, True, False]
    pixels = qimage_rgb(view.grab().toImage())
    assert [_edge_is_ink(pixels, t) for t in tags] == [False, True, False]
    # the marked tag keeps its size and place: nothing moves when the map changes
    assert [t.rect for t in tags] == [t.rect for t in view.label_tags()]
    # nothing to choose (one map) or no heat map: no mark
    view.set_overlay(OverlaySettings(heatmap=False, heatmap_rank=2))
    assert not any(t.marked for t in view.label_tags())
    view.set_overlay(OverlaySettings())
    view.show_frame(_shown(_result(maps=1)))
    assert not any(t.marked for t in view.label_tags()) and view.marked_rank() is None
    # a click beside the tags is no tag click (and a double click there is full screen)
    with qtbot.assertNotEmitted(view.tag_clicked):
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(790, 440))
    with qtbot.waitSignal(view.double_clicked, timeout=WAIT_MS):
        qtbot.mouseDClick(view, Qt.MouseButton.LeftButton, pos=QPoint(790, 440))


def _top_k(qtbot, w, k: int = 3) -> None:
    w.panel.mode.setCurrentText("Top-k")
    w.panel.topk.setValue(k)
    qtbot.waitUntil(lambda: len(w.session.last_shown.result.heatmaps) == k, timeout=WAIT_MS)
    wait_frames(qtbot, w, 1)


def _expected(shown: ShownFrame, rank: int) -> np.ndarray:
    return FrameAnnotator(OverlaySettings(labels=False, heatmap_rank=rank)).annotate(shown.frame, shown.result)


def test_a_click_on_the_second_label_shows_its_map_until_clicked_again_or_top_1(qtbot, open_window, fast_models,
                                                                                tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", frames=60, size=(320, 192)), loop=True)
    wait_frames(qtbot, w, 1)
    _top_k(qtbot, w)
    tags = w.view.label_tags()
    assert [t.rank for t in tags] == [1, 2, 3] and [t.marked for t in tags] == [True, False, False]
    qtbot.mouseClick(w.view, Qt.MouseButton.LeftButton, pos=tags[1].rect.center().toPoint())
    assert w.session.annotator.settings.heatmap_rank == 2 and w.panel.heatmap_rank == 2
    assert w.view.marked_rank() == 2 and [t.marked for t in w.view.label_tags()] == [False, True, False]
    assert "rank 2" in w.panel.map_hint.text()
    # the frames painted from now on carry rank 2's map, as FrameAnnotator draws it
    painted: list[ShownFrame] = []
    w.session.frame_shown.connect(painted.append)
    qtbot.waitUntil(lambda: len(painted) >= 4, timeout=WAIT_MS)
    for shown in painted[1:]:  # the first may have been annotated before the click
        assert len(shown.result.heatmaps) == 3
        assert np.array_equal(shown.annotated, _expected(shown, 2))
        assert not np.array_equal(shown.annotated, _expected(shown, 1))
        assert np.array_equal(_bgr(shown.image), shown.annotated)  # what the view paints
    # a snapshot holds what is shown
    w.toggle_pause()
    settle(qtbot, w)
    shown = w.session.last_shown
    png, _ = w.session.snapshot(tmp_path / "snaps")
    import cv2

    saved = cv2.imread(str(png))
    assert np.array_equal(saved, FrameAnnotator(OverlaySettings(heatmap_rank=2)).annotate(shown.frame, shown.result))
    # paused: clicking the marked label again brings the top class's map back at once, on the same frame
    before = w.frames_shown
    qtbot.mouseClick(w.view, Qt.MouseButton.LeftButton, pos=w.view.label_tags()[1].rect.center().toPoint())
    assert w.session.annotator.settings.heatmap_rank == 1 and w.view.marked_rank() == 1
    qtbot.waitUntil(lambda: w.frames_shown > before, timeout=WAIT_MS)
    again = w.session.last_shown
    assert again.index == shown.index and np.array_equal(again.annotated, _expected(shown, 1))
    assert np.array_equal(_bgr(w.view.current.image), _expected(shown, 1))
    # the third label, then Top-1: back to the top class's map
    qtbot.mouseClick(w.view, Qt.MouseButton.LeftButton, pos=w.view.label_tags()[2].rect.center().toPoint())
    assert w.session.annotator.settings.heatmap_rank == 3
    assert np.array_equal(w.session.last_shown.annotated, _expected(shown, 3))
    w.panel.mode.setCurrentText("Top-1")
    assert w.session.annotator.settings.heatmap_rank == 1 and w.panel.heatmap_rank == 1
    assert not w.panel.map_hint.isVisibleTo(w.panel)


def test_keys_choose_the_map_and_a_smaller_k_resets_it(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", size=(192, 128)), loop=True)
    wait_frames(qtbot, w, 1)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT_MS)
    qtbot.keyClick(w.view, Qt.Key.Key_2)  # Top-1: nothing to choose, the status bar says so
    assert w.panel.heatmap_rank == 1 and "no heat map 2: 1 class is localized" in w.statusBar().currentMessage()
    _top_k(qtbot, w, 4)
    qtbot.keyClick(w.view, Qt.Key.Key_3)
    assert w.session.annotator.settings.heatmap_rank == 3 and w.view.marked_rank() == 3
    qtbot.keyClick(w.view, Qt.Key.Key_5)  # k is 4
    assert w.panel.heatmap_rank == 3 and "4 classes are localized" in w.statusBar().currentMessage()
    w.panel.topk.setValue(3)  # rank 3 is still there
    assert w.session.annotator.settings.heatmap_rank == 3
    w.panel.topk.setValue(2)  # it is not: the top class's map
    assert w.session.annotator.settings.heatmap_rank == 1
    qtbot.keyClick(w.view, Qt.Key.Key_2)
    assert w.panel.heatmap_rank == 2
    qtbot.keyClick(w.view, Qt.Key.Key_1)
    assert w.panel.heatmap_rank == 1
    # digits typed in a field stay in the field
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setFocus()
    qtbot.waitUntil(w.panel.class_edit.hasFocus, timeout=WAIT_MS)
    qtbot.keyClicks(w.panel.class_edit, "28")
    assert w.panel.class_edit.text() == "28" and w.panel.heatmap_rank == 1
    # the rank is not remembered between runs: a new window starts on the top class
    w.panel.mode.setCurrentText("Top-k")
    w.panel.set_heatmap_rank(2)
    w.close()
    again = open_window(make_cat_clip(tmp_path / "cat2.mp4", size=(192, 128)))
    assert again.panel.mode.currentText() == "Top-k" and again.panel.overlay_settings().heatmap_rank == 1


def _chosen_rank_3(qtbot, w) -> None:
    qtbot.keyClick(w.view, Qt.Key.Key_3)
    wait_frames(qtbot, w, 1)
    assert w.panel.heatmap_rank == 3 and w.panel.map_class


def _back_on_the_top_class(w) -> None:
    assert w.panel.heatmap_rank == 1 and w.panel.map_class == ""
    assert w.session.annotator.settings.heatmap_rank == 1 and w.view.overlay.heatmap_rank == 1
    assert w.panel.map_hint.text().startswith("Heat map of the top class")


def test_a_new_source_or_model_shows_the_top_class_again(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "a.mp4", size=(160, 96)), loop=True)
    wait_frames(qtbot, w, 1)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT_MS)
    _top_k(qtbot, w, 4)
    _chosen_rank_3(qtbot, w)
    assert open_and_wait(qtbot, w, make_cat_clip(tmp_path / "b.mp4", size=(128, 96)), loop=True)
    _back_on_the_top_class(w)  # the rank was chosen among the old source's classes
    wait_frames(qtbot, w, 2)
    _chosen_rank_3(qtbot, w)
    with qtbot.waitSignal(w.session.model_ready, timeout=WAIT_MS):
        w.session.load_model("lite0")
    _back_on_the_top_class(w)  # a new model's classes differ
