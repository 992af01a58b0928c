"""A camvideo recording opened in the app plays as recorded: no second set of
labels over the burned-in ones, until "Analyse anyway"."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from qt_helpers import WAIT_MS, open_and_wait, settle, stop_recording, wait_frames


def record_a_clip(qtbot, w, tmp_path):
    """Record ~12 frames of what plays; the recording's path."""
    w.toggle_recording(True)
    qtbot.waitUntil(lambda: w.frames_shown_recording >= 12, timeout=WAIT_MS)
    stop_recording(qtbot, w)
    (path,) = sorted((tmp_path / "out").glob("camvideo-*.mkv"))
    return path


def test_a_recording_reopened_plays_as_recorded_and_the_switch_analyses_it(qtbot, open_window, fast_models,
                                                                          cat_clip, tmp_path):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    assert w.session.last_shown.result.detections  # the clip itself is analysed
    assert not w.session.plain and not w.timeline.plain_bar.isVisible()
    path = record_a_clip(qtbot, w, tmp_path)

    assert open_and_wait(qtbot, w, path, loop=True)
    wait_frames(qtbot, w, 4)
    assert w.session.recording_source and w.session.plain
    seen = []
    w.session.frame_shown.connect(lambda shown: seen.append(len(shown.result.detections)))
    wait_frames(qtbot, w, 4)
    assert seen and not any(seen)  # no frame of the recording is analysed: no labels stacked on its own
    assert w.timeline.plain_bar.isVisible() and "played as recorded" in w.timeline.plain_label.text()
    assert not w.timeline.analyse_button.isChecked()
    assert not w.view.label_tags() and w.view.legend() is None  # the view paints no tag over the burned-in ones

    qtbot.mouseClick(w.timeline.analyse_button, Qt.MouseButton.LeftButton)  # "Analyse anyway"
    assert w.session.plain is False and w.timeline.analyse_button.isChecked()
    qtbot.waitUntil(lambda: bool(w.session.last_shown.result.detections), timeout=WAIT_MS)
    assert "analysed again" in w.timeline.plain_label.text()

    # paused: the switch goes both ways, and the frame on screen is analysed at once
    w.toggle_pause()
    settle(qtbot, w)
    assert w.timeline.analyse_button.text() == "Play as recorded"  # the button names what it does now
    analysed = w.session.last_shown
    w.timeline.analyse_button.click()
    assert w.session.plain and w.timeline.analyse_button.text() == "Analyse anyway"
    # the analysis overlay leaves the paused frame at once: the recording's own pixels, no tags
    assert not w.session.last_shown.result.detections and not w.view.label_tags()
    assert (w.session.last_shown.annotated == analysed.frame).all()
    w.timeline.analyse_button.click()
    qtbot.waitUntil(lambda: bool(w.session.last_shown.result.detections), timeout=WAIT_MS)

    # another file is analysed as before: the switch is the recording's only
    assert open_and_wait(qtbot, w, cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    assert not w.session.plain and not w.timeline.plain_bar.isVisible()
    qtbot.waitUntil(lambda: bool(w.session.last_shown.result.detections), timeout=WAIT_MS)
