"""The picture explains itself: a legend says whose evidence the heat map shows
and on which scale (or why there is none); labels out of score order say
"held"; ten ranks, ten colours."""

from __future__ import annotations

import numpy as np
from PyQt6.QtGui import QFontMetricsF
from qt_helpers import WAIT_MS, make_cat_clip, qimage_rgb, shown_frame, wait_frames

from camvideo.annotate import FrameAnnotator, label_text
from camvideo.qt.legend import colour_bar, legend_font, legend_for
from camvideo.qt.view import VideoView
from camvideo.results import ClassMaps, Detection, FrameResult
from camvideo.settings import OverlaySettings


def _result(scores=(0.6, 0.2), opacity=(1.0, 1.0)) -> FrameResult:
    names = ("Egyptian cat", "tabby", "lynx")
    dets = tuple(Detection(i + 1, 285 - i, names[i], s, (40, 40, 300, 300) if o == 1.0 else None)
                 for i, (s, o) in enumerate(zip(scores, opacity)))
    heat = np.random.default_rng(0).random((len(dets), 7, 7)).astype(np.float32)
    return FrameResult(3, 0.1, 640, 360, dets, ClassMaps(tuple(d.class_id for d in dets), heat, opacity[: len(dets)]))


def test_the_legend_names_the_class_and_the_scale_and_paints_the_colours(qtbot):
    view = VideoView()
    qtbot.addWidget(view)
    view.resize(800, 450)
    view.show()
    view.show_frame(shown_frame(_result()))
    legend = view.legend()
    assert legend.title == "evidence for Egyptian cat (0.60)"
    assert legend.scale == "scaled to this frame's strongest" and not legend.faint
    view.set_overlay(OverlaySettings(heatmap_rank=2, colormap="inferno"))
    assert view.legend().title == "evidence for tabby (0.20)" and view.legend().colormap == "inferno"
    pixels = qimage_rgb(view.grab().toImage())
    box = view.legend_box
    assert not box.isEmpty() and view.image_rect().contains(box)  # inside the picture, bottom-left
    assert box.left() - view.image_rect().left() < 20 and view.image_rect().bottom() - box.bottom() < 20
    bar = colour_bar("inferno")
    weak, strong = qimage_rgb(bar)[0, 2], qimage_rgb(bar)[0, 253]
    row = pixels[int(box.top()) + 6 + int(view.fontMetrics().height() * 0.9) + 4]  # through the bar
    inside = row[int(box.left()) + 8: int(box.left()) + 120]
    assert np.abs(inside[0].astype(int) - weak).max() < 60 and np.abs(inside[-1].astype(int) - strong).max() < 60
    view.set_overlay(OverlaySettings(heatmap=False))
    assert view.legend() is None  # no heat map, no legend
    view.grab()
    assert view.legend_box.isEmpty()


def test_a_class_under_the_gate_gets_no_map_and_the_legend_says_why(qtbot):
    result = _result(scores=(0.01,), opacity=(0.0,))
    legend = legend_for(OverlaySettings(), result, gate=0.05)
    assert legend.faint and legend.title == "no heat map: Egyptian cat 0.01 is under the 5% gate"
    frame = np.full((360, 640, 3), 90, np.uint8)
    annotated = FrameAnnotator(OverlaySettings(boxes=False, labels=False)).annotate(frame, result)
    assert np.array_equal(annotated, frame)  # no muddy tint over the whole frame


def test_the_window_gates_an_absent_class_and_its_legend_says_so(qtbot, open_window, fast_models, cat_clip,
                                                                 photo):
    from camvideo.runtime.localizer import FrameLocalizer

    w = open_window(cat_clip)
    qtbot.waitUntil(lambda: bool(w.panel.labels), timeout=WAIT_MS)
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setText("281")  # tabby, over an espresso
    settings = w.panel.localize_settings()
    espresso = FrameLocalizer(w.session.model, settings)([photo("coffee")])[0]
    assert espresso.map_opacity == (0.0,)
    legend = legend_for(w.view.overlay, espresso, settings.intensity.scale, settings.intensity.gate)
    assert legend.title.startswith("no heat map: tabby") and legend.title.endswith("is under the 5% gate")


