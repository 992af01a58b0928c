"""The window's papercuts, fixed: what a user clicks, sees and types (offscreen)."""

from __future__ import annotations

import pytest
from PyQt6.QtCore import QPoint, Qt
from qt_helpers import (
    WAIT_MS,
    fail_to_load,
    make_cat_clip,
    make_clip_cut_by_dts,
    open_and_wait,
    settle,
    wait_frames,
    wait_saved,
)


def test_a_file_that_does_not_open_leaves_the_playing_one_running(qtbot, open_window, fast_models, cat_clip,
                                                                 tmp_path):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(cat_clip.read_bytes()[:3000])  # a truncated file: no moov, not a video
    assert not open_and_wait(qtbot, w, bad)
    assert "bad.mp4" in w.error_label.text() and w.banner.isVisible()
    assert w.session.source.name == str(cat_clip) and w.panel.source_label.text() == cat_clip.name
    assert w.panel.source_label.toolTip() == str(cat_clip)
    assert not open_and_wait(qtbot, w, tmp_path / "missing.mp4")
    assert "missing.mp4" in w.error_label.text()
    wait_frames(qtbot, w, 3)  # the clip goes on
    assert w.panel.play_button.isEnabled() and w.view.message == ""


def test_no_source_says_so_and_disables_playback(qtbot, open_window, fast_models, tmp_path):
    w = open_window(tmp_path / "missing.mp4")
    qtbot.waitUntil(lambda: bool(w.errors), timeout=WAIT_MS)
    assert w.view.message.startswith("No source")
    assert w.panel.source_label.text() == "no source"
    assert not w.panel.play_button.isEnabled() and not w.panel.seek.isEnabled()
    w._update_status()
    assert w.fps_label.text() == "no source"


def test_a_click_on_the_seek_bar_goes_there(qtbot, open_window, fast_models, tmp_path):
    clip = make_cat_clip(tmp_path / "long.mp4", frames=90, size=(96, 64))  # 3 s
    w = open_window(clip)
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    assert w.session.paused
    seek = w.panel.seek
    x = next(x for x in range(seek.width()) if seek.value_at(x) >= 800)  # 80% of the groove
    qtbot.mouseClick(seek, Qt.MouseButton.LeftButton, pos=QPoint(x, seek.height() // 2))
    assert 780 <= seek.value() <= 820
    # paused: the frame there is shown (2.4 s of 3 s), and the clock shows hundredths and the frame
    qtbot.waitUntil(lambda: w.session.last_shown.time >= 2.2, timeout=WAIT_MS)
    assert w.session.last_shown.time <= 2.6 and w.session.paused
    qtbot.waitUntil(lambda: w.panel.time_label.text().startswith("0:02."), timeout=WAIT_MS)


def test_status_says_paused_and_ended_not_a_stale_fps(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "short.mp4", frames=20, size=(96, 64)))
    wait_frames(qtbot, w, 2)
    w.panel.step_button.click()  # Step pauses: the button now offers Play
    assert w.session.paused and w.panel.play_button.text() == "Play"
    w._update_status()
    assert w.fps_label.text() == "paused" and w.latency_label.text() == "latency –"
    w.toggle_pause()
    w._update_status()
    assert w.fps_label.text().endswith("fps") and w.panel.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: w.session.pipeline.finished, timeout=WAIT_MS)
    w._update_status()
    assert w.fps_label.text() == "ended" and w.panel.play_button.text() == "Play"


