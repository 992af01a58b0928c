"""Labels: painted by the view at screen resolution; burned into recordings and snapshots."""

from __future__ import annotations

import json

import av
import cv2
import numpy as np
import pytest
from PyQt6.QtCore import QRectF
from PyQt6.QtGui import QFont, QImage
from qt_helpers import WAIT_MS, make_cat_clip, qimage_rgb, shown_frame, stop_recording, wait_frames

from camvideo.annotate import FrameAnnotator, LabelAnnotator
from camvideo.app.shown import ShownFrame
from camvideo.class_colours import result_colors
from camvideo.qt.labels import DisplayAnnotator, label_font, layout_tags
from camvideo.qt.view import VideoView
from camvideo.results import ClassMaps, Detection, FrameResult
from camvideo.settings import OverlaySettings

GREY = 90


def _result(width=640, height=360, boxes=((100, 80, 400, 300), (300, 40, 600, 340), None)) -> FrameResult:
    names = ("Egyptian cat", "tabby", "espresso")
    dets = tuple(Detection(i + 1, 285 - i, names[i], 0.7 / (i + 1), box) for i, box in enumerate(boxes))
    heat = np.random.default_rng(0).random((len(dets), 7, 7)).astype(np.float32)
    return FrameResult(12, 0.4, width, height, dets, ClassMaps(tuple(d.class_id for d in dets), heat))


def _shown(result: FrameResult, image: np.ndarray | None = None) -> ShownFrame:
    return shown_frame(result, image, GREY)


def _qimage_bgr(image: QImage) -> np.ndarray:
    return qimage_rgb(image)[:, :, ::-1]


def _fill(rank: int) -> np.ndarray:
    """The RGB fill of ``_result()``'s tag of ``rank``: its class's colour."""
    b, g, r = result_colors(_result())[rank - 1]
    return np.array([r, g, b])


def _run_height(pixels: np.ndarray, x: int, y: int, color: np.ndarray, tol: int = 8) -> int:
    """Rows from (x, y) down whose pixel at column x is ``color``."""
    n = 0
    while y + n < pixels.shape[0] and np.abs(pixels[y + n, x].astype(int) - color).max() <= tol:
        n += 1
    return n


@pytest.mark.parametrize("settings", [OverlaySettings(), OverlaySettings(heatmap=False, alpha=0.3),
                                      OverlaySettings(boxes=False, colormap="turbo")])
def test_labels_burned_afterwards_give_the_frame_camvideo_process_makes(settings):
    frame = np.random.default_rng(1).integers(0, 256, (360, 640, 3), np.uint8)
    result = _result()
    display = DisplayAnnotator(settings)
    shown = display.annotate(frame, result)
    assert np.array_equal(shown, FrameAnnotator(OverlaySettings(**{**settings.__dict__, "labels": False}))
                          .annotate(frame, result))
    assert np.array_equal(display.burn_labels(shown, result), FrameAnnotator(settings).annotate(frame, result))
    off = DisplayAnnotator(OverlaySettings(labels=False))
    plain = off.annotate(frame, result)
    assert np.array_equal(off.burn_labels(plain.copy(), result), plain)
    with pytest.raises(TypeError, match="OverlaySettings"):
        DisplayAnnotator({"labels": True})


def test_the_view_paints_the_tags_at_the_box_corner_at_one_size_on_screen(qtbot):
    result = _result()
    view = VideoView()
    qtbot.addWidget(view)
    view.show_frame(_shown(result))
    heights = []
    for size in ((400, 240), (1280, 760)):
        view.resize(*size)
        pixels = qimage_rgb(view.grab().toImage())
        rect = view.image_rect()
        scale = rect.width() / result.width
        tags = view.label_tags()
        assert [t.rank for t in tags] == [1, 2, 3]
        # rank 1 at its box's top-left corner, mapped into the view
        x, y = rect.left() + 100 * scale, rect.top() + 80 * scale
        assert abs(tags[0].rect.left() - x) < 1 and abs(tags[0].rect.top() - y) < 1
        # its colour is there on screen (inside the tag, left of the text)
        px, py = int(x) + 2, int(y) + 2
        assert np.abs(pixels[py, px].astype(int) - _fill(1)).max() <= 8
        second = int(tags[1].rect.left()) + 2, int(tags[1].rect.top()) + 2
        assert np.abs(pixels[second[1], second[0]].astype(int) - _fill(2)).max() <= 8
        heights.append(_run_height(pixels, second[0], int(tags[1].rect.top()) + 1, _fill(2)))
        # the class without a box: in the picture's top-left corner
        assert abs(tags[2].rect.left() - rect.left()) < 1 and abs(tags[2].rect.top() - rect.top()) < 1
    # the picture grew 3.2x, the tags did not
    assert abs(heights[0] - heights[1]) <= 1, heights
    assert heights[0] >= 14, heights  # ~11 pt: readable (a burned-in tag would be ~8 px at 400x240)


