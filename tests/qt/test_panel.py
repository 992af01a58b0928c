"""The side panel alone (no window): one widget per group box, and the Gate box
(issue 23: the window's confidence gate shown and adjustable; the settings it makes
are the command line's ``--gate`` ones, so Save as JSONL follows it)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import pytest
from PyQt6.QtCore import QSettings
from qt_helpers import DATA, WAIT_MS, settle

from camvideo import cli
from camvideo.qt.boxes import MODES, LocalizeBox
from camvideo.qt.panel import ControlPanel
from camvideo.settings import GATE


@pytest.fixture
def panel(qtbot):
    p = ControlPanel(["lite0"], [])
    qtbot.addWidget(p)
    return p


def cli_settings(*options: str):
    args = cli.build_parser().parse_args(["process", "clip.mp4", *options])
    expected = cli.localize_settings_from_args(args)
    return replace(expected, intensity=replace(expected.intensity, faint=0.0))


def test_each_group_box_is_one_widget_and_its_widgets_are_the_panels(panel):
    titles = [box.title() for box in panel.groups]
    assert titles == ["Source", "Playback", "Model", "Localize", "Overlay", "Record"]
    localize = panel.groups[3]
    assert isinstance(localize, LocalizeBox) and all(getattr(panel, n) is getattr(localize, n) for n in localize.NAMES)


def test_the_gate_shows_the_windows_5_percent_and_moves_the_settings_as_gate_does(panel, qtbot):
    assert panel.gate.value() == round(GATE * 100) == 5
    assert panel.localize_settings() == cli_settings("--gate", "0.05")
    with qtbot.waitSignal(panel.localize_changed):
        panel.gate.setValue(0)
    assert panel.localize_settings() == cli_settings()  # the command line's default: every box kept
    panel.gate.setValue(20)
    assert panel.localize_settings() == cli_settings("--gate", "0.2")


def test_the_gate_is_remembered(panel, tmp_path):
    settings = QSettings(str(tmp_path / "app.ini"), QSettings.Format.IniFormat)
    panel.gate.setValue(12)
    panel.save(settings)
    again = ControlPanel(["lite0"], [])
    again.restore(settings)
    assert again.gate.value() == 12 and again.localize_settings().intensity.gate == pytest.approx(0.12)
    again.deleteLater()


def every_box_shows(w) -> bool:
    """No scrolling, and each group box lies whole inside the panel's viewport."""
    viewport = w.side.viewport()
    return w.side.verticalScrollBar().maximum() == 0 and all(
        box.isVisible() and viewport.rect().contains(box.geometry().translated(w.panel.pos()))
        for box in w.panel.groups)


def test_at_the_first_size_every_box_shows_without_scrolling_in_each_mode(qtbot, open_window, fast_models,
                                                                         cat_clip, tmp_path):
    """At 1280x800 (the window's first size) Source to Record all show, for a file and a
    folder (its slideshow row), in Top-1, Top-k and One class (its hint)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "chelsea.png"), cv2.imread(str(DATA / "chelsea.png")))
    for source in (cat_clip, folder):
        w = open_window(source)
        w.resize(1280, 800)  # the first size (MainWindow: no size remembered)
        qtbot.waitUntil(lambda w=w: (w.width(), w.height()) == (1280, 800), timeout=WAIT_MS)
        qtbot.waitUntil(lambda w=w: w.session.last_shown is not None, timeout=WAIT_MS)
        settle(qtbot, w)
        for mode in MODES:
            w.panel.mode.setCurrentText(mode)
            if mode == "One class":
                w.panel.class_edit.setText("cat")  # "matches N classes: pick one …" (a long hint)
            qtbot.waitUntil(lambda w=w: every_box_shows(w), timeout=WAIT_MS)
            p = w.panel
            assert p.topk.isVisibleTo(p) == (mode == "Top-k")  # only the rows the mode uses
            assert p.class_edit.isVisibleTo(p) == p.class_hint.isVisibleTo(p) == (mode == "One class")
        assert w.panel.image_label.isVisibleTo(w.panel)  # the frame number / the image's name
        w.close()


GARBAGE = {"topk": "many", "threshold": "abc", "gate": "-7", "alpha": "lots", "slide_seconds": "soon",
           "mode": "Everything", "colormap": "plaid", "quality": "ultra", "runtime": "quantum", "boxes": "maybe",
           "class": "a,b"}  # Qt reads a bare comma as a list


def garbage_file(path, values: dict) -> QSettings:
    path.write_text("[General]\n" + "".join(f"{k}={v}\n" for k, v in values.items()))
    return QSettings(str(path), QSettings.Format.IniFormat)


def test_a_settings_file_edited_into_garbage_restores_the_defaults_and_names_each_bad_value(panel, tmp_path):
    """Each value not of its kind is left out (before, the first one raised TypeError
    out of restore and the window never opened); the good ones still apply."""
    defaults = (panel.localize_settings(), panel.overlay_settings(), panel.slide_seconds.value(),
                panel.runtime.currentText())
    bad = panel.restore(garbage_file(tmp_path / "bad.ini", GARBAGE))
    assert sorted(bad) == sorted(GARBAGE)
    assert (panel.localize_settings(), panel.overlay_settings(), panel.slide_seconds.value(),
            panel.runtime.currentText()) == defaults
    good = panel.restore(garbage_file(tmp_path / "good.ini", {**GARBAGE, "topk": "4", "mode": "Top-k",
                                                               "boxes": "false", "alpha": "30"}))
    assert "topk" not in good and (panel.topk.value(), panel.mode.currentText()) == (4, "Top-k")
    assert not panel.boxes.isChecked() and panel.alpha.value() == 30


def test_the_window_opens_on_a_garbage_settings_file_and_says_which_values_it_left_out(
        qtbot, open_window, fast_models, cat_clip, settings_in_tmp):
    from camvideo.qt import app_settings

    s = app_settings()
    for key, value in {"threshold": "abc", "geometry": "x", "output_dir": "a,b"}.items():
        s.setValue(key, value)
    s.sync()
    (settings_in_tmp / "camvideo" / "camvideo.ini").write_text(  # the comma bare, as a hand edit leaves it
        (settings_in_tmp / "camvideo" / "camvideo.ini").read_text().replace('"a,b"', "a,b"))
    w = open_window(cat_clip)
    qtbot.waitUntil(lambda: w.banner.isVisible() and "not understood" in w.error_label.text(), timeout=WAIT_MS)
    assert all(key in w.error_label.text() for key in ("threshold", "geometry", "output_dir"))
    assert w.panel.threshold.value() == 20 and w.output_dir.name == "camvideo"


def test_a_settings_file_that_cannot_be_written_is_said_once_at_start(qtbot, tmp_path):
    """Its folder under a file (as an unwritable home leaves it): the choices made were
    lost at close without a word."""
    from camvideo.qt.saved import SavedSettings

    (tmp_path / "a-file").write_text("")
    saved = SavedSettings(QSettings(str(tmp_path / "a-file" / "camvideo.ini"), QSettings.Format.IniFormat))
    assert saved.message().endswith("cannot be written: your choices will not be kept after this run")
    assert SavedSettings(QSettings(str(tmp_path / "camvideo.ini"), QSettings.Format.IniFormat)).message() == ""