def test_record_button_says_stop_while_recording(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    assert w.panel.record_button.text() == "Record"
    w.toggle_recording(True)
    assert w.panel.record_button.text() == "Stop" and w.panel.record_button.isChecked()
    wait_frames(qtbot, w, 2)
    w.toggle_recording(False)
    assert w.panel.record_button.text() == "Record" and not w.panel.record_button.isChecked()
    wait_saved(qtbot, w)
    assert w.panel.record_label.toolTip().endswith(".mkv")  # the full path


def test_a_recording_started_and_stopped_while_paused_says_nothing_was_recorded(qtbot, open_window, fast_models,
                                                                                 cat_clip, tmp_path):
    """No frame played between Record and Stop: the recorder keeps no file, and the Record
    box says so (it said "saved camvideo-....mkv", a file that was not there)."""
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    settle(qtbot, w)
    w.toggle_recording(True)
    assert w.session.recording
    w.toggle_recording(False)
    qtbot.waitUntil(lambda: w.panel.record_label.text().startswith("nothing recorded"), timeout=WAIT_MS)
    assert not list((tmp_path / "out").glob("camvideo-*"))
    assert "nothing recorded" in w.statusBar().currentMessage()
    assert not w.panel.record_button.isChecked() and not w.session.recording
    assert w.panel.record_label.text() == "nothing recorded: it was paused all along (record while it plays)"


def test_a_recording_started_and_stopped_on_a_file_that_had_ended_says_so_and_what_to_do(
        qtbot, open_window, fast_models, cat_clip, tmp_path):
    """A short file ends before the user presses R: the box said "(paused?)", which it was not."""
    w = open_window(cat_clip)
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    settle(qtbot, w)  # the last frames in flight (a frame arriving now would be recorded)
    w.toggle_recording(True)
    w.toggle_recording(False)
    qtbot.waitUntil(lambda: w.panel.record_label.text().startswith("nothing recorded"), timeout=WAIT_MS)
    assert w.panel.record_label.text() == ("nothing recorded: the file had ended "
                                           "(Play plays it again from the start; record while it plays)")
    assert not list((tmp_path / "out").glob("camvideo-*"))


def test_a_model_that_fails_leaves_the_list_on_the_model_in_use(qtbot, open_window, fast_models, cat_clip,
                                                               monkeypatch):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    fail_to_load(monkeypatch, "resnet18", "could not get the ImageNet weights of resnet18 (no network)")
    w.panel.model.showPopup()  # the whole list is made when the box opens
    qtbot.waitUntil(lambda: w.panel.model.findText("resnet18") >= 0, timeout=WAIT_MS)
    w.panel.model.hidePopup()
    w.panel.model.setCurrentText("resnet18")
    qtbot.waitUntil(lambda: "could not load" in w.panel.model_state.text(), timeout=WAIT_MS)
    assert w.panel.model.currentText() == "lite0"
    assert w.panel.model_state.text() == "resnet18 could not load; still lite0 on cpu"
    assert "no network" in w.error_label.text()
    wait_frames(qtbot, w, 2)  # frames go on with lite0


def test_colormap_applies_and_opacity_follows_the_heat_map_toggle(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    w.panel.colormap.setCurrentText("turbo")
    assert w.session.annotator.settings.colormap == "turbo"
    w.panel.heatmap.setChecked(False)
    assert not w.panel.alpha.isEnabled() and not w.panel.colormap.isEnabled()
    w.panel.heatmap.setChecked(True)
    assert w.panel.alpha.isEnabled() and w.panel.colormap.isEnabled()
    w.close()
    again = open_window(cat_clip)
    assert again.panel.colormap.currentText() == "turbo"
    assert again.panel.overlay_settings().colormap == "turbo"


def test_the_class_field_says_what_it_will_show(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip)
    qtbot.waitUntil(lambda: bool(w.panel.labels), timeout=WAIT_MS)
    p = w.panel
    p.mode.setCurrentText("One class")
    assert p.class_hint.isVisibleTo(p) and "type a name" in p.class_hint.text()
    p.class_edit.setText("cat")
    assert p.chosen_class() is None and "matches" in p.class_hint.text() and "pick one" in p.class_hint.text()
    p.class_edit.setText("no such thing")
    assert p.class_hint.text().startswith("no class matches")
    p.class_edit.setText("285")
    assert p.class_hint.text() == "showing 285 Egyptian cat"
    p.mode.setCurrentText("Top-1")
    assert not p.class_hint.isVisibleTo(p)


def test_a_click_on_the_video_takes_the_keys_back_and_a_double_click_is_full_screen(qtbot, open_window,
                                                                                      fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT_MS)
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setFocus()
    qtbot.waitUntil(w.panel.class_edit.hasFocus, timeout=WAIT_MS)
    qtbot.mouseClick(w.view, Qt.MouseButton.LeftButton)
    assert w.view.hasFocus()
    qtbot.keyClick(w.view, Qt.Key.Key_Space)  # reaches the window's shortcut, not the text field
    assert w.session.paused and w.panel.class_edit.text() == ""
    qtbot.mouseDClick(w.view, Qt.MouseButton.LeftButton)
    assert not w.side.isVisible()
    qtbot.keyClick(w.view, Qt.Key.Key_Escape)
    assert w.side.isVisible()


def test_dropped_counts_the_frames_of_the_source_on_screen(qtbot, open_window, fast_models, cat_clip, tmp_path):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    w.session.replaced += 1000  # as if the last source had dropped many
    w.view.skipped += 1000
    w._update_status()
    assert int(w.dropped_label.text().split()[-1]) >= 2000
    assert open_and_wait(qtbot, w, make_cat_clip(tmp_path / "other.mp4", frames=20, size=(96, 64)))
    wait_frames(qtbot, w, 2)
    w._update_status()
    assert int(w.dropped_label.text().split()[-1]) < 100  # this source's drops only


def test_dropped_does_not_count_what_went_while_the_preview_played(qtbot, open_window, _lite0, cat_clip,
                                                                  monkeypatch):
    """The preview shows at most 12 frames a second and the source lets frames go
    while the model loads: none of it is "dropped"; the count starts with the model."""
    import threading

    import camvideo.models

    release = threading.Event()
    monkeypatch.setattr(camvideo.models, "load_model", lambda name="lite0", **kwargs: release.wait(WAIT_MS / 1000)
                        and _lite0)
    w = open_window(cat_clip, loop=True)
    qtbot.waitUntil(lambda: w.frames_shown >= 2, timeout=WAIT_MS)
    assert w.session.preview is not None
    w.session.source.policy.dropped += 500  # as a paced file under a model's load lets frames go
    w.session.replaced += 50
    w.view.skipped += 5
    w._update_status()
    assert w.dropped_label.text() == "dropped 0"
    release.set()
    qtbot.waitUntil(lambda: w.session.pipeline is not None, timeout=WAIT_MS)
    wait_frames(qtbot, w, 2)
    w._update_status()
    dropped = int(w.dropped_label.text().split()[-1])
    assert dropped < 500  # what the model let go, if any (a busy machine): not the preview's
    w.session.source.policy.dropped += 7  # the model's frames that went do count
    w._update_status()
    assert int(w.dropped_label.text().split()[-1]) >= dropped + 7


def test_a_class_that_is_not_there_gets_no_box_and_a_faint_map(qtbot, open_window, fast_models, cat_clip, photo):
    """One class "tabby" over an espresso: listed with its score, but no box and
    a faint map (the window's gate), where the cat gets its box."""
    from camvideo.runtime.localizer import FrameLocalizer

    w = open_window(cat_clip)
    qtbot.waitUntil(lambda: bool(w.panel.labels), timeout=WAIT_MS)
    p = w.panel
    p.mode.setCurrentText("One class")
    p.class_edit.setText("281")  # tabby
    settings = p.localize_settings()
    assert settings.class_ids == (281,) and settings.intensity.gate == 0.05
    localizer = FrameLocalizer(w.session.model, settings)
    espresso = localizer([photo("coffee")])[0]
    assert [d.box for d in espresso.detections] == [None] and espresso.map_opacity[0] < 1.0
    assert espresso.detections[0].score < 0.05
    cat = FrameLocalizer(w.session.model, settings)([photo("chelsea")])[0]
    assert cat.detections[0].box is not None and cat.map_opacity[0] == 1.0


def _fake_video_devices(monkeypatch, devices: list[str]) -> None:
    import glob

    real_glob = glob.glob
    monkeypatch.setattr(glob, "glob", lambda p, *a, **k: list(devices) if p == "/dev/video*" else real_glob(p, *a, **k))


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="cameras are listed on Linux only")
def test_no_camera_says_so_and_greys_the_button_until_one_appears(qtbot, open_window, fast_models, cat_clip,
                                                                  monkeypatch):
    from PyQt6.QtCore import QEvent
    from PyQt6.QtWidgets import QApplication

    _fake_video_devices(monkeypatch, [])
    w = open_window(cat_clip)
    assert [w.panel.camera.itemText(i) for i in range(w.panel.camera.count())] == ["no camera found"]
    assert not w.panel.camera_button.isEnabled() and not w.panel.camera.isEnabled()
    assert "no camera found" in w.panel.camera.toolTip()
    # a camera plugged in: the list is read again when the window is activated
    _fake_video_devices(monkeypatch, ["/dev/video2", "/dev/video0", "/dev/video-not-a-camera"])
    w.refresh_cameras()
    assert [w.panel.camera.itemText(i) for i in range(w.panel.camera.count())] == ["0", "2"]
    assert w.panel.camera_button.isEnabled() and w.panel.camera.isEnabled()
    w.panel.camera.setCurrentText("2")
    _fake_video_devices(monkeypatch, ["/dev/video2"])
    monkeypatch.setattr(type(w), "isActiveWindow", lambda self: True)
    QApplication.sendEvent(w, QEvent(QEvent.Type.ActivationChange))
    assert w.panel.camera.currentText() == "2" and w.panel.camera.count() == 1


def test_cameras_that_cannot_be_listed_are_offered_by_index(monkeypatch):
    import sys

    from camvideo.qt.dialogs import list_cameras

    monkeypatch.setattr(sys, "platform", "win32")
    assert list_cameras() == ["0", "1", "2", "3"]


def test_the_error_and_opening_bars_lie_over_the_video_without_moving_it(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    before = w.view.geometry()
    w.show_error("a long message " * 20)  # wraps onto several lines
    qtbot.waitUntil(lambda: w.banner.isVisible() and w.top_bars.height() >= w.banner.height() > 20, timeout=WAIT_MS)
    assert w.view.geometry() == before  # no layout shift
    bar = w.top_bars.geometry()
    assert bar.top() == before.top() and bar.width() == before.width()  # over the top of the video, full width
    assert w.error_label.height() > 2 * w.error_label.fontMetrics().height()  # wrapped, not cut
    w.opening_label.setText("Opening rtsp://host/stream…")  # the opening bar joins it below the banner
    w.opening_bar.show()
    qtbot.waitUntil(lambda: w.top_bars.height() >= w.banner.height() + w.opening_bar.height(), timeout=WAIT_MS)
    assert w.view.geometry() == before
    w.opening_bar.hide()
    w.banner.hide()
    qtbot.waitUntil(lambda: w.top_bars.height() == 0, timeout=WAIT_MS)  # nothing left over the video to catch clicks
    assert w.view.geometry() == before


def test_the_recording_counter_stops_when_the_file_ends(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "short.mp4", frames=30, size=(96, 64)))  # 1 s
    wait_frames(qtbot, w, 1)
    w.toggle_recording(True)
    qtbot.waitUntil(lambda: w.session.pipeline.finished, timeout=WAIT_MS)
    settle(qtbot, w)
    w.record.tick()
    ended = w.panel.record_label.text()
    qtbot.wait(1200)
    w.record.tick()
    assert w.panel.record_label.text() == ended  # the file's length, not the wall clock running on
    assert ended.endswith("0:00") or ended.endswith("0:01")
    w.toggle_recording(False)


def test_right_near_the_end_of_a_looping_clip_wraps_round(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "loop.mp4", frames=90, size=(96, 64)), loop=True)  # 3 s
    qtbot.waitUntil(lambda: w.session.last_shown is not None and w.session.last_shown.time % 3.0 >= 2.0,
                    timeout=WAIT_MS)
    w.playback.arrow(forward=True)  # 5 s on from ~2 s: ~1 s into the next round, not the end
    qtbot.waitUntil(lambda: w.session.last_shown.time % 3.0 < 1.9, timeout=WAIT_MS)
    assert not w.session.player.finished  # the pipeline's, or the preview's while the model loads
    w.toggle_pause()
    settle(qtbot, w)
    shown = w.session.last_shown
    assert w.panel.image_label.text() == f"frame {shown.index % 90}" and w.panel.image_label.isVisible()


