"""The timeline strip under a video file: fills as frames are shown, Scan file
fills all of it (Cancel stops), One class shows its score and top-1 stretches,
clicks seek, Save as JSONL writes what camvideo process --export writes."""

from __future__ import annotations

import json
import time

from contract import check_frame_object
from PyQt6.QtCore import QPoint, Qt
from qt_helpers import CAT_CLASSES, WAIT_MS, make_cat_clip, settle, wait_frames

from camvideo.results import Detection, FrameResult
from camvideo.runtime.scan import SCAN_TOPK


def scan_done(qtbot, w) -> None:
    qtbot.waitUntil(lambda: w.timeline.scan is None, timeout=WAIT_MS * 4)


def test_the_strip_fills_as_frames_are_shown_and_redraws_at_most_four_times_a_second(qtbot, open_window,
                                                                                   fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    strip = w.timeline.strip
    assert w.timeline.area.isVisible() and strip.isVisible()
    renders, start = strip.renders, time.monotonic()
    wait_frames(qtbot, w, 20)
    qtbot.waitUntil(lambda: bool(strip.lines), timeout=WAIT_MS)
    assert len(w.timeline.track) >= 10
    assert strip.lines[0][0] in [w.session.model.labels[c] for c in CAT_CLASSES]  # a cat leads
    assert strip.position is not None and 0 <= strip.position <= 1.5
    assert strip.duration == w.session.duration_hint
    # a frame moves the position line only: the lines are drawn again at most each refresh
    assert strip.renders - renders <= (time.monotonic() - start) / 0.25 + 2
    assert strip.paints > strip.renders


def test_scan_file_fills_every_frame_and_saves_the_export_jsonl(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", frames=45, size=(96, 64)), loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    settle(qtbot, w)
    qtbot.mouseClick(w.timeline.scan_button, Qt.MouseButton.LeftButton)
    assert w.timeline.cancel_button.isVisibleTo(w) and not w.timeline.scan_button.isEnabled()
    scan_done(qtbot, w)
    assert w.timeline.state_label.text() == "scanned 45 frames" and not w.timeline.cancel_button.isVisibleTo(w)
    results = w.timeline.track.results()
    assert [r.frame for r in results] == list(range(45))
    assert all(len({d.class_id for d in r.detections}) >= SCAN_TOPK for r in results)
    w.timeline.refresh()
    assert len(w.timeline.strip.lines) == 3 and all(len(t) == 45 for _, t, _ in w.timeline.strip.lines)

    # Save as JSONL: camvideo process FILE --export with the settings on screen (the
    # command line's defaults but the window's 5% gate; the window draws no map under it)
    from dataclasses import replace

    from camvideo import cli

    args = cli.build_parser().parse_args(["process", str(tmp_path / "cat.mp4"), "--gate", "0.05"])
    expected = cli.localize_settings_from_args(args)
    assert w.session.localize_settings == replace(expected, intensity=replace(expected.intensity, faint=0.0))
    path = tmp_path / "saved" / "cat.jsonl"
    path.parent.mkdir()
    assert w.timeline.save(path)
    assert not w.timeline.save_button.isEnabled()
    qtbot.waitUntil(lambda: w.timeline.export is None, timeout=WAIT_MS * 4)
    message = w.statusBar().currentMessage()  # a long path is cut in its middle to the bar's room
    assert message.startswith("saved 45 frames to /") and message.endswith("/cat.jsonl")
    assert w.timeline.save_button.isEnabled()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [obj["frame"] for obj in lines] == list(range(45))
    for obj in lines:
        check_frame_object(obj)
    assert sorted(p.name for p in path.parent.iterdir()) == ["cat.jsonl"]  # written whole, nothing beside it
    by_cli = tmp_path / "cli.jsonl"
    assert cli.main(["process", str(tmp_path / "cat.mp4"), "--export", str(by_cli), "--no-progress",
                     "--gate", "0.05", "--precision", "f32"]) == 0  # the window runs f32 (docs/app.md)
    assert lines == [json.loads(line) for line in by_cli.read_text().splitlines()]


def test_cancel_stops_the_scan(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "long.mp4", frames=600, size=(96, 64)))
    wait_frames(qtbot, w, 2)
    w.timeline.start_scan()
    qtbot.waitUntil(lambda: w.timeline.scan is not None and w.timeline.scan.frames >= 4, timeout=WAIT_MS)
    qtbot.mouseClick(w.timeline.cancel_button, Qt.MouseButton.LeftButton)
    scan_done(qtbot, w)
    assert w.timeline.state_label.text().startswith("scan cancelled after")
    assert 4 <= len(w.timeline.track) < 600


def test_one_class_shows_its_stretches_and_a_click_jumps_there(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", frames=60, size=(96, 64)))  # 2 s
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    settle(qtbot, w)
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setText("967")
    w.panel.class_edit.editingFinished.emit()
    # what a scan would have found: espresso on top from 1.0 s to 1.5 s, a cat elsewhere
    track = w.timeline.track
    track.clear()
    for f in range(60):
        top = 967 if 30 <= f <= 45 else 285
        dets = (Detection(1, top, "x", 0.8, None), Detection(2, 967 if top == 285 else 285, "y", 0.1, None))
        track.add(FrameResult(frame=f, time=f / 30, width=96, height=64, detections=dets))
    w.timeline.refresh()
    strip = w.timeline.strip
    assert strip.stretches == [(1.0, 1.5)] and strip.lines[0][0] == "espresso"
    assert strip.note == "espresso: top class in 1 stretch"
    assert strip.lines[0][2].max() == 0.8 and strip.lines[0][2].min() == 0.1
    x = int(strip.x_of(1.25))
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(x, int(strip.band_y()) + 3))  # on the band
    qtbot.waitUntil(lambda: abs(w.session.last_shown.time - 1.0) < 0.05, timeout=WAIT_MS)
    qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(int(strip.x_of(0.5)), 20))  # above: that time
    qtbot.waitUntil(lambda: abs(w.session.last_shown.time - 0.5) < 0.05, timeout=WAIT_MS)