def test_tags_do_not_cover_each_other_and_stay_in_the_picture():
    result = _result(boxes=((10, 10, 200, 200), (12, 12, 150, 150), (630, 355, 640, 360)))
    frame_rect = QRectF(50, 20, 320, 180)
    tags = layout_tags(result, frame_rect, (640, 360), label_font(QFont()))
    first, second, third = (t.rect for t in tags)
    assert not first.intersects(second) and second.top() >= first.bottom() - 0.01
    assert abs(second.left() - (50 + 6)) < 1  # pushed down, not sideways
    # the corner of the frame: moved left and up into the picture
    assert abs(third.right() - frame_rect.right()) < 0.01 and abs(third.bottom() - frame_rect.bottom()) < 0.01
    assert tags[0].ink.name() == "#000000"  # black on the white tag (285's)
    assert tags[1].ink.name() == "#ffffff"  # white on the teal tag (284's)
    assert layout_tags(_result(boxes=()), frame_rect, (640, 360), label_font(QFont())) == []


def test_labels_off_hides_them_at_once(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(640, 360)
    view.show_frame(_shown(_result()))
    assert (np.abs(qimage_rgb(view.grab().toImage()).astype(int) - _fill(2)).max(axis=2) <= 8).sum() > 100
    view.set_labels(False)
    assert view.label_tags() == []
    pixels = qimage_rgb(view.grab().toImage())
    assert (np.abs(pixels.astype(int) - _fill(2)).max(axis=2) <= 8).sum() == 0
    view.set_labels(True)
    assert len(view.label_tags()) == 3


def _top_box(shown: ShownFrame):
    """The box of the best-ranked class with one, and that class's colour (BGR)."""
    colors = result_colors(shown.result)
    return next(((d.box, c) for d, c in zip(shown.result.detections, colors) if d.box is not None), (None, None))


def test_the_window_shows_frames_without_labels_and_records_them_burned_in(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", size=(320, 192)), loop=True)
    wait_frames(qtbot, w, 2)
    assert w.view.show_labels and w.view.label_tags()  # the view paints the labels
    shown = w.session.last_shown
    # the frame on screen has heat map and boxes only
    assert not shown.labels_burned and np.array_equal(_qimage_bgr(shown.image), shown.annotated)
    recorded: list[ShownFrame] = []
    w.session.frame_shown.connect(lambda s: recorded.append(s) if s.recorded else None)
    w.toggle_recording(True)
    qtbot.waitUntil(lambda: w.frames_shown_recording >= 6, timeout=WAIT_MS)
    stop_recording(qtbot, w)
    (path,) = (tmp_path / "out").glob("camvideo-*.mkv")
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(decoded) == len(recorded) == w.frames_shown_recording
    checked = 0
    for frame, shown in zip(decoded, recorded):
        box, colour = _top_box(shown)
        assert shown.labels_burned
        assert np.abs(frame.astype(int) - shown.annotated).mean() < 8  # H.264 loses a little
        if box is None:
            continue
        plain = _qimage_bgr(shown.image).astype(int)
        labels = np.abs(shown.annotated.astype(int) - plain).max(axis=2) > 60
        # the file holds the labels (where they differ from the frame on screen)
        assert np.abs(frame.astype(int) - shown.annotated)[labels].mean() < 25
        assert np.abs(frame.astype(int) - plain).max(axis=2)[labels].mean() > 60  # as ``labels`` measures
        x, y = min(box[0], 310), min(box[1], 180)
        assert labels[y: y + 12, x: x + 40].mean() > 0.5  # the tag is at the box corner
        assert np.abs(frame[y + 1: y + 3, x + 1: x + 3].astype(int) - np.array(colour)).max() < 40
        checked += 1
    assert checked >= 3


def test_a_snapshot_has_the_labels_burned_in(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", size=(320, 192)), loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    qtbot.wait(200)
    shown = w.session.last_shown
    png, js = w.session.snapshot(tmp_path / "snaps")
    about = json.loads(js.read_text())
    assert about["source"] == "cat.mp4" or about["source"].endswith("cat.mp4")  # what made it
    assert about["model"] == w.session.model_name and about["model"]
    saved = cv2.imread(str(png))
    expected = LabelAnnotator().annotate(shown.annotated.copy(), shown.result)
    assert np.array_equal(saved, expected) and not np.array_equal(saved, shown.annotated)
    w.panel.labels_box.setChecked(False)  # labels off: gone from the view at once, and from snapshots
    assert not w.view.show_labels and w.view.label_tags() == []
    png, _ = w.session.snapshot(tmp_path / "snaps2")
    assert np.array_equal(cv2.imread(str(png)), shown.annotated)
