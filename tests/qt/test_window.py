"""The main window, offscreen, on real clips and the embedded model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PyQt6.QtCore import QMimeData, QPointF, Qt, QUrl
from PyQt6.QtGui import QDropEvent
from qt_helpers import (
    CAT_CLASSES,
    WAIT_MS,
    count_frames,
    make_cat_clip,
    open_and_wait,
    settle,
    stop_recording,
    wait_frames,
    wait_saved,
)

from camvideo.annotate import FrameAnnotator


def test_opens_at_once_on_the_demo_clip_and_shows_annotated_frames(qtbot, open_window):
    t0 = time.monotonic()
    w = open_window()  # no source, no camera here: the demo clip, looping; the real model load
    assert w.isVisible() and time.monotonic() - t0 < 2.0
    assert w.view.message.startswith("Loading model")
    shown = []
    w.session.frame_shown.connect(shown.append)
    qtbot.waitUntil(lambda: w.view.painted >= 3, timeout=WAIT_MS)  # at once: the video plays while the model loads
    assert Path(w.session.source.name).name == "demo.mp4"
    assert shown[0].image.width() == 640 and shown[0].image.height() == 360
    def on_cat():  # the clip opens on the cat: the frames there with the model
        return [f.result.detections[0] for f in shown if f.time % 10 < 4.4 and f.result.detections]

    qtbot.waitUntil(lambda: len(on_cat()) >= 3, timeout=2 * WAIT_MS)  # ...and then with the model
    on_cat = on_cat()
    assert on_cat and all(d.class_id in CAT_CLASSES and d.box is not None for d in on_cat)
    assert w.view.message == "" and not w.errors
    assert "ready" in w.panel.model_state.text()
    assert w.device_label.text() == "cpu"


def test_record_button_gives_a_playable_file_with_the_frames_shown(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4"), loop=True)
    wait_frames(qtbot, w, 3)
    qtbot.mouseClick(w.panel.record_button, Qt.MouseButton.LeftButton)
    assert w.session.recording and w.panel.record_button.isChecked()
    qtbot.waitUntil(lambda: w.frames_shown_recording >= 12, timeout=WAIT_MS)
    qtbot.mouseClick(w.panel.record_button, Qt.MouseButton.LeftButton)
    assert not w.session.recording and not w.panel.record_button.isChecked()
    assert w.panel.record_label.text().startswith("saving ")  # finalized in the background
    wait_saved(qtbot, w)
    files = list((tmp_path / "out").glob("camvideo-*.mkv"))
    assert len(files) == 1 and "partial" not in files[0].name
    shown = w.frames_shown_recording
    assert count_frames(files[0]) == shown == w.session.sink.recorded


def test_closing_while_recording_leaves_a_playable_file(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "cat.mp4"), loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_recording(True)
    qtbot.waitUntil(lambda: w.frames_shown_recording >= 8, timeout=WAIT_MS)
    w.close()
    files = list((tmp_path / "out").glob("camvideo-*.mkv"))
    assert len(files) == 1 and "partial" not in files[0].name
    assert count_frames(files[0]) == w.frames_shown_recording == w.session.sink.recorded


def test_switching_source_and_model_while_running(qtbot, open_window, fast_models, tmp_path):
    a = make_cat_clip(tmp_path / "a.mp4", size=(160, 96))
    b = make_cat_clip(tmp_path / "b.mp4", size=(128, 128))
    w = open_window(a, loop=True)
    wait_frames(qtbot, w, 3)
    w.toggle_recording(True)
    wait_frames(qtbot, w, 2)
    assert open_and_wait(qtbot, w, b, loop=True)  # a recording running is finalized on a switch
    assert not w.session.recording
    files = list((tmp_path / "out").glob("*.mkv"))
    assert len(files) == 1 and count_frames(files[0]) == w.frames_shown_recording
    wait_frames(qtbot, w, 3)
    assert w.session.last_shown.image.width() == 128
    w.panel.model.showPopup()  # the whole list is made when the box opens
    qtbot.waitUntil(lambda: w.panel.model.findText("resnet18") >= 0, timeout=WAIT_MS)
    w.panel.model.hidePopup()
    w.panel.model.setCurrentText("resnet18")  # starts a background load...
    assert "loading resnet18" in w.panel.model_state.text()
    w.panel.model.setCurrentText("lite0")  # ...that a newer request supersedes
    qtbot.waitUntil(lambda: "lite0 ready" in w.panel.model_state.text(), timeout=WAIT_MS)
    wait_frames(qtbot, w, 3)
    w.session.load_model("no-such-model")  # a model that cannot load: a message, frames go on
    qtbot.waitUntil(lambda: any("no-such-model" in e for e in w.errors), timeout=WAIT_MS)
    wait_frames(qtbot, w, 3)
    assert w.banner.isVisible()
    assert open_and_wait(qtbot, w, a, loop=True)
    wait_frames(qtbot, w, 2)


class ExplodingAnnotator(FrameAnnotator):
    def annotate(self, frame, result, hud=""):
        raise RuntimeError("boom in the overlay")


def test_an_exception_in_the_worker_appears_in_the_window(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    w.session.pipeline.annotators = (ExplodingAnnotator(),)
    qtbot.waitUntil(lambda: "boom in the overlay" in w.error_label.text(), timeout=WAIT_MS)
    assert w.banner.isVisible() and "RuntimeError" in w.error_label.text()
    assert open_and_wait(qtbot, w, cat_clip)  # the app keeps running: open again, frames come
    wait_frames(qtbot, w, 2)


def test_a_file_that_cannot_be_decoded_is_a_message(qtbot, open_window, fast_models, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    w = open_window(bad)
    qtbot.waitUntil(lambda: bool(w.errors), timeout=WAIT_MS)
    assert "broken.mp4" in w.errors[0] and w.banner.isVisible()
    assert w.session.source is None


def test_shortcuts_pause_snapshot_record_full_screen(qtbot, open_window, fast_models, cat_clip, tmp_path):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.session.paused and w.panel.play_button.text() == "Play"
    settle(qtbot, w)  # the frames that were on their way arrive (how many depends on the load)
    shown = w.frames_shown
    qtbot.wait(600)
    assert w.frames_shown == shown  # and then none: paused
    index = w.session.last_shown.index
    w.panel.step_button.click()
    qtbot.waitUntil(lambda: w.session.last_shown.index > index, timeout=WAIT_MS)
    qtbot.keyClick(w, Qt.Key.Key_S)
    pngs = list((tmp_path / "out").glob("*.png"))
    assert len(pngs) == 1
    record = json.loads(pngs[0].with_suffix(".json").read_text())
    assert set(record) == {"frame", "time", "width", "height", "detections", "source", "model"}
    assert record["source"] == "cat.mp4" or record["source"].endswith("cat.mp4")
    frames = w.session.source.info.frame_count  # a looping clip: the frame of the file (a slow start loops)
    assert record["frame"] == w.session.last_shown.index % frames and record["width"] == 192
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert not w.session.paused
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert w.session.recording
    qtbot.keyClick(w, Qt.Key.Key_R)
    assert not w.session.recording
    assert w.timeline.area.isVisible()
    qtbot.keyClick(w, Qt.Key.Key_F)
    assert not w.side.isVisible() and not w.timeline.widget.isVisible()  # full screen: the video only
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert w.side.isVisible() and w.timeline.area.isVisible()


def test_settings_are_remembered_between_runs(qtbot, open_window, fast_models, cat_clip, settings_in_tmp):
    w = open_window(cat_clip)
    w.panel.alpha.setValue(70)
    w.panel.mode.setCurrentText("Top-k")
    w.panel.topk.setValue(2)
    w.panel.boxes.setChecked(False)
    # (changed while the core may still be loading: they reach the session once it is in)
    qtbot.waitUntil(lambda: w.session.core_loaded, timeout=WAIT_MS)
    assert w.session.localize_settings.topk == 2
    assert w.session.annotator.settings.alpha == pytest.approx(0.7)
    w.close()
    assert list(settings_in_tmp.rglob("*.ini"))
    again = open_window(cat_clip)
    assert again.panel.alpha.value() == 70 and again.panel.topk.value() == 2
    assert again.panel.mode.currentText() == "Top-k" and not again.panel.boxes.isChecked()
    wait_frames(qtbot, again, 2)
    assert len(again.session.last_shown.result.map_class_ids) == 2


def test_one_class_from_the_searchable_list(qtbot, open_window, fast_models, cat_clip):
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    assert w.panel.chosen_class() is None
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setText("espresso")
    w.panel.class_edit.editingFinished.emit()
    assert w.session.localize_settings.class_ids == (967,)
    qtbot.waitUntil(lambda: w.session.last_shown.result.map_class_ids == (967,), timeout=WAIT_MS)
    completer = w.panel.class_edit.completer()
    completer.setCompletionPrefix("egyptian")
    assert completer.currentCompletion() == "285 Egyptian cat"


def test_a_dropped_video_file_opens(qtbot, open_window, fast_models, cat_clip, tmp_path):
    w = open_window(cat_clip)
    wait_frames(qtbot, w, 1)
    other = make_cat_clip(tmp_path / "dropped.mp4", frames=20, size=(96, 64))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(w.opened, timeout=WAIT_MS):
        w.dropEvent(event)
    assert w.session.source.name == str(other)
    qtbot.waitUntil(lambda: w.session.last_shown.image.width() == 96, timeout=WAIT_MS)
    assert w.settings.value("last_dir") == str(tmp_path)


def test_a_recording_that_fails_is_kept_and_the_view_goes_on(qtbot, open_window, fast_models, cat_clip, tmp_path):
    from camvideo.errors import OutputError

    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    w.toggle_recording(True)
    qtbot.waitUntil(lambda: w.frames_shown_recording >= 5, timeout=WAIT_MS)
    recorder = w.session.sink.recorder

    def full_disk(image, time_s):  # the disk fills up after a few frames
        raise OutputError(f"cannot write {recorder.partial}: No space left on device")

    recorder.write_image = full_disk
    qtbot.waitUntil(lambda: "recording stopped" in w.error_label.text(), timeout=WAIT_MS)
    assert "No space left" in w.error_label.text() and not w.panel.record_button.isChecked()
    assert not w.session.recording
    wait_frames(qtbot, w, 3)  # the view goes on
    files = list((tmp_path / "out").glob("camvideo-*.mkv"))
    assert len(files) == 1 and count_frames(files[0]) == recorder.frames_written >= 5


def test_a_recording_across_a_seek_keeps_its_pace(qtbot, open_window, fast_models, tmp_path):
    """Seeking back while recording: the recording goes on, frame after frame, with
    no burst of frames 1 ms apart and no frozen stretch."""
    import av

    w = open_window(make_cat_clip(tmp_path / "cat.mp4"), loop=True)
    wait_frames(qtbot, w, 3)
    w.toggle_recording(True)
    qtbot.waitUntil(lambda: w.frames_shown_recording >= 10, timeout=WAIT_MS)
    w.session.seek(0.0)
    shown = w.frames_shown_recording
    qtbot.waitUntil(lambda: w.frames_shown_recording >= shown + 10, timeout=WAIT_MS)
    stop_recording(qtbot, w)
    (path,) = (tmp_path / "out").glob("camvideo-*.mkv")
    with av.open(str(path)) as container:
        times = [float(f.pts * f.time_base) for f in container.decode(video=0)]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert len(times) == w.frames_shown_recording
    assert min(gaps) >= 0.010 and max(gaps) <= 1.0, gaps


def test_a_folder_that_cannot_be_written_says_so_and_what_to_do_for_record_and_snapshot(
        qtbot, open_window, fast_models, cat_clip, tmp_path):
    """The output folder under a file (as an unwritable home leaves it): each message
    names the folder and the way out (before: only the OS's reason)."""
    from camvideo.qt import app_settings

    (tmp_path / "a-file").write_text("")
    s = app_settings()
    s.setValue("output_dir", str(tmp_path / "a-file" / "camvideo"))
    s.sync()
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 2)
    for key in (Qt.Key.Key_S, Qt.Key.Key_R):
        w.banner.hide()
        qtbot.keyClick(w, key)
        assert w.banner.isVisible() and not w.session.recording
        text = w.error_label.text()
        assert "a-file" in text and "Not a directory" in text and text.endswith("Folder… (Record box) picks another folder")


def test_several_dropped_files_open_the_first_and_say_so(qtbot, open_window, fast_models, cat_clip, tmp_path):
    """Before, the others were left out without a word (a user dropping photos expected them all)."""
    w = open_window(cat_clip, loop=True)
    wait_frames(qtbot, w, 1)
    first = make_cat_clip(tmp_path / "first.mp4", frames=20, size=(96, 64))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in (first, cat_clip, tmp_path / "third.png")])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)
    qtbot.waitUntil(lambda: w.session.source is not None and w.session.source.name == str(first), timeout=WAIT_MS)
    assert w.statusBar().currentMessage() == "3 files dropped: first.mp4 opened (drop a folder for a slideshow)"