def test_a_damaged_stretch_is_hatched_on_the_strip_and_its_tooltip_says_so(qtbot, open_window, fast_models,
                                                                           tmp_path):
    from clips import make_damaged_clip

    from camvideo.qt.timeline import AXIS, BACKGROUND, DAMAGE_FILL

    w = open_window(make_damaged_clip(tmp_path, frames=90))
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(w.session.damage) == 1, timeout=WAIT_MS)
    (damage,) = w.session.damage  # as the source on screen found it
    w.timeline.refresh()
    strip = w.timeline.strip
    assert w.timeline.track.damage == (damage,)
    (span,) = strip.damaged
    assert span.text == f"frames {damage.first}-{damage.last} ({damage.start:.1f}-{damage.end:.1f} s) could not be decoded"
    x = strip.x_of((span.start + span.end) / 2)
    assert strip.tooltip_at(x, strip.height() / 2) == span.text
    assert strip.tooltip_at(strip.x_of(0.35), strip.height() / 2).startswith("0:00.3: ")  # elsewhere: the time
    # drawn apart from "not analysed" (the background): the hatch's dark red under it
    image = strip.grab().toImage()
    y = int(strip.band_y()) - 10
    colours = {image.pixelColor(int(x) + dx, y).name() for dx in range(-3, 4)}
    assert DAMAGE_FILL.name() in colours and BACKGROUND.name() not in colours, colours
    assert image.pixelColor(int(strip.x_of(0.5)), y).name() != DAMAGE_FILL.name()
    assert strip.height() - AXIS > y


def test_the_strip_has_a_time_axis_a_score_scale_and_the_position_s_time(qtbot, open_window, fast_models, cat_clip, tmp_path):
    from camvideo.qt.timeline import AXIS, POSITION

    w = open_window(cat_clip)
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    settle(qtbot, w)
    strip = w.timeline.strip
    qtbot.waitUntil(lambda: strip.position is not None and strip.duration > 0, timeout=WAIT_MS)
    w.timeline.on_frame = lambda shown: None  # the position stays where this test puts it
    strip.set_position(0.5)
    image = strip.grab().toImage()
    # the position's time, white on red in the axis row, where the position line is
    x, y = int(strip.x_of(0.5)), strip.height() - AXIS // 2
    row = [image.pixelColor(px, y) for px in range(max(0, x - 30), min(strip.width(), x + 30))]
    assert POSITION.name() in {c.name() for c in row}, {c.name() for c in row}
    assert any(c.red() > 240 and c.green() > 180 for c in row)  # the white text of its time on the red
    # tick labels along the axis row away from the position, and the score labels in the gutter
    far = int(strip.x_of(strip.duration * 0.75))
    assert any(image.pixelColor(px, y).lightness() > 100 for px in range(far - 40, far + 40))
    assert any(image.pixelColor(px, py).lightness() > 100 for px in range(2, 22) for py in range(18, 30))


