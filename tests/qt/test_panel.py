"""The side panel alone (no window): one widget per group box, and the Gate box
(issue 23: the window's confidence gate shown and adjustable; the settings it makes
are the command line's ``--gate`` ones, so Save as JSONL follows it)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PyQt6.QtCore import QSettings

from camvideo import cli
from camvideo.qt.boxes import LocalizeBox
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