def test_a_label_ranked_above_a_higher_score_says_held():
    held = _result(scores=(0.04, 0.05))  # label hysteresis kept rank 1
    assert label_text(held.detections[0], held) == "Egyptian cat 0.04 held"
    assert label_text(held.detections[1], held) == "tabby 0.05"
    steady = _result(scores=(0.6, 0.2))
    assert [label_text(d, steady) for d in steady.detections] == ["Egyptian cat 0.60", "tabby 0.20"]


def test_the_hint_names_the_class_whose_map_is_shown(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", size=(192, 128)), loop=True)
    wait_frames(qtbot, w, 1)
    w.panel.mode.setCurrentText("Top-k")
    w.panel.topk.setValue(3)
    qtbot.waitUntil(lambda: len(w.session.last_shown.result.heatmaps) == 3, timeout=WAIT_MS)
    w.show_heatmap_of(2)
    wait_frames(qtbot, w, 2)
    second = next(d.label for d in w.session.last_shown.result.detections if d.rank == 2)
    qtbot.waitUntil(lambda: f"rank 2: {second}" in w.panel.map_hint.text() or
                    f"rank 2: {next(d.label for d in w.session.last_shown.result.detections if d.rank == 2)}"
                    in w.panel.map_hint.text(), timeout=WAIT_MS)
    assert w.view.legend().title.startswith("evidence for ")


def test_in_a_small_window_the_legend_stays_readable_small_and_off_the_labels(qtbot):
    """A 640x400 window's view (~450x250): the legend keeps its point size and
    title, drops the scale line, takes at most ~45% of the picture's width and a
    small share of its area; the box-less labels' list keeps off it."""
    big, small = VideoView(), VideoView()
    for view, size in ((big, (1000, 560)), (small, (450, 250))):
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        view.show_frame(shown_frame(_result(scores=(0.6, 0.2, 0.01), opacity=(1.0, 1.0, 0.2))))
        view.grab()
    pic, box = small.image_rect(), small.legend_box
    assert not box.isEmpty() and pic.contains(box)
    assert box.width() <= 0.45 * pic.width() + 1 and box.width() * box.height() < 0.1 * pic.width() * pic.height()
    assert box.height() < big.legend_box.height()  # the scale line left out
    assert box.height() >= small.fontMetrics().height()  # the title still one readable line
    tags = [t.rect for t in small.label_tags()]
    assert len(tags) == 3 and not any(t.intersects(box) for t in tags)


def test_a_letterboxed_picture_has_its_legend_in_the_bar_under_it_and_a_box_keeps_its_corners(qtbot):
    """A 16:9 frame in a 4:3 view: the legend goes in the black bar under the picture,
    hiding nothing; with no bar (the view's own shape) it keeps off the box's outline."""
    tall, fitted = VideoView(), VideoView()
    frame = FrameResult(3, 0.1, 640, 360, (Detection(1, 285, "Egyptian cat", 0.7, (10, 150, 400, 350)),),
                        ClassMaps((285,), np.random.default_rng(0).random((1, 7, 7)).astype(np.float32), (1.0,)))
    for view, size in ((tall, (800, 600)), (fitted, (800, 450))):
        qtbot.addWidget(view)
        view.resize(*size)
        view.show()
        view.show_frame(shown_frame(frame))
        view.grab()
    pic, box = tall.image_rect(), tall.legend_box
    assert not box.isEmpty() and box.top() >= pic.bottom() and box.bottom() <= tall.rect().bottom()
    pic, box = fitted.image_rect(), fitted.legend_box
    assert pic.contains(box)
    x1, y1, x2, y2 = fitted.boxes_in_view()[0]
    corners = [(x1, y1), (x2, y1), (x1, y2), (x2, y2)]
    assert not any(box.contains(x, y) for x, y in corners)  # the bottom-left one hid the box's corner


def test_a_portrait_picture_has_its_legend_in_the_bar_beside_it(qtbot):
    """A portrait frame (360x640) in a wide view: the black bars are at its sides. The
    legend goes into the bar left of the picture, its title whole (squeezed into the
    narrow picture it was cut to "evidence for espress…" over it), the scale line too
    where the bar is wide enough."""
    frame = FrameResult(3, 0.1, 360, 640, (Detection(1, 967, "espresso", 0.34, (10, 40, 350, 600)),),
                        ClassMaps((967,), np.random.default_rng(0).random((1, 7, 7)).astype(np.float32), (1.0,)))
    heights = []
    for width in (880, 1100):
        view = VideoView()
        qtbot.addWidget(view)
        view.resize(width, 560)
        view.show()
        view.show_frame(shown_frame(frame))
        view.grab()
        pic, box = view.image_rect(), view.legend_box
        assert not box.isEmpty() and 0 <= box.left() and box.right() <= pic.left()  # beside the picture
        assert pic.top() <= box.top() and box.bottom() <= pic.bottom() + 0.5
        title = legend_for(view.overlay, frame, view.map_scale, view.map_gate).title
        assert box.width() >= QFontMetricsF(legend_font(view.font())).horizontalAdvance(title)  # not elided
        heights.append(box.height())
    assert heights[1] > heights[0]  # the wider bar holds the scale line too


def test_the_legend_keeps_below_the_error_banner(qtbot, open_window, fast_models):
    """A box over the picture's bottom-left sends the legend top-left, where the red
    banner lies over the view: it goes below the banner (and back up once it hides)."""
    w = open_window()  # no source: only this frame is shown
    view = w.view
    width, height = view.width(), view.height()  # the view's shape: no bar under the picture
    frame = FrameResult(3, 0.1, width, height, (Detection(1, 285, "Egyptian cat", 0.7,
                                                          (0, height // 2, width, height)),),
                        ClassMaps((285,), np.random.default_rng(0).random((1, 7, 7)).astype(np.float32), (1.0,)))
    view.show_frame(shown_frame(frame))
    view.grab()
    free = view.legend_box
    assert not free.isEmpty() and free.top() < view.image_rect().center().y()  # top-left: off the box
    w.top_bars.show_error("cut.mkv: frames 34-59 (1.1-2.0 s) could not be decoded")
    qtbot.waitUntil(lambda: view.covered_top > 0, timeout=WAIT_MS)
    view.show_frame(shown_frame(frame))
    view.grab()
    assert view.legend_box.top() >= view.covered_top == w.banner.height()
    w.banner.hide()
    qtbot.waitUntil(lambda: view.covered_top == 0, timeout=WAIT_MS)


def test_the_colour_bar_is_the_overlays_table_with_the_pixels_it_had(qtbot, monkeypatch):
    """The bar is made from ``annotate.colormap_lut`` (the overlay's table), not from
    OpenCV's map by name again; its pixels are those ``applyColorMap`` by name gave."""
    import cv2

    from camvideo import annotate
    from camvideo.qt import legend
    from camvideo.settings import COLORMAP_NAMES

    ramp = np.arange(256, dtype=np.uint8).reshape(1, 256)
    by_name = {name: cv2.applyColorMap(ramp, annotate.COLORMAPS[name])[0, :, ::-1] for name in COLORMAP_NAMES}
    for name in COLORMAP_NAMES:
        annotate.colormap_lut(name)  # the overlay's tables, made as the overlay makes them
    monkeypatch.setattr(legend, "_bars", {})

    def by_name_again(*_args):
        raise AssertionError("the legend made its colours with applyColorMap")

    monkeypatch.setattr(cv2, "applyColorMap", by_name_again)
    for name in COLORMAP_NAMES:
        bar = qimage_rgb(colour_bar(name))
        assert bar.shape == (1, 256, 3) and np.array_equal(bar[0], by_name[name]), name
