"""A folder of photos is a slideshow, and the arrow keys step (paused) or seek
(playing) wherever the focus is, except in a text field."""

from __future__ import annotations

import cv2
import pytest
from PyQt6.QtCore import Qt
from qt_helpers import DATA, WAIT_MS, make_cat_clip, settle, wait_frames


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(("chelsea", "coffee", "astronaut")):
        cv2.imwrite(str(folder / f"{i}-{name}.png"), cv2.resize(cv2.imread(str(DATA / f"{name}.png")), (80, 60)))
    return folder


def test_a_folder_opens_paused_on_the_first_image_and_plays_at_the_time_set(qtbot, open_window, fast_models,
                                                                           photos):
    w = open_window(photos)
    w.panel.slide_seconds.setValue(0.5)
    qtbot.waitUntil(lambda: w.session.last_shown is not None, timeout=WAIT_MS)  # the preview's, as it is
    qtbot.waitUntil(lambda: w.session.pipeline is not None, timeout=WAIT_MS)  # then the model's
    settle(qtbot, w)
    p = w.panel
    assert w.view.current.index == 0 and w.session.paused  # no flash through the three
    assert p.time_label.text() == "image 1 of 3" and p.image_label.text() == "0-chelsea.png"
    assert p.slide_row.isVisibleTo(p) and (p.back_button.text(), p.step_button.text()) == ("◀ Back", "Next ▶") and p.play_button.text() == "Play"
    w._update_status()
    assert w.fps_label.text() == "paused"
    shown = []
    w.session.frame_shown.connect(lambda f: shown.append(f.index))
    qtbot.mouseClick(p.play_button, Qt.MouseButton.LeftButton)  # the slideshow: 0.5 s each
    w._update_status()
    assert w.fps_label.text() == "slideshow 0.5 s" and p.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: 2 in shown, timeout=WAIT_MS)
    assert shown[:2] == [1, 2]
    assert p.time_label.text() == "image 3 of 3" and p.image_label.text() == "2-astronaut.png"
    qtbot.wait(900)  # it stops on the last image, which stays
    assert not w.playback.slides_playing and w.view.current.index == 2
    assert w.statusBar().currentMessage() == "end of the images"
    assert not w.session.pipeline.finished  # Next, Prev and the seek bar still work
    qtbot.mouseClick(p.back_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.view.current.index == 1, timeout=WAIT_MS)
    assert p.time_label.text() == "image 2 of 3"
    w.playback.seek_to(0.0)
    qtbot.waitUntil(lambda: w.view.current.index == 0, timeout=WAIT_MS)
    assert p.seek.value() == 0
    w.toggle_pause()  # Play after the end starts from the first image again
    qtbot.waitUntil(lambda: w.view.current.index == 1, timeout=WAIT_MS)
    w.toggle_pause()
    assert not w.playback.slides_playing


def test_arrow_keys_go_to_the_next_and_previous_image_wherever_the_focus_is(qtbot, open_window, fast_models,
                                                                            photos):
    w = open_window(photos)
    qtbot.waitUntil(lambda: w.session.last_shown is not None, timeout=WAIT_MS)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT_MS)
    w.panel.seek.setFocus()
    qtbot.keyClick(w.panel.seek, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: w.view.current.index == 1, timeout=WAIT_MS)
    qtbot.keyClick(w.panel.mode, Qt.Key.Key_Right)  # a list box has the focus: still the next image
    qtbot.waitUntil(lambda: w.view.current.index == 2, timeout=WAIT_MS)
    assert w.panel.mode.currentText() == "Top-1"  # ...and the list did not change
    qtbot.keyClick(w.panel.seek, Qt.Key.Key_Right)  # the last: it stays, and says so
    assert w.statusBar().currentMessage() == "the last image (3 of 3)"
    qtbot.keyClick(w.view, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: w.view.current.index == 1, timeout=WAIT_MS)
    qtbot.keyClick(w.view, Qt.Key.Key_Left)
    qtbot.waitUntil(lambda: w.view.current.index == 0, timeout=WAIT_MS)
    qtbot.keyClick(w.view, Qt.Key.Key_Left)  # the first: it stays, and says so too
    assert w.statusBar().currentMessage() == "the first image (1 of 3)"