def test_no_strip_for_a_slideshow(qtbot, open_window, fast_models, data_dir):
    w = open_window(data_dir)
    qtbot.waitUntil(lambda: w.session.source is not None, timeout=WAIT_MS)
    assert not w.timeline.area.isVisibleTo(w)


def test_a_line_joins_frames_a_column_or_two_apart_and_breaks_where_none_was_analysed():
    import numpy as np

    from camvideo.qt.timeline import _runs, columns, join_columns

    times = np.array([f / 30 for f in range(300) if not 90 <= f < 150])  # 10 s, 3-5 s not analysed
    scores = np.full(len(times), 0.5, np.float32)
    width = 1000  # more columns than frames: every third column has a frame
    cols = columns(times, scores, 10.0, width)
    assert np.isnan(cols).sum() > width / 2
    runs = list(_runs(cols, join_columns(times, 10.0, width)))
    assert len(runs) == 2  # one line before the gap, one after
    assert runs[0][0][-1] < 300 < 500 < runs[1][0][0]
    assert len(list(_runs(cols))) > 100  # without joining: a dotted line


def test_the_position_line_never_crosses_the_legend(qtbot):
    """The red line runs down the plot only: a name in the legend's row stays whole
    wherever the frame on screen is (it hid "espresso" when it stood at 0:00)."""
    import numpy as np

    from camvideo.qt.timeline import LEGEND, PLOT_TOP, POSITION, TimelineStrip

    strip = TimelineStrip()
    qtbot.addWidget(strip)
    strip.resize(600, strip.height())
    times = np.linspace(0, 10, 50)
    strip.set_data(10.0, [("espresso", times, np.full(50, 0.5, np.float32))])
    strip.show()
    for seconds in (0.0, 0.3, 5.0):
        strip.set_position(seconds)
        image = strip.grab().toImage()
        x = int(round(strip.x_of(seconds)))
        red = [y for y in range(strip.height()) if image.pixelColor(x, y) == POSITION]
        assert red and min(red) >= PLOT_TOP - 2 > LEGEND  # under the legend's row, down the plot
        assert all(image.pixelColor(x, y) != POSITION for y in range(LEGEND))


def test_a_class_keeps_its_colour_when_the_timeline_order_turns(qtbot, open_window, fast_models, cat_clip):
    """The strip's lines and legend take each class's colour from camvideo.class_colours
    (the colour of its boxes): when the summed scores change places, the names do, not the colours."""
    from camvideo.class_colours import class_colors
    from camvideo.qt.timeline import bgr_color

    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    settle(qtbot, w)
    track = w.timeline.track

    def fill(frames) -> None:
        track.clear()
        for f in frames:  # a cat (0.6) for 45 frames, then espresso (0.9) for 30
            dets = ((Detection(1, 285, "Egyptian cat", 0.6, None),) if f < 45 else
                    (Detection(1, 967, "espresso", 0.9, None),))
            track.add(FrameResult(frame=f, time=f / 30, width=96, height=64, detections=dets))
        w.timeline.refresh()

    fill(range(15, 75))  # the cat's first half second not analysed: espresso leads
    strip = w.timeline.strip
    assert [line[0] for line in strip.lines] == ["espresso", "Egyptian cat"]
    first = dict(zip([line[0] for line in strip.lines], [c.name() for c in strip.colors]))
    fill(range(0, 75))  # filled in: the cat leads
    assert [line[0] for line in strip.lines] == ["Egyptian cat", "espresso"]
    assert [c.name() for c in strip.colors] == [first["Egyptian cat"], first["espresso"]]
    assert [c.name() for c in strip.colors] == [bgr_color(c).name() for c in class_colors([285, 967])]
    # the boxes and tags on the video ask the same colours
    result = FrameResult(frame=0, time=0.0, width=96, height=64, detections=(
        Detection(1, 967, "espresso", 0.7, (4, 4, 60, 40)), Detection(2, 285, "Egyptian cat", 0.2, None)))
    assert w.view.colors(result) == class_colors([967, 285]) == w.session.annotator.colors(result)


def test_a_new_source_shows_no_position_until_its_first_frame(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    assert w.timeline.strip.position is not None
    w.timeline.on_frame = lambda shown: None  # no frame of the new source yet
    w.timeline.on_source_changed("demo.mp4", False)
    assert w.timeline.strip.position is None  # not the last source's, cut to the new length