def test_a_file_s_pipeline_queues_one_forwarded_frame_for_its_writer(qtbot, open_window, fast_models, cat_clip):
    """A person watches: frames queued behind a slow model are latency, and they still
    come after a Pause (the core's default queue of 4 doubled the latency)."""
    from camvideo.qt.session import VIEW_QUEUE_SIZE

    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    assert VIEW_QUEUE_SIZE == 1 and w.session.pipeline._out.maxsize == 1


def test_record_waits_greyed_while_the_old_source_still_stops(qtbot, open_window, fast_models, cat_clip, tmp_path):
    import threading

    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_recording(True)
    wait_frames(qtbot, w, 2)
    gate, real_stop = threading.Event(), w.session.pipeline.stop
    w.session.pipeline.stop = lambda: (gate.wait(60), real_stop())  # the old pipeline takes its time to stop
    other = make_cat_clip(tmp_path / "other.mp4", size=(96, 64))
    w.open(str(other), loop=True)
    qtbot.waitUntil(lambda: w.session.pipeline is None and w.session.opening_spec is not None, timeout=WAIT_MS)
    assert w.panel.record_button.text() == "Record" and not w.panel.record_button.isChecked()  # it stopped
    wait_saved(qtbot, w)  # the recording is final before the old pipeline has stopped
    w.record.update_enabled()
    assert not w.panel.record_button.isEnabled()
    assert w.panel.record_button.toolTip() == "Record: once other.mp4 plays"
    w.toggle_recording(True)  # the R key: a wait, not an error
    assert not w.banner.isVisible() and "once other.mp4 plays" in w.statusBar().currentMessage()
    assert not w.panel.record_button.isChecked()
    gate.set()
    wait_frames(qtbot, w, 1)
    w.record.update_enabled()
    assert w.panel.record_button.isEnabled() and "(R)" in w.panel.record_button.toolTip()