def test_an_unreadable_image_is_named_and_stepped_over_both_ways(qtbot, open_window, fast_models, photos):
    (photos / "1-coffee.png").write_bytes(b"not a png")  # the second of three
    w = open_window(photos)
    qtbot.waitUntil(lambda: w.session.last_shown is not None, timeout=WAIT_MS)
    w.playback.step()
    qtbot.waitUntil(lambda: w.view.current.index == 2, timeout=WAIT_MS)  # past it
    qtbot.waitUntil(lambda: w.banner.isVisible(), timeout=WAIT_MS)
    assert w.error_label.text() == "photos: 1-coffee.png (image 2) could not be decoded"
    w.playback.step_back()  # ◀ from the image after it: to the first, not onto it again
    qtbot.waitUntil(lambda: w.view.current.index == 0, timeout=WAIT_MS)
    assert w.panel.time_label.text() == "image 1 of 3"


def test_arrow_keys_step_one_frame_paused_and_seek_while_playing_but_not_in_a_text_field(
        qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "long.mp4", frames=240, size=(96, 64)))  # 8 s
    wait_frames(qtbot, w, 3)
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow, timeout=WAIT_MS)
    w.toggle_pause()
    settle(qtbot, w)
    index, value = w.view.current.index, w.panel.seek.value()
    w.panel.seek.setFocus()  # the seek bar used to move 0.1 s on an arrow
    qtbot.keyClick(w.panel.seek, Qt.Key.Key_Right)  # Step: the next frame the paced file has
    qtbot.waitUntil(lambda: w.view.current.index > index, timeout=WAIT_MS)
    settle(qtbot, w)
    index = w.view.current.index
    # not moved by the key itself: one frame on (1/30 s of 8 s is 4 of the bar's 1000 steps), not 0.1 s more
    assert w.session.paused and w.panel.seek.value() - value <= 8
    qtbot.keyClick(w.panel.seek, Qt.Key.Key_Left)  # back exactly one frame
    qtbot.waitUntil(lambda: w.view.current.index == index - 1, timeout=WAIT_MS)
    settle(qtbot, w)
    index -= 1
    assert w.session.paused and w.view.current.index == index
    w.panel.mode.setCurrentText("One class")
    w.panel.class_edit.setText("cat")
    w.panel.class_edit.setFocus()
    qtbot.waitUntil(w.panel.class_edit.hasFocus, timeout=WAIT_MS)
    w.panel.class_edit.setCursorPosition(3)
    qtbot.keyClick(w.panel.class_edit, Qt.Key.Key_Left)  # typing: the cursor moves, the video does not
    assert w.panel.class_edit.cursorPosition() == 2
    qtbot.wait(300)
    assert w.view.current.index == index
    w.panel.mode.setCurrentText("Top-1")
    w.view.setFocus()
    w.toggle_pause()  # playing: → seeks 5 s on
    wait_frames(qtbot, w, 2)
    before = w.view.current.time
    qtbot.keyClick(w.view, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: w.view.current.time >= before + 4.5, timeout=WAIT_MS)


def test_step_after_the_end_shows_the_first_frame(qtbot, open_window, fast_models, tmp_path):
    w = open_window(make_cat_clip(tmp_path / "short.mp4", frames=15, size=(96, 64)))
    qtbot.waitUntil(lambda: w.session.pipeline is not None and w.session.pipeline.finished, timeout=WAIT_MS)
    settle(qtbot, w)
    assert w.view.current.index > 10
    w.step()
    qtbot.waitUntil(lambda: w.view.current.index == 0, timeout=WAIT_MS)
    assert w.session.paused
    w.step()
    qtbot.waitUntil(lambda: w.view.current.index == 1, timeout=WAIT_MS)
