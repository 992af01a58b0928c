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