def test_the_end_of_the_seek_bar_and_a_step_past_the_end_show_the_last_frame(qtbot, open_window, fast_models,
                                                                              tmp_path):
    """A seek shows the first frame at or after its time: at the file's end (the seek
    bar's right end, → near the end) there was none, and the file ended on the frame
    shown before (frame 292 of 300 on the demo clip)."""
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", frames=45))
    wait_frames(qtbot, w, 2)
    w.toggle_pause()
    w.seek_to(1.0)  # the seek bar's (and the timeline's) right end
    qtbot.waitUntil(lambda: w.session.last_shown.index == 44, timeout=WAIT_MS)
    w.seek_to(0.0)
    qtbot.waitUntil(lambda: w.session.last_shown.index == 0, timeout=WAIT_MS)
    w.playback.seek_by(5.0)  # → while paused steps: → as while playing, 5 s on, past the end
    qtbot.waitUntil(lambda: w.session.last_shown.index == 44, timeout=WAIT_MS)


def test_a_step_after_the_end_shows_the_first_frame_and_says_so(qtbot, open_window, fast_models, tmp_path):
    """→ after a file played once has ended shows its first frame, paused, and the status
    bar says so (its "end of the file" stayed over the first frame for seconds)."""
    w = open_window(make_cat_clip(tmp_path / "cat.mp4", frames=45))
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "end of the file" in w.statusBar().currentMessage(), timeout=WAIT_MS)
    w.playback.step()
    qtbot.waitUntil(lambda: w.session.last_shown.index == 0, timeout=WAIT_MS)
    assert w.session.paused and w.statusBar().currentMessage() == "from the start of the file"


def test_a_clip_whose_last_frame_lies_past_its_header_s_length_ends_at_its_end_and_steps_back_from_there(
        qtbot, open_window, fast_models, tmp_path):
    """A clip cut without re-encoding shows its last frame after the length its header
    gives: the clock, the seek bar and the timeline's line wrapped to 0:00 there, as
    for a looping file, and ◀ Step went to the start of the file."""
    w = open_window(make_clip_cut_by_dts(tmp_path / "cut.mp4"))
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    settle(qtbot, w)
    last, duration = w.session.last_shown, w.session.duration_hint
    assert last.time >= duration and not w.session.looping  # the clip is what it should be
    assert w.panel.seek.value() == w.panel.seek.STEPS and w.timeline.strip.position == pytest.approx(duration)
    assert w.panel.time_label.text() == "0:01 / 0:01"  # 1.47 s: the end (it said 0:00)
    w.session.step_back()
    qtbot.waitUntil(lambda: w.session.last_shown.index != last.index, timeout=WAIT_MS)
    assert w.session.last_shown.index >= last.index - 3
